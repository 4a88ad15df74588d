#!/usr/bin/env node
// Masking benchmark: quality (precision, recall, F2 with 95% Wilson intervals, leak rate,
// over-masking on hard negatives) on a seeded labeled corpus, speed (MB/s per core on prose and on
// PII-dense text, side by side with a one-regex baseline; p50/p99 added latency on a 10 KB Messages
// request and on a Claude Code–style request masked for the record), and streaming equivalence over random chunkings. Runs on the compiled package:
//   npx tsc -b packages/masking && node bench/masking/run.mjs [--split test|dev] [--per-template 60] [--errors]
// Prints a markdown table and writes bench/results/masking.json and bench/results/masking.md.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMasker, MaskerCore, TextStream } from '../../packages/masking/dist/src/index.js';
import { SseParser, formatSse } from '../../packages/wire/dist/src/index.js';
import { uploadMaskFilter } from '../../packages/sidecar/dist/src/file-masking.js';
import { corpus } from './corpus.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({ options: { split: { type: 'string', default: 'test' }, 'per-template': { type: 'string', default: '60' }, errors: { type: 'boolean' }, quick: { type: 'boolean' } } });
const PER = args.quick ? 8 : Number(args['per-template']);
const KEY = 'bench-masking-key-0123456789abcdef';
const masker = createMasker(undefined, { key: KEY });
const core = new MaskerCore(undefined, { key: KEY });

