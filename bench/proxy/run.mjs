// The proxy benchmark: every row against the same nginx upstream in one run — direct (the limit),
// nginx proxy_pass, a bare Node.js proxy (the floor for any Node proxy), with Redis the same proxy
// plus a write-ahead XADD (the floor for any proxy that records before it forwards), the skillgate
// sidecar (bare, and full with policy + Redis recording when the sidecar supports it) and Portkey's gateway.
// Measures added p50/p99 at one connection (JSON and SSE), requests/s at 32 connections, and RSS idle
// and after load; checks the sidecar against the issue's targets; profiles the sidecar when it misses.
// Loopback only; every loop bounded; stops only the processes it started.
//
// Usage: node bench/proxy/run.mjs [--with-redis] [--quick]
// Env: BENCH_N (requests per latency series, default 2000), BENCH_WARMUP_S (latency warm-up per row,
//      default 15 s), BENCH_SECONDS (wrk seconds per row, split
//      into interleaved rounds, default 12),
//      REDIS_URL (implies --with-redis; the full row records to a redis-server of the benchmark's
//      own on the load core when one is installed, to REDIS_URL's otherwise or with
//      BENCH_SHARED_REDIS=1), BENCH_POLICY_FILE (SkillPolicy for the full sidecar row),
//      BENCH_PROFILE=always|never|auto (default auto: profile when the sidecar misses a target),
//      BENCH_ROWS=sidecar-full (only these rows, plus direct and the bare Node proxy the targets are
//      relative to, and with sidecar-full its write-ahead floor bare-wal; for iterating on one row).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { findNginx, startNginx, upstreamConfig, proxyConfig } from '../lib/nginx.mjs';
import { freePort, startReadyChild, pin, memoryMb } from '../lib/process.mjs';
import { latencyClient, sampleLatency, summarise } from '../lib/latency.mjs';
import { runWrk } from '../lib/wrk.mjs';
import { fullSidecarEnv, deleteRedisKeys } from './full-sidecar.mjs';
import { insideSidecar, readSidecarLatency } from '../lib/sidecar-metrics.mjs';
import { findRedisServer, startRedis } from '../lib/redis.mjs';
import { summariseProfile, profileMarkdown } from '../lib/cpu-profile.mjs';
import { sidecarProcessEnv } from '@skillgate/webhook/inject';

const here = dirname(fileURLToPath(import.meta.url));
// Piped into `head`, stdout closes early: carry on to the clean-up (processes, the full row's Redis
// keys) instead of dying of EPIPE on the next line written.
process.stdout.on('error', (err) => { if (err.code !== 'EPIPE') throw err; });
const root = resolve(here, '../..');
const resultsDir = join(root, 'bench/results');
const argv = new Set(process.argv.slice(2));
const quick = argv.has('--quick') || process.env.BENCH_QUICK === '1';
const N = Number(process.env.BENCH_N ?? (quick ? 400 : 2000));
const WARMUP = quick ? 100 : 300;
// Latency is measured in steady state: before its series, each row serves JSON and SSE requests
// alternately for WARMUP_S seconds (and at least WARMUP of each). V8 keeps compiling the full
// sidecar's request path for 20,000–60,000 requests, by machine (--trace-opt: ~140 TurboFan
// compiles, ~0.5 s of compile time per 8,000 requests until then, on the same core as everything
// else at one connection), which shows in p99; 300 requests warm a dozen-line proxy but not the
// sidecar. 15 s is kept even where that leaves compiles in round 1: a sidecar serving a skill at a
// few requests a second takes much longer than that to settle, and the table should show it.
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? (quick ? 2 : 15));
const ROUNDS = 4; // latency series interleaved across rows, so background load drifts hit all rows alike
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 3 : 12));
// After the load the skillgate rows are told to hand memory back as their idle hand-back would after
// 5 minutes without requests (SIGUSR2 to bench/proxy/sidecar.mjs); RSS is read again QUIET_WAIT_S later.
const QUIET_WAIT_S = 2;
const LOAD_ROUNDS = 3; // each row gets SECONDS/3 three times, rows interleaved; the median round is reported
const CONNECTIONS = 32;
const PER_SERIES_MS = quick ? 15_000 : 90_000; // a slow row (Portkey's streams) stops at the deadline
const withRedis = argv.has('--with-redis') || Boolean(process.env.REDIS_URL);
const profileMode = process.env.BENCH_PROFILE ?? 'auto';
const onlyRows = process.env.BENCH_ROWS ? new Set(['direct', 'bare-node', ...process.env.BENCH_ROWS.split(',')]) : undefined;
const rowWanted = (key) => !onlyRows || onlyRows.has(key);

