// Summarises a V8 .cpuprofile (from `node --cpu-prof`) into the few lines a person fixing a hot path
// needs: the functions with the most self time, the time by area (Node internals, each skillgate
// package, each dependency, GC), and the inclusive time of skillgate's own functions. Frames in a
// bundled file (packages/cli/bundle/, with its source maps beside it) are named by their original
// source file and line, so the summary reads the same as for the unbundled workspace.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const sourceMaps = new Map();
function sourceMapOf(path) {
  if (!sourceMaps.has(path)) {
    let map;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
    } catch {
      map = undefined; // no map beside it: not a bundled file
    }
    sourceMaps.set(path, map);
  }
  return sourceMaps.get(path);
}

/** The call frame as written in the original source, when its file is a bundle with a source map. */
function originalFrame(cf) {
  if (!cf.url?.startsWith('file:') || !cf.url.endsWith('.mjs')) return cf;
  const path = fileURLToPath(cf.url);
  const entry = sourceMapOf(path)?.findEntry(cf.lineNumber, cf.columnNumber);
  if (!entry?.originalSource) return cf;
  return { ...cf, url: pathToFileURL(resolve(dirname(path), entry.originalSource)).href, lineNumber: entry.originalLine };
}

function place(url, root) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  let path = url;
  try {
    if (url.startsWith('file:')) path = fileURLToPath(url);
  } catch {
    return url;
  }
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  return relative(root, path);
}

function area(url) {
  if (!url) return 'V8/native';
  if (url.startsWith('node:')) return 'Node.js internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1].startsWith('@skillgate/') ? nm[1] : `dependency ${nm[1]}`;
  const pkg = /packages\/([^/]+)\//.exec(url);
  if (pkg) return `@skillgate/${pkg[1]}`;
  if (url.includes('bench/')) return 'bench launcher';
  return url;
}

/** { totalMs, top: [{ fn, where, selfMs, selfPct }], areas: [...], ownInclusive: [...] } */
export function summariseProfile(profile, root) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const areas = new Map();
  const inclusive = new Map();
  let total = 0;
  let idle = 0;
  const frames = new Map();
  const key = (n) => {
    let cf = frames.get(n.id);
    if (!cf) frames.set(n.id, (cf = originalFrame(n.callFrame)));
    const where = place(cf.url, root);
    return { k: `${cf.functionName || '(anonymous)'}\u0000${where}:${cf.lineNumber + 1}`, fn: cf.functionName || '(anonymous)', where: where ? `${where}:${cf.lineNumber + 1}` : '', url: where };
  };
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000; // ms until the next sample
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    total += dt;
    const k = key(node);
    if (k.fn === '(idle)') {
      idle += dt;
      continue;
    }
    const s = self.get(k.k) ?? { fn: k.fn, where: k.where, ms: 0 };
    s.ms += dt;
    self.set(k.k, s);
    const a = ['(garbage collector)', '(program)'].includes(k.fn) ? k.fn : area(k.url);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const nk = key(byId.get(id));
      if (seen.has(nk.k) || !/^packages\//.test(nk.url)) continue;
      seen.add(nk.k);
      const e = inclusive.get(nk.k) ?? { fn: nk.fn, where: nk.where, ms: 0 };
      e.ms += dt;
      inclusive.set(nk.k, e);
    }
  }
  const busy = total - idle;
  const pct = (ms) => (busy > 0 ? (100 * ms) / busy : 0);
  const round = (x) => Math.round(x * 10) / 10;
  return {
    totalMs: round(total),
    busyMs: round(busy),
    top: [...self.values()].sort((a, b) => b.ms - a.ms).slice(0, 20).map((s) => ({ fn: s.fn, where: s.where, selfMs: round(s.ms), selfPct: round(pct(s.ms)) })),
    areas: [...areas].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([name, ms]) => ({ area: name, ms: round(ms), pct: round(pct(ms)) })),
    ownInclusive: [...inclusive.values()].sort((a, b) => b.ms - a.ms).slice(0, 15).map((s) => ({ fn: s.fn, where: s.where, inclusiveMs: round(s.ms), inclusivePct: round(pct(s.ms)) })),
  };
}

export function profileMarkdown(p) {
  const b = p.baseline;
  const lines = [];
  lines.push(`### CPU profile of the ${p.subject ?? 'sidecar'} (\`node --cpu-prof\`, ${p.load})`);
  lines.push('');
  if (b) {
    lines.push(`CPU per request: ${p.subject ?? 'sidecar'} **${p.cpuUsPerRequest} µs** (${p.busyMs} ms busy over ${p.requests} requests), bare Node.js proxy **${b.cpuUsPerRequest} µs** (${b.busyMs} ms over ${b.requests}), both profiled under the same load. Percentages below are of each process's busy (non-idle) time.`);
    lines.push('');
  }
  lines.push('Top self time in the sidecar:');
  lines.push('');
  lines.push('| function | where | self ms | self % |');
  lines.push('|---|---|---:|---:|');
  for (const t of p.top) lines.push(`| \`${t.fn}\` | ${t.where || '—'} | ${t.selfMs} | ${t.selfPct} |`);
  lines.push('');
  lines.push(b ? 'Self time by area, per request (sidecar vs the bare Node.js proxy):' : 'Self time by area:');
  lines.push('');
  const perReq = (ms, x) => Math.round((ms * 1000) / Math.max(1, x.requests));
  if (b) {
    const base = new Map(b.areas.map((a) => [a.area, a]));
    lines.push('| area | sidecar µs/req | sidecar % | bare µs/req | bare % |');
    lines.push('|---|---:|---:|---:|---:|');
    const names = [...new Set([...p.areas.map((a) => a.area), ...b.areas.map((a) => a.area)])];
    for (const name of names) {
      const a = p.areas.find((x) => x.area === name);
      const c = base.get(name);
      lines.push(`| ${name} | ${a ? perReq(a.ms, p) : 0} | ${a ? a.pct : 0} | ${c ? perReq(c.ms, b) : 0} | ${c ? c.pct : 0} |`);
    }
  } else {
    lines.push('| area | ms | % |');
    lines.push('|---|---:|---:|');
    for (const a of p.areas) lines.push(`| ${a.area} | ${a.ms} | ${a.pct} |`);
  }
  lines.push('');
  lines.push("skillgate's own functions, inclusive time (self + callees):");
  lines.push('');
  lines.push('| function | where | inclusive ms | % |');
  lines.push('|---|---|---:|---:|');
  for (const t of p.ownInclusive) lines.push(`| \`${t.fn}\` | ${t.where} | ${t.inclusiveMs} | ${t.inclusivePct} |`);
  if (b) {
    lines.push('');
    lines.push('Top self time in the bare Node.js proxy (the baseline):');
    lines.push('');
    lines.push('| function | where | self ms | self % |');
    lines.push('|---|---|---:|---:|');
    for (const t of b.top.slice(0, 10)) lines.push(`| \`${t.fn}\` | ${t.where || '—'} | ${t.selfMs} | ${t.selfPct} |`);
  }
  lines.push('');
  lines.push(`Raw profiles: \`${p.file}\`${b ? `, \`${b.file}\`` : ''} (git-ignored; open in Chrome DevTools → Performance, or speedscope).`);
  return lines.join('\n');
}