// ---------------------------------------------------------------- quality
const docs = corpus(args.split, PER);
const STRUCTURED = ['CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'US_ITIN', 'ABA_ROUTING_NUMBER', 'US_BANK_NUMBER', 'EMAIL_ADDRESS', 'IP_ADDRESS', 'MAC_ADDRESS', 'PHONE_NUMBER', 'DATE_OF_BIRTH', 'CRYPTO', 'SECRET'];
const CHECKSUMMED = ['CREDIT_CARD', 'IBAN_CODE', 'ABA_ROUTING_NUMBER', 'CRYPTO', 'SECRET'];
const stats = new Map();
const row = (k) => { if (!stats.has(k)) stats.set(k, { gold: 0, found: 0, pred: 0, correct: 0, chars: 0, leaked: 0 }); return stats.get(k); };
let negChars = 0; let negMasked = 0; let negSpans = 0; let negHit = 0;
const errors = [];
const overlaps = (a, b) => a.start < b.end && b.start < a.end;

for (const d of docs) {
  const { findings } = masker.maskText(d.text);
  for (const g of d.spans) {
    const key = g.group === 'heldout' ? `${g.type} (held-out locales)` : g.type;
    for (const k of [key, 'ALL']) {
      const r = row(k);
      r.gold++;
      if (findings.some((f) => f.type === g.type && overlaps(f, g))) r.found++;
      r.chars += g.end - g.start;
      for (let i = g.start; i < g.end; i++) if (!findings.some((f) => f.start <= i && i < f.end)) r.leaked++;
    }
    if (!findings.some((f) => f.type === g.type && overlaps(f, g))) errors.push(`MISS ${g.type}: ${JSON.stringify(d.text.slice(Math.max(0, g.start - 30), g.end + 10))} [${d.text.slice(g.start, g.end)}]`);
  }
  for (const f of findings) {
    const gold = d.spans.find((g) => g.type === f.type && overlaps(f, g));
    const group = gold?.group === 'heldout' ? `${f.type} (held-out locales)` : f.type;
    for (const k of [group, 'ALL']) { const r = row(k); r.pred++; if (gold) r.correct++; }
    if (!gold) errors.push(`FP ${f.type}: ${JSON.stringify(d.text.slice(Math.max(0, f.start - 30), f.end + 10))} [${d.text.slice(f.start, f.end)}]`);
  }
  for (const n of d.negatives) {
    negSpans++; negChars += n.end - n.start;
    let hit = false;
    for (let i = n.start; i < n.end; i++) if (findings.some((f) => f.start <= i && i < f.end)) { negMasked++; hit = true; }
    if (hit) negHit++;
  }
}

function wilson(k, n) {
  if (n === 0) return [NaN, NaN, NaN];
  const z = 1.96; const p = k / n;
  const den = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / den;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  return [p, Math.max(0, c - h), Math.min(1, c + h)];
}
const f2 = (p, r) => (p + r === 0 ? 0 : (5 * p * r) / (4 * p + r));
const quality = [...stats.entries()].sort(([a], [b]) => (a === 'ALL' ? 1 : b === 'ALL' ? -1 : a.localeCompare(b))).map(([entity, s]) => {
  const P = wilson(s.correct, s.pred); const R = wilson(s.found, s.gold);
  return { entity, gold: s.gold, predicted: s.pred, precision: P, recall: R, f2: [f2(P[0], R[0]), f2(P[1], R[1]), f2(P[2], R[2])], leakRate: s.chars ? s.leaked / s.chars : 0, sensitiveChars: s.chars };
});
const leakOf = (types) => { let c = 0; let l = 0; for (const [k, s] of stats) if (types.includes(k)) { c += s.chars; l += s.leaked; } return c ? l / c : 0; };

// ---------------------------------------------------------------- speed
const SENTENCES = [
  'The deployment to the staging cluster failed at around noon because the readiness probe kept timing out.',
  'I looked at the logs and found that the connection pool was exhausted after the last release.',
  'After raising the limit and restarting the pods, everything came back within a few minutes.',
  'Next we should add an alert for pool saturation and document the fix in the runbook.',
  'The on-call engineer should know what to do when the queue depth grows faster than the consumers drain it.',
  'We also want to review the retry policy with the platform team on Monday, before the freeze.',
  'Latency went up for about twenty minutes, but no requests were lost and the error budget is fine.',
  'Can you summarise the incident timeline and suggest two follow-up actions for the postmortem?',
];
function prose(bytes, seed) {
  let s = ''; let x = seed;
  while (s.length < bytes) { x = (x * 1103515245 + 12345) & 0x7fffffff; s += SENTENCES[x % SENTENCES.length] + (x % 5 === 0 ? '\n\n' : ' '); }
  return s;
}
const proseText = prose(args.quick ? 1 << 20 : 4 << 20, 7);
const denseText = corpus('test', args.quick ? 4 : 30).map((d) => d.text).join('\n');
const baseline = (t) => t.replace(/[\w.+-]+@[\w-]+\.[\w.]+/g, '[EMAIL]');
function mbps(fn, text, reps) {
  for (let i = 0; i < 2; i++) fn(text.slice(0, 200000));
  const bytes = Buffer.byteLength(text);
  const runs = [];
  for (let i = 0; i < reps; i++) { const t = process.hrtime.bigint(); fn(text); runs.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t) / 1e9)); }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)];
}
// Without the resent-text memo: it would answer every repetition of the same text from memory.
const unmemoised = createMasker(undefined, { key: KEY, memo: false });
// An uploaded text file under request masking: the multipart body through the sidecar's upload
// filter (the multipart rewriter, UTF-8 decoding, one TextStream) in the 64 KB chunks a socket gives.
const UPLOAD_BOUNDARY = 'bench-upload-boundary';
function streamedUpload(text) {
  const body = Buffer.concat([
    Buffer.from(`--${UPLOAD_BOUNDARY}\r\ncontent-disposition: form-data; name="file"; filename="notes.txt"\r\ncontent-type: text/plain\r\n\r\n`),
    Buffer.from(text), Buffer.from(`\r\n--${UPLOAD_BOUNDARY}--\r\n`),
  ]);
  const filter = uploadMaskFilter(`multipart/form-data; boundary=${UPLOAD_BOUNDARY}`, unmemoised, () => undefined);
  for (let at = 0; at < body.length; at += 65536) filter.push(body.subarray(at, at + 65536));
  filter.end();
}
const speed = {
  proseMBps: mbps((t) => unmemoised.maskText(t), proseText, 7),
  denseMBps: mbps((t) => unmemoised.maskText(t), denseText, 7),
  uploadProseMBps: mbps(streamedUpload, proseText, 7),
  uploadDenseMBps: mbps(streamedUpload, denseText, 7),
  baselineProseMBps: mbps(baseline, proseText, 7),
  baselineDenseMBps: mbps(baseline, denseText, 7),
  denseFindingsPerMB: masker.maskText(denseText).findings.length / (Buffer.byteLength(denseText) / 1e6),
};