// CPU placement: latency at one connection puts client, upstream and proxy on one core (cross-core
// wake-ups cost ~30 µs here and swamp the differences); throughput gives the proxy its own core.
const LATENCY_CPU = 1;
const LOAD_CPU = 0; // wrk + upstream
const PROXY_CPU = 1;

const bodies = {
  json: readFileSync(join(here, 'upstream/messages.json')),
  sse: readFileSync(join(here, 'upstream/messages.sse')),
};
const request = { model: 'claude-3-opus-latest', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] };
const requestBody = { json: JSON.stringify(request), sse: JSON.stringify({ ...request, stream: true }) };
const baseHeaders = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'bench-not-a-key' };

function log(msg) {
  process.stderr.write(`[bench/proxy] ${msg}\n`);
}

/** Is the sidecar bundle there (the image's form of the sidecar; bench/proxy/sidecar.mjs runs it)? */
function fullSidecarSupport() {
  if (!existsSync(join(root, 'packages/cli/bundle/sidecar-wiring.mjs'))) return { ok: false, why: 'no sidecar bundle in packages/cli/bundle (run `make build`)' };
  return { ok: true };
}

/** The full sidecar's environment: Redis, a fresh skill identity (its keys are deleted after), the policy. */

// The sidecar rows run with the node options and malloc settings the injector gives a sidecar: no
// memory limit here, and the CPU limit they run under pinned to one core (the chart's default, one CPU).
const SIDECAR_ENV = sidecarProcessEnv(undefined, '1');

async function startRows(upstream, redis) {
  const rows = [];
  rows.push({ key: 'direct', label: 'direct to upstream (the limit)', url: upstream.url, pid: undefined });
  const nginxBin = findNginx();
  if (rowWanted('nginx')) {
    const pxPort = await freePort();
    const px = await startNginx(nginxBin, 'nginx-proxy', pxPort, (p) => proxyConfig(p, pxPort, new URL(upstream.url).port));
    rows.push({ key: 'nginx', label: 'nginx proxy_pass', url: px.url, pid: px.pid, stop: px.stop });
  }
  if (rowWanted('bare-node')) {
    const bare = await startReadyChild('bare-node', process.execPath, [join(here, 'bare-proxy.mjs'), upstream.url]);
    rows.push({ key: 'bare-node', label: 'bare Node.js proxy', url: bare.url, pid: bare.pid, stop: bare.stop });
  }
  // The floor of any write-ahead proxy (the bare proxy plus one acknowledged XADD per request): the
  // full sidecar's reference, so it runs whenever that row does.
  if (redis && (rowWanted('bare-wal') || rowWanted('sidecar-full'))) {
    const wal = await startReadyChild('bare-wal', process.execPath, [join(here, 'bare-wal-proxy.mjs'), upstream.url, redis.url]);
    rows.push({ key: 'bare-wal', label: 'bare Node.js proxy + write-ahead (one Redis XADD)', url: wal.url, pid: wal.pid, stop: wal.stop });
  }
  if (rowWanted('sidecar')) {
    const sidecar = await startReadyChild('sidecar', process.execPath, [join(here, 'sidecar.mjs'), upstream.url], { env: SIDECAR_ENV });
    rows.push({ key: 'sidecar', label: 'skillgate sidecar', url: sidecar.url, metricsUrl: sidecar.metricsUrl, pid: sidecar.pid, stop: sidecar.stop, target: true });
  }
  const notes = [];
  if (withRedis && rowWanted('sidecar-full')) {
    const support = fullSidecarSupport();
    if (support.ok) {
      const { token, env } = fullSidecarEnv(redis.url);
      const full = await startReadyChild('sidecar-full', process.execPath, [join(here, 'sidecar.mjs'), '--full', upstream.url], { env: { ...env, ...SIDECAR_ENV } });
      // Keys in a shared Redis are deleted after the run; a private one goes with its process.
      rows.push({ key: 'sidecar-full', label: 'skillgate sidecar, full (policy, masking, Redis)', url: full.url, metricsUrl: full.metricsUrl, pid: full.pid, stop: full.stop, target: true, ...(redis.shared ? { redisToken: token, redisUrl: env.REDIS_URL } : {}) });
    } else {
      notes.push(`Full sidecar row skipped: ${support.why}.`);
      log(`full sidecar row skipped: ${support.why}`);
    }
  }
  const portkeyDir = join(here, 'portkey');
  if (!rowWanted('portkey')) {
    // left out by BENCH_ROWS
  } else if (existsSync(join(portkeyDir, 'node_modules/@portkey-ai/gateway/build/start-server.js'))) {
    const pkPort = await freePort();
    const pk = await startReadyChild('portkey', process.execPath, [join(portkeyDir, 'start.mjs'), String(pkPort)], { env: { NODE_ENV: 'production' } });
    rows.push({
      key: 'portkey', label: 'Portkey gateway 1.15.2', url: pk.url, pid: pk.pid, stop: pk.stop,
      // Portkey drops query strings and takes the upstream base URL per request.
      headers: { json: { 'x-portkey-provider': 'anthropic', 'x-portkey-custom-host': `${upstream.url}/v1` }, sse: { 'x-portkey-provider': 'anthropic', 'x-portkey-custom-host': `${upstream.url}/sse/v1` } },
      paths: { json: '/v1/messages', sse: '/v1/messages' },
    });
  } else {
    notes.push('Portkey row skipped: bench/proxy/portkey is not installed (npm install --prefix bench/proxy/portkey).');
  }
  return { rows, notes };
}

function target(row, kind) {
  return {
    url: row.url,
    path: row.paths?.[kind] ?? (kind === 'sse' ? '/v1/messages?bench=sse' : '/v1/messages'),
    headers: { ...baseHeaders, ...(row.headers?.[kind] ?? {}) },
    body: requestBody[kind],
    expectBytes: bodies[kind].length,
  };
}

async function checkRow(row) {
  for (const kind of ['json', 'sse']) {
    const c = latencyClient(target(row, kind));
    try {
      await c.once();
    } catch (err) {
      throw new Error(`${row.key} does not serve the ${kind} fixture: ${err.message}`);
    } finally {
      c.close();
    }
  }
}

async function measureLatency(rows) {
  const series = [];
  for (const row of rows) {
    for (const kind of ['json', 'sse']) {
      series.push({ row, kind, client: latencyClient(target(row, kind)), samples: [], errors: 0, started: 0 });
    }
  }
  for (const row of rows) {
    const [json, sse] = series.filter((s) => s.row === row);
    const warm = { samples: [], errors: 0 };
    const until = Date.now() + WARMUP_S * 1000;
    const deadline = Date.now() + Math.max(WARMUP_S * 1000, PER_SERIES_MS / 4);
    for (let i = 0; (i < WARMUP || Date.now() < until) && Date.now() < deadline && warm.errors <= 50; i++) {
      await sampleLatency(json.client, 1, deadline, warm);
      await sampleLatency(sse.client, 1, deadline, warm);
    }
    log(`warm-up: ${row.key} served ${warm.samples.length} requests in ${WARMUP_S} s`);
  }
  // The skillgate rows' own account of the measured series (their metrics, read before and after).
  const before = new Map();
  for (const row of rows) if (row.metricsUrl) before.set(row, await readSidecarLatency(row.metricsUrl));
  const perRound = Math.ceil(N / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of series) {
      await sampleLatency(s.client, Math.min(perRound, N - s.samples.length), Date.now() + PER_SERIES_MS / ROUNDS, s);
    }
    log(`latency round ${r + 1}/${ROUNDS} done`);
  }
  for (const [row, reading] of before) row.inside = insideSidecar(reading, await readSidecarLatency(row.metricsUrl));
  // Every sample in the order taken (round r holds samples r*perRound..), for reading where a tail comes from.
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'proxy-latency-samples.json'), JSON.stringify({ perRound, series: series.map((s) => ({ row: s.row.key, kind: s.kind, us: s.samples.map(Math.round) })) }));
  for (const s of series) {
    s.client.close();
    s.row.latency ??= {};
    s.row.latency[s.kind] = { ...summarise(s.samples), errors: s.errors, ...(s.lastError ? { lastError: s.lastError } : {}) };
  }
}