// 10 KB Messages request: added latency of maskMessagesRequest, beside JSON parse+stringify of the same body.
const conv = corpus('test', 20).filter((d) => d.carrier === 'conversation' || d.carrier === 'prose');
const messages = [];
let size = 0; let i = 0;
while (size < 10_000) { const t = conv[i++ % conv.length].text; messages.push({ role: messages.length % 2 ? 'assistant' : 'user', content: [{ type: 'text', text: t }] }); size += t.length; }
if (messages.length % 2 === 0) messages.push({ role: 'user', content: 'and?' });
const body = { model: 'claude-sonnet-4-5', max_tokens: 1024, system: 'You are an on-call assistant.', messages };
const bodyText = JSON.stringify(body);
function latency(fn, n) {
  for (let k = 0; k < 200; k++) fn();
  const t = [];
  for (let k = 0; k < n; k++) { const s = process.hrtime.bigint(); fn(); t.push(Number(process.hrtime.bigint() - s) / 1000); }
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(n * 0.5)], p99: t[Math.floor(n * 0.99)] };
}
const lat = {
  bytes: Buffer.byteLength(bodyText),
  mask: latency(() => masker.maskMessagesRequest(JSON.parse(bodyText)), args.quick ? 300 : 3000),
  parseOnly: latency(() => JSON.stringify(JSON.parse(bodyText)), args.quick ? 300 : 3000),
};

// A Claude Code–style request of about 100 KB, as every request of a session resends it: a long
// system prompt, 20 tools with long descriptions and JSON schemas, 30 tool calls in the history
// (tool_use inputs with paths, patterns and numbers; tool results, one in five holding personal
// data from the corpus). Masked for the record — what the sidecar does to every request before it
// forwards it — with the masker's memo warm (the same request masked before, as in a session).
// Each run masks a body just parsed from the bytes (new objects and strings, as the sidecar's):
// the parse is not timed, as the sidecar parses the body for policy anyway.
const TOOL_NAMES = ['Read', 'Write', 'Edit', 'MultiEdit', 'Bash', 'BashOutput', 'Grep', 'Glob', 'LS', 'WebFetch', 'WebSearch', 'TodoWrite',
  'NotebookEdit', 'Task', 'ExitPlanMode', 'KillShell', 'SlashCommand', 'mcp__github__search_issues', 'mcp__github__get_pull_request', 'mcp__linear__list_issues'];