async function measureThroughput(rows) {
  const roundSeconds = Math.max(1, Math.round(SECONDS / LOAD_ROUNDS));
  for (const row of rows) {
    await runWrk({ ...target(row, 'json'), connections: CONNECTIONS, seconds: Math.min(2, roundSeconds), cpu: LOAD_CPU }); // warm-up
    row.loadRounds = [];
  }
  for (let r = 0; r < LOAD_ROUNDS; r++) {
    for (const row of rows) {
      row.loadRounds.push(await runWrk({ ...target(row, 'json'), connections: CONNECTIONS, seconds: roundSeconds, cpu: LOAD_CPU }));
      if (r === LOAD_ROUNDS - 1 && row.pid) row.memLoad = memoryMb(row.pid);
    }
    log(`throughput round ${r + 1}/${LOAD_ROUNDS}: ${rows.map((x) => `${x.key} ${Math.round(x.loadRounds[r].rps)}`).join(', ')}`);
  }
  for (const row of rows) {
    const sorted = [...row.loadRounds].sort((a, b) => a.rps - b.rps);
    const median = sorted[Math.floor(sorted.length / 2)];
    row.throughput = {
      ...median,
      non2xx: row.loadRounds.reduce((a, x) => a + x.non2xx, 0),
      socketErrors: row.loadRounds.reduce((a, x) => a + x.socketErrors, 0),
      rounds: row.loadRounds.map((x) => Math.round(x.rps)),
    };
    delete row.loadRounds;
  }
}

function added(row, direct, kind, q) {
  return row.latency[kind][q] - direct.latency[kind][q];
}

function evaluate(rows) {
  const direct = rows.find((r) => r.key === 'direct');
  const bare = rows.find((r) => r.key === 'bare-node');
  for (const row of rows) {
    row.added = {};
    for (const kind of ['json', 'sse']) row.added[kind] = { p50: added(row, direct, kind, 'p50'), p99: added(row, direct, kind, 'p99') };
  }
  for (const row of rows) {
    if (row.key === 'direct') continue;
    const p50Ratio = Math.max(row.added.json.p50 / bare.added.json.p50, row.added.sse.p50 / bare.added.sse.p50);
    const p99Worst = Math.max(row.added.json.p99, row.added.sse.p99);
    const rpsRatio = row.throughput.rps / bare.throughput.rps;
    // Round by round against the bare proxy's same round (rows alternate within a round): the spread
    // says how far a pass or a miss is from the line on this machine.
    const roundRatios = row.throughput.rounds.map((rps, i) => rps / bare.throughput.rounds[i]);
    row.targets = {
      p50: { pass: p50Ratio <= 2.5, value: p50Ratio, text: `${p50Ratio.toFixed(1)}× bare` },
      p99: { pass: p99Worst <= 2000, value: p99Worst, text: `${fmtUs(p99Worst)}` },
      rps: { pass: rpsRatio >= 0.5, value: rpsRatio, rounds: roundRatios, text: `${rpsRatio.toFixed(2)}× bare${row.target ? `; rounds ${roundRatios.map((r) => r.toFixed(2)).join(', ')}` : ''}` },
      rss: { pass: row.memIdle.rss <= 60, value: row.memIdle.rss, text: `${row.memIdle.rss.toFixed(0)} MB` },
    };
  }
}

function fmtUs(us) {
  if (!Number.isFinite(us)) return 'n/a';
  const sign = us < 0 ? '−' : '+';
  const a = Math.abs(us);
  return a >= 1000 ? `${sign}${(a / 1000).toFixed(2)} ms` : `${sign}${a.toFixed(0)} µs`;
}