function claudeCodeRequest() {
  const tools = TOOL_NAMES.map((name, t) => ({
    name,
    description: prose(1100, 100 + t),
    input_schema: {
      $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', additionalProperties: false,
      required: ['file_path'],
      properties: Object.fromEntries(['file_path', 'pattern', 'offset', 'limit', 'mode', 'description'].map((p, k) => [p,
        k === 4 ? { type: 'string', enum: ['content', 'files_with_matches', 'count'], description: prose(120, t * 10 + k) }
          : { type: k === 2 || k === 3 ? 'number' : 'string', description: prose(160, t * 10 + k) }])),
    },
  }));
  const results = corpus('test', 4).filter((d) => d.carrier === 'conversation' || d.carrier === 'json');
  const messages = [{ role: 'user', content: prose(400, 7) }];
  for (let i = 0; i < 30; i++) {
    const id = `toolu_01${String(i).padStart(2, '0')}Xb9kQm3PzR7wT2vN8yL4cJ`;
    messages.push({ role: 'assistant', content: [{ type: 'text', text: prose(160, 200 + i) },
      { type: 'tool_use', id, name: TOOL_NAMES[i % 9], input: { file_path: `/srv/app/src/module_${i}/index.ts`, pattern: `handle${i}Request`, offset: 100 + i, limit: 50 } }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: i % 5 === 4 ? results[i % results.length].text : prose(1000, 300 + i) }] });
  }
  messages.push({ role: 'user', content: 'please go on' });
  return { model: 'claude-sonnet-4-5', max_tokens: 32000, system: [{ type: 'text', text: prose(9000, 3), cache_control: { type: 'ephemeral' } }], tools,
    metadata: { user_id: 'user_4f9c2d_account__session_6b1e0f3a' }, messages, stream: true };
}
const claudeCodeText = JSON.stringify(claudeCodeRequest());
const recordMasker = createMasker(undefined, { key: KEY });
function latencyParsed(fn, text, n) {
  for (let k = 0; k < 200; k++) fn(JSON.parse(text));
  const t = [];
  for (let k = 0; k < n; k++) { const body = JSON.parse(text); const s = process.hrtime.bigint(); fn(body); t.push(Number(process.hrtime.bigint() - s) / 1000); }
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(n * 0.5)], p99: t[Math.floor(n * 0.99)] };
}
const claudeCodeLat = {
  bytes: Buffer.byteLength(claudeCodeText),
  mask: latencyParsed((body) => recordMasker.maskMessagesRequest(body, { forRecord: true }), claudeCodeText, args.quick ? 300 : 3000),
  parseOnly: latency(() => JSON.stringify(JSON.parse(claudeCodeText)), args.quick ? 300 : 3000),
};

// ---------------------------------------------------------------- streaming equivalence
let rngState = 12345;
const rnd = () => { rngState = (rngState * 1103515245 + 12345) & 0x7fffffff; return rngState / 0x7fffffff; };
const K = args.quick ? 5 : 20;
let chunkings = 0; let equal = 0; let sseRuns = 0; let sseEqual = 0;
const streamDocs = corpus('test', args.quick ? 3 : 10);
for (const d of streamDocs) {
  const whole = core.maskText(d.text).masked;
  for (let k = 0; k < K; k++) {
    const ts = new TextStream(core);
    let out = ''; let p = 0;
    const maxLen = k === 0 ? 1 : 1 + Math.floor(rnd() * 40);
    while (p < d.text.length) { const n = k === 0 ? 1 : 1 + Math.floor(rnd() * maxLen); out += ts.push(d.text.slice(p, p + n)); p += n; }
    out += ts.end();
    chunkings++; if (out === whole) equal++;
  }
  // SSE: the text as text_deltas, re-chunked at random byte offsets (mid UTF-8 included) through SseParser.
  const parts = [formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })];
  for (let p = 0; p < d.text.length; p += 7) parts.push(formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: d.text.slice(p, p + 7) } }));
  parts.push(formatSse('content_block_stop', { type: 'content_block_stop', index: 0 }));
  const bytes = Buffer.from(parts.join(''));
  for (let k = 0; k < K; k++) {
    const parser = new SseParser(); const sm = masker.createStreamMasker(); const out = [];
    let p = 0;
    while (p < bytes.length) { const n = k === 0 ? 1 : 1 + Math.floor(rnd() * 64); for (const ev of parser.push(bytes.subarray(p, p + n))) for (const o of sm.push(ev)) out.push(o.raw); p += n; }
    for (const o of sm.end()) out.push(o.raw);
    let text = '';
    for (const ev of new SseParser().push(Buffer.concat(out))) if (ev.event === 'content_block_delta') text += JSON.parse(ev.data).delta.text;
    sseRuns++; if (text === whole) sseEqual++;
  }
}