function fmtAbs(us) {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

function markdown(result) {
  const { rows } = result;
  const lines = [];
  lines.push(`Upstream: nginx ${result.nginxVersion} serving a fixed Messages JSON (${bodies.json.length} B) and the \`basic_response\` SSE fixture (${bodies.sse.length} B, 10 events), each once it has read the whole request body, as the Claude API answers. ` +
    `Latency: ${N} sequential requests per series after a ${WARMUP_S} s warm-up per row (JSON and SSE alternating, at least ${WARMUP} each: the full sidecar's JIT compiles settle after 20,000–60,000 requests, by machine, and a warm-up shorter than that leaves some in round 1), one keep-alive connection, client/upstream/proxy on CPU ${LATENCY_CPU}, series interleaved in ${ROUNDS} rounds; "added" = row − direct at the same percentile (SSE: time to the last byte of the stream). ` +
    `Throughput: wrk, ${CONNECTIONS} connections, non-streaming, ${LOAD_ROUNDS} rounds of ${Math.max(1, Math.round(SECONDS / LOAD_ROUNDS))} s per row after a warm-up, rows interleaved, median round shown (the skillgate rows' target cell also gives each round against the bare proxy's same round); wrk + upstream on CPU ${LOAD_CPU}, proxy on CPU ${PROXY_CPU}. ` +
    `RSS: VmRSS of the proxy process (nginx: master + worker) after start-up and two requests (idle), right after the load, and once quiet after it (${QUIET_WAIT_S} s later; the skillgate rows are first told to run the hand-back they run after 5 minutes without requests); "anon" is RssAnon, the part not backed by the shared binary.` +
    (result.redis ? ` Redis (the full row's record and rate limits): ${result.redis.shared ? 'the machine\'s shared Redis (REDIS_URL), placed by the scheduler' : `a redis-server ${result.redis.version} of the benchmark's own, configured as the machine's (no RDB, no AOF), on CPU ${result.redis.cpu} throughout: the sidecar's Redis is another service (in a cluster, on another node), never on the proxy's core`}.` : ''));
  lines.push('');
  lines.push(`| | added p50 JSON | added p99 JSON | added p50 SSE | added p99 SSE | req/s @32 | RSS idle | RSS after load | RSS after load, quiet | p50 ≤ 2.5× bare | p99 ≤ 2 ms | req/s ≥ ½ bare | RSS idle ≤ 60 MB |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|:-:|:-:|');
  for (const row of rows) {
    const l = row.latency;
    const lat = row.key === 'direct'
      ? [`${fmtAbs(l.json.p50)} (abs)`, `${fmtAbs(l.json.p99)} (abs)`, `${fmtAbs(l.sse.p50)} (abs)`, `${fmtAbs(l.sse.p99)} (abs)`]
      : [fmtUs(row.added.json.p50), fmtUs(row.added.json.p99), fmtUs(row.added.sse.p50), fmtUs(row.added.sse.p99)];
    const tp = row.throughput;
    const errs = tp.non2xx + tp.socketErrors;
    const rps = `${Math.round(tp.rps).toLocaleString('en-US')}${errs ? ` (${errs} errors)` : ''}`;
    const mem = (m) => `${m.rss.toFixed(0)} MB (anon ${m.anon.toFixed(0)})`;
    const rss = row.memIdle ? [mem(row.memIdle), mem(row.memLoad), row.memQuiet ? mem(row.memQuiet) : '—'] : ['—', '—', '—'];
    const t = row.targets;
    const mark = (x) => (x ? `${x.pass ? 'pass' : '**miss**'} (${x.text})` : '—');
    const name = row.target ? `**${row.label}**` : row.label;
    lines.push(`| ${name} | ${lat.join(' | ')} | ${rps} | ${rss.join(' | ')} | ${t ? [mark(t.p50), mark(t.p99), mark(t.rps), mark(t.rss)].join(' | ') : '— | — | — | —'} |`);
  }
  lines.push('');
  lines.push('The targets (issue 2) apply to the skillgate rows; the other rows are shown against them for scale. p50 ratio is the worse of JSON and SSE; p99 is the worse added p99.');
  const inside = rows.filter((r) => r.inside?.addedUs !== undefined);
  if (inside.length) {
    const us = (v) => `${Math.round(v)} µs`;
    lines.push('');
    lines.push(`Inside the skillgate rows, by their own metrics over the measured latency series (mean per request, JSON and SSE together): ${inside.map((r) => `${r.label}: gateway-added ${us(r.inside.addedUs)}${r.inside.durableUs !== undefined ? `, of which ${us(r.inside.durableUs)} waiting for the request event to become durable (masked, sealed, written to Redis and acknowledged before the request goes upstream)` : ''}`).join('; ')}. Gateway-added is the sidecar's time from the request's arrival to its dispatch upstream plus from the upstream's response headers to its own (\`skillgate_sidecar_added_latency_seconds\`); the client's added latency above also holds the body's passage and the scheduling of four processes on one core.`);
  }
  const wal = rows.find((r) => r.key === 'bare-wal');
  const bare = rows.find((r) => r.key === 'bare-node');
  const full = rows.find((r) => r.key === 'sidecar-full');
  if (wal && bare) {
    const worse = (r) => Math.max(r.added.json.p50, r.added.sse.p50);
    const ratio = worse(wal) / worse(bare);
    lines.push('');
    lines.push(`The write-ahead floor: the bare Node.js proxy that appends each request to the same Redis and forwards it once Redis acknowledges (\`bench/proxy/bare-wal-proxy.mjs\`; no policy, masking, chain or metrics) adds ${fmtUs(wal.added.json.p50)} p50 JSON and ${fmtUs(wal.added.sse.p50)} SSE, ${ratio.toFixed(1)}× the bare proxy's: ` +
      (ratio > 2.5 ? 'on this machine no proxy that records a request before forwarding it can meet the p50 target, whatever else it does. ' : 'a recording proxy can meet the p50 target on this machine. ') +
      (full ? `The full sidecar's added p50 is ${(worse(full) / worse(wal)).toFixed(1)}× the floor's (${fmtUs(worse(full) - worse(wal))}): its policy, masking, hash chain, session record and metrics.` : ''));
  }
  const errors = rows.filter((r) => r.latency.json.errors || r.latency.sse.errors);
  for (const r of errors) lines.push(`\nLatency errors on ${r.label}: JSON ${r.latency.json.errors}, SSE ${r.latency.sse.errors} (${r.latency.json.lastError ?? r.latency.sse.lastError}).`);
  for (const note of result.notes) lines.push(`\n${note}`);
  if (result.profile) {
    lines.push('');
    lines.push(profileMarkdown(result.profile));
  }
  return lines.join('\n');
}

/** Run `script` (with `args`) under `node --cpu-prof`, pinned like the throughput rows, under the wrk load. */
async function profileUnderLoad(name, script, args, upstream, dir, env = {}) {
  const profDir = join(dir, name);
  mkdirSync(profDir, { recursive: true });
  const child = await startReadyChild(`${name}-profiled`, process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, script, ...args, upstream.url], { env });
  pin(child.pid, PROXY_CPU);
  const load = await runWrk({ ...target({ url: child.url }, 'json'), connections: CONNECTIONS, seconds: SECONDS, cpu: LOAD_CPU });
  await child.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the profiled ${name} wrote no .cpuprofile`);
  const summary = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')), root);
  return { ...summary, requests: load.requests, cpuUsPerRequest: Math.round((summary.busyMs * 1000) / Math.max(1, load.requests)), file: `bench/results/proxy-profile/${name}/${file}` };
}

/**
 * Profile the sidecar and, as the baseline, the bare Node proxy under the same load. The full sidecar
 * (policy, masking, Redis) is the one profiled when its row runs: the targets are about it.
 */
async function profileSidecar(upstream, rows, redis) {
  const dir = join(resultsDir, 'proxy-profile');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fullRow = rows.find((r) => r.key === 'sidecar-full');
  let sidecar;
  if (fullRow) {
    const { token, env } = fullSidecarEnv(redis.url);
    try {
      sidecar = await profileUnderLoad('sidecar-full', join(here, 'sidecar.mjs'), ['--full'], upstream, dir, { ...env, ...SIDECAR_ENV });
    } finally {
      if (redis.shared) cleanupRedis({ redisToken: token, redisUrl: env.REDIS_URL });
    }
    sidecar.subject = 'full sidecar (policy, masking, Redis)';
  } else {
    sidecar = await profileUnderLoad('sidecar', join(here, 'sidecar.mjs'), [], upstream, dir, SIDECAR_ENV);
    sidecar.subject = 'sidecar';
  }
  const bare = await profileUnderLoad('bare-node', join(here, 'bare-proxy.mjs'), [], upstream, dir);
  return { ...sidecar, load: `wrk ${CONNECTIONS} connections, ${SECONDS} s, non-streaming, proxy alone on CPU ${PROXY_CPU}`, baseline: bare };
}

function cleanupRedis(row) {
  if (!row.redisToken) return;
  try {
    deleteRedisKeys(row.redisUrl, row.redisToken);
  } catch (err) {
    log(`could not clean the bench's Redis keys (*${row.redisToken}*): ${err.message}`);
  }
}

async function main() {
  const nginxBin = findNginx();
  if (!nginxBin) throw new Error('nginx is not installed: apt-get install -y nginx (bench/run.sh does this when run as root)');
  for (const tool of ['wrk', 'taskset']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); } catch { throw new Error(`${tool} is not installed: apt-get install -y ${tool === 'taskset' ? 'util-linux' : tool}`); }
  }
  const nginxVersion = /nginx\/(\S+)/.exec(execFileSync('sh', ['-c', `'${nginxBin}' -v 2>&1`], { encoding: 'utf8' }))?.[1] ?? '?';
  mkdirSync(resultsDir, { recursive: true });
  const upPort = await freePort();
  const upstream = await startNginx(nginxBin, 'upstream', upPort, (p) => upstreamConfig(p, upPort, join(here, 'upstream')));
  const started = [upstream];
  let rows = [];
  let notes = [];
  // The full rows' Redis: one of the benchmark's own on the load generator's core (bench/lib/redis.mjs),
  // or, without redis-server or with BENCH_SHARED_REDIS=1, the one REDIS_URL names, where it runs.
  let redis;
  if (withRedis && rowWanted('sidecar-full')) {
    const bin = process.env.BENCH_SHARED_REDIS ? undefined : findRedisServer();
    redis = bin ? await startRedis(bin, LOAD_CPU) : { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', shared: true };
    if (redis.stop) started.push(redis); // stopped after the rows: a full sidecar writes a last checkpoint as it closes
    log(redis.shared ? `full sidecar rows record to the shared Redis at ${redis.url}` : `full sidecar rows record to a private Redis ${redis.version} at ${redis.url}, on CPU ${LOAD_CPU}`);
  }
  try {
    ({ rows, notes } = await startRows(upstream, redis));
    started.push(...rows.filter((r) => r.stop));
    for (const row of rows) await checkRow(row);
    for (const row of rows) if (row.pid) row.memIdle = memoryMb(row.pid);
    log(`rows: ${rows.map((r) => r.key).join(', ')}; idle RSS taken`);

    pin(process.pid, LATENCY_CPU);
    pin(upstream.pid, LATENCY_CPU);
    for (const row of rows) if (row.pid) pin(row.pid, LATENCY_CPU);
    await measureLatency(rows);

    pin(process.pid, LOAD_CPU);
    pin(upstream.pid, LOAD_CPU);
    for (const row of rows) if (row.pid) pin(row.pid, PROXY_CPU);
    await measureThroughput(rows);
    for (const row of rows) if (row.target && row.pid) process.kill(row.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, QUIET_WAIT_S * 1000));
    for (const row of rows) if (row.pid) row.memQuiet = memoryMb(row.pid);
    evaluate(rows);

    const missed = rows.filter((r) => r.target && Object.values(r.targets).some((t) => !t.pass));
    let profile;
    if (profileMode === 'always' || (profileMode === 'auto' && missed.length)) {
      log('profiling the sidecar under load (node --cpu-prof)');
      profile = await profileSidecar(upstream, rows, redis);
    }
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      nginxVersion,
      params: { latencyRequests: N, warmup: WARMUP, warmupSeconds: WARMUP_S, rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS, latencyCpu: LATENCY_CPU, loadCpu: LOAD_CPU, proxyCpu: PROXY_CPU },
      ...(redis ? { redis: redis.shared ? { shared: true } : { version: redis.version, cpu: LOAD_CPU } } : {}),
      rows: rows.map(({ stop, pid, client, redisToken, redisUrl, metricsUrl, ...r }) => r),
      notes,
      ...(profile ? { profile } : {}),
    };
    const md = markdown(result);
    result.markdown = md;
    writeFileSync(join(resultsDir, 'proxy.json'), JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(md + '\n');
  } finally {
    // Stopped first: a full sidecar writes a last checkpoint to Redis as it closes.
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    for (const row of rows) cleanupRedis(row);
  }
}

main().catch((err) => {
  log(`failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