// Hold-back on prose streamed the way Claude streams it: deltas of a few tokens, each token a word
// with its leading space. Counts deltas forwarded as their original bytes, characters held back,
// the share of characters that leave in a later delta than the one that brought them and by how
// many deltas; and, beside it, the floor the invariant sets (boundary.ts): the trailing run of
// email local-part characters [A-Za-z0-9._%+-] can still become "run@example.com" with the next
// delta, so no masker that equals whole-text masking may release it.
const tokens = proseText.slice(0, 200000).match(/\s*\S+/g);
let deltas = 0; let rawForwarded = 0; let heldSum = 0;
let proseChars = 0; let delayedChars = 0; let delaySum = 0; let delayMax = 0; let floorSum = 0;
{
  const sm = masker.createStreamMasker();
  const start = new SseParser().push(Buffer.from(formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })));
  sm.push(start[0]);
  let received = 0; let emitted = 0; let all = '';
  const arrivedIn = []; // per character: the delta that brought it
  const localRun = /[A-Za-z0-9._%+-]{1,64}$/;
  for (let t = 0; t < tokens.length;) {
    const n = 1 + ((t * 7) % 4);
    const text = tokens.slice(t, t + n).join('');
    t += n;
    const ev = new SseParser().push(Buffer.from(formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })))[0];
    const outs = sm.push(ev);
    for (let k = 0; k < text.length; k++) arrivedIn.push(deltas);
    all += text;
    if (outs.length === 1 && outs[0].raw === ev.raw) rawForwarded++;
    let out = 0;
    for (const o of outs) out += 'event' in o ? JSON.parse(o.data).delta.text.length : text.length;
    // prose has no findings, so output characters map one to one onto input characters
    for (let k = emitted; k < emitted + out; k++) { const d = deltas - arrivedIn[k]; if (d > 0) { delayedChars++; delaySum += d; delayMax = Math.max(delayMax, d); } }
    received += text.length; emitted += out; proseChars += text.length;
    heldSum += received - emitted;
    const r = localRun.exec(all.slice(-65));
    if (r && !r[0].startsWith('.') && !r[0].includes('..') && !/[A-Za-z0-9._%+-]/.test(all[all.length - r[0].length - 1] ?? ' ')) floorSum += r[0].length;
    deltas++;
  }
}

// Hold-back on the recorded Anthropic streams (real chunking), with the finer per-detector hold
// (src/hold.ts) and without it (a window masker without tokenHoldStart holds the whole open token
// run), beside two floors: the trailing email local-part run (as above), and a demonstrated floor:
// for each delta, the characters before its end that some continuation (an email domain, a
// password, a phone number, an assigned value...) turns into part of a finding of whole-text
// masking, so that no masker keeping the invariant could have released them.
const fixtureDir = join(root, 'packages/fake-claude/fixtures/anthropic-sse');
const CONTINUATIONS = ['@example.com ', 'x@example.com ', 'Xk9#mQ2zPw7v ', '415) 555-0199 ', '4) 555-0199 ', '=hunter22x ', ': Zx8fK2pLq9Rm4TtW77 ', '1111 1111 1111 ', 'Z'];
const coarseCore = { maskWindow: (...a) => core.maskWindow(...a), spanningKeywords: core.spanningKeywords };
const recorded = { files: 0, deltas: 0, fine: 0, coarse: 0, localFloor: 0, shownFloor: 0, finePerEnding: new Map(), equal: 0, blocks: 0, belowShown: 0, aboveShown: 0, coarseAboveShown: 0 };
for (const f of readdirSync(fixtureDir).filter((n) => n.endsWith('.sse') || n.endsWith('.txt')).sort()) {
  recorded.files++;
  const blocks = new Map();
  for (const ev of new SseParser().push(readFileSync(join(fixtureDir, f)))) {
    if (ev.event !== 'content_block_delta') continue;
    const d = JSON.parse(ev.data);
    if (d.delta?.type !== 'text_delta') continue;
    if (!blocks.has(d.index)) blocks.set(d.index, []);
    blocks.get(d.index).push(d.delta.text);
  }
  for (const deltas of blocks.values()) {
    const fine = new TextStream(core); const coarse = new TextStream(coarseCore);
    let all = ''; let out = '';
    for (const t of deltas) {
      all += t;
      out += fine.push(t); coarse.push(t);
      recorded.deltas++; recorded.fine += fine.held; recorded.coarse += coarse.held;
      const r = /[A-Za-z0-9._%+-]{1,64}$/.exec(all.slice(-65));
      if (r && !r[0].startsWith('.') && !r[0].includes('..') && !/[A-Za-z0-9._%+-]/.test(all[all.length - r[0].length - 1] ?? ' ')) recorded.localFloor += r[0].length;
      let shown = 0;
      for (const c of CONTINUATIONS) for (const fd of core.maskText(all + c).findings) if (fd.start < all.length && fd.end > all.length) shown = Math.max(shown, all.length - fd.start);
      recorded.shownFloor += shown;
      if (fine.held < shown) recorded.belowShown++; // would be a leak: a continuation shows these characters were needed
      if (fine.held > shown) recorded.aboveShown++;
      if (coarse.held > shown) recorded.coarseAboveShown++;
      const ending = all.slice(-1);
      const e = recorded.finePerEnding.get(ending) ?? { deltas: 0, fine: 0, coarse: 0 };
      e.deltas++; e.fine += fine.held; e.coarse += coarse.held;
      recorded.finePerEnding.set(ending, e);
    }
    out += fine.end();
    recorded.blocks++; if (out === core.maskText(all).masked) recorded.equal++;
  }
}

// ---------------------------------------------------------------- report
const pct = (x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(3));
const ci = ([p, lo, hi]) => `${pct(p)} (${pct(lo)}–${pct(hi)})`;
const lines = [];
lines.push(`Corpus: split **${args.split}**, ${docs.length} documents (${PER} seeds per template), ${quality.find((q) => q.entity === 'ALL')?.gold ?? 0} labeled values, ${negSpans} hard negatives. Intervals: 95% Wilson (F2 from the interval ends).`);
lines.push('');
lines.push('| entity | values | precision | recall | F2 | leak rate |');
lines.push('|---|---:|---|---|---|---:|');
for (const q of quality) lines.push(`| ${q.entity} | ${q.gold} | ${ci(q.precision)} | ${ci(q.recall)} | ${ci(q.f2)} | ${(q.leakRate * 100).toFixed(2)}% |`);
lines.push('');
lines.push('| measure | value |');
lines.push('|---|---|');
lines.push(`| leak rate, all sensitive characters | ${(leakOf(['ALL']) * 100).toFixed(2)}% |`);
lines.push(`| leak rate, checksum-validated entities and secrets (${CHECKSUMMED.join(', ')}) | ${(leakOf(CHECKSUMMED) * 100).toFixed(2)}% |`);
lines.push(`| leak rate, structured entities | ${(leakOf(STRUCTURED) * 100).toFixed(2)}% |`);
lines.push(`| over-masking: hard negatives touched | ${negHit} of ${negSpans} (${((negHit / negSpans) * 100).toFixed(2)}%), ${((negMasked / negChars) * 100).toFixed(2)}% of their characters |`);
lines.push(`| speed, prose (MB/s, one core) | ${speed.proseMBps.toFixed(1)} (baseline one-regex email scrub: ${speed.baselineProseMBps.toFixed(0)}) |`);
lines.push(`| speed, PII-dense text (MB/s, one core; ${speed.denseFindingsPerMB.toFixed(0)} findings/MB) | ${speed.denseMBps.toFixed(1)} (baseline: ${speed.baselineDenseMBps.toFixed(0)}) |`);
lines.push(`| speed, an uploaded text file masked as it streams (request masking; multipart in 64 KB chunks; MB/s, one core) | prose ${speed.uploadProseMBps.toFixed(1)}, PII-dense ${speed.uploadDenseMBps.toFixed(1)} (the same texts masked whole: ${speed.proseMBps.toFixed(1)}, ${speed.denseMBps.toFixed(1)}) |`);
lines.push(`| added latency, ${(lat.bytes / 1000).toFixed(1)} KB Messages request, maskMessagesRequest (p50 / p99) | ${(lat.mask.p50 / 1000).toFixed(3)} ms / ${(lat.mask.p99 / 1000).toFixed(3)} ms (JSON parse+stringify alone: ${(lat.parseOnly.p50 / 1000).toFixed(3)} / ${(lat.parseOnly.p99 / 1000).toFixed(3)} ms) |`);
lines.push(`| added latency, ${(claudeCodeLat.bytes / 1000).toFixed(1)} KB Claude Code–style request (20 tools, 30 tool calls in history), maskMessagesRequest for the record, memo warm, the body parsed beforehand (p50 / p99) | ${(claudeCodeLat.mask.p50 / 1000).toFixed(3)} ms / ${(claudeCodeLat.mask.p99 / 1000).toFixed(3)} ms (JSON parse+stringify alone: ${(claudeCodeLat.parseOnly.p50 / 1000).toFixed(3)} / ${(claudeCodeLat.parseOnly.p99 / 1000).toFixed(3)} ms) |`);
lines.push(`| streaming hold-back on prose in Claude-like deltas (1-4 words each) | ${((rawForwarded / deltas) * 100).toFixed(1)}% of ${deltas} deltas forwarded as their original bytes; ${(heldSum / deltas).toFixed(2)} characters held on average after a delta (the invariant's floor: ${(floorSum / deltas).toFixed(2)}) |`);
lines.push(`| streaming delay on that prose | ${((delayedChars / proseChars) * 100).toFixed(1)}% of characters leave one delta later than they arrived (mean ${(delaySum / Math.max(1, delayedChars)).toFixed(2)} deltas, max ${delayMax}); the rest leave in the delta that brought them |`);
const per = (x) => (x / Math.max(1, recorded.deltas)).toFixed(2);
lines.push(`| streaming hold-back on the ${recorded.files} recorded Anthropic streams (${recorded.deltas} text deltas, real chunking) | ${per(recorded.fine)} characters held on average after a delta with the per-detector hold (${per(recorded.coarse)} holding the whole open token run); floors: ${per(recorded.shownFloor)} shown by continuations, ${per(recorded.localFloor)} trailing email local-part run; deltas holding more than the shown floor: ${recorded.aboveShown} (${recorded.coarseAboveShown} holding the whole run), less: ${recorded.belowShown}; ${recorded.equal} of ${recorded.blocks} blocks equal whole-text masking |`);
lines.push(`| streaming = whole-text masking, text chunkings (1-char and random) | ${equal} of ${chunkings} |`);
lines.push(`| streaming = whole-text masking, SSE re-chunked at byte level (1-byte and random, mid UTF-8) | ${sseEqual} of ${sseRuns} |`);
const md = lines.join('\n');
process.stdout.write(`${md}\n`);
if (args.errors) { process.stdout.write(`\n${errors.length} errors:\n`); for (const e of errors.slice(0, 400)) process.stdout.write(`${e}\n`); }

const results = join(root, 'bench/results');
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'masking.json'), JSON.stringify({ split: args.split, perTemplate: PER, documents: docs.length, quality, leak: { all: leakOf(['ALL']), checksummedAndSecrets: leakOf(CHECKSUMMED), structured: leakOf(STRUCTURED) }, overMasking: { negatives: negSpans, touched: negHit, charShare: negMasked / negChars }, speed, latency: lat, latencyClaudeCode: claudeCodeLat, streaming: { chunkings, equal, sseRuns, sseEqual, proseDeltas: deltas, proseRawForwarded: rawForwarded, proseMeanHeldChars: heldSum / deltas, proseFloorMeanHeldChars: floorSum / deltas, proseDelayedCharShare: delayedChars / proseChars, proseMeanDelayDeltas: delaySum / Math.max(1, delayedChars), proseMaxDelayDeltas: delayMax, recorded: { files: recorded.files, deltas: recorded.deltas, meanHeldChars: recorded.fine / recorded.deltas, meanHeldCharsWholeRun: recorded.coarse / recorded.deltas, floorShownByContinuations: recorded.shownFloor / recorded.deltas, floorLocalRun: recorded.localFloor / recorded.deltas, byEnding: Object.fromEntries(recorded.finePerEnding), blocksEqual: recorded.equal, blocks: recorded.blocks, deltasAboveShownFloor: recorded.aboveShown, deltasBelowShownFloor: recorded.belowShown, deltasAboveShownFloorWholeRun: recorded.coarseAboveShown } } }, null, 2));
if (!args.quick) writeFileSync(join(results, 'masking.md'), `${md}\n`);
