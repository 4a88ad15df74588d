// Micro-benchmark of the record write path's CPU work per event, before/after in one process: the
// frozen first implementation (reference.mjs) against the current @skillgate/record, on the
// realistic ~2.4 KB request event of event.mjs. Cases: canonical JSON of the event, sealing (canonical
// JSON + sha256), sealing plus everything the Redis store builds for the event (its text and the
// Lua arguments), and the RESP encoding of one EVALSHA carrying 16 such events (ioredis' encoder,
// and the append connection's own against it).
// Rounds of each case alternate (A B A B ...) so machine noise hits both alike; the median round is
// reported. Writes bench/results/record-seal.json and prints a markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Command } from 'ioredis';
import { canonicalJson, recordHeaders, requestData, sealEvent, sealEventJson } from '@skillgate/record';
import { encodeCommand } from '@skillgate/resp';
import { canonicalJsonV0, recordHeadersV0, redisArgsV0, requestDataV0, sealEventV0 } from './reference.mjs';
import { headers, identity, requestEventData, streamBatchData } from './event.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 150 : 400;

const data = requestEventData(requestData);
const draft = { kind: 'request', sessionId: 'ses_5b0f3a1e8c2d4e6f', identity, requestId: 'req_01HZX3Q4W5E6R7T8Y9', data };
const head = { seq: 41, hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', closed: false };
const now = new Date('2026-11-25T12:00:00.000Z');
const unsealed = { v: 1, kind: draft.kind, sessionId: draft.sessionId, seq: 42, ts: now.toISOString(), identity, requestId: draft.requestId, data, prev: head.hash };
const sealedBytes = Buffer.byteLength(sealEventJson(draft, head, now).json);
if (canonicalJson(unsealed) !== canonicalJsonV0(unsealed)) throw new Error('canonical JSON differs from the first implementation');
if (sealEvent(draft, head, now).hash !== sealEventV0(draft, head, now).hash) throw new Error('sealing differs from the first implementation');

const newArgs = (e, json) => ['e', e.sessionId, String(e.seq), String(Date.parse(e.ts)), e.kind === 'session_close' ? '1' : '0', json, e.seq === 0 ? JSON.stringify(e.identity) : '', e.hash];
// The append's EVALSHA arguments for `events` events (as redis-store.ts builds them), and ioredis'
// RESP encoding of such a command.
const evalshaArgs = (argsOf, events = 16) => {
  const keys = ['p:sessions', 'p:streams'];
  const args = ['', '', ''];
  for (let i = 0; i < events; i++) { keys.push('p:ns:payments', `p:session:${draft.sessionId}:idx`, `p:session:${draft.sessionId}`); args.push(...argsOf()); }
  return ['EVALSHA', '0'.repeat(40), keys.length, ...keys, ...args];
};
const ioredisWire = (args) => new Command(args[0], args.slice(1)).toWritable();
const evalsha = (argsOf) => ioredisWire(evalshaArgs(argsOf));
const v0Batch = () => { const e = sealEventV0(draft, head, now); return redisArgsV0(e); };
const newBatch = () => { const { event, json } = sealEventJson(draft, head, now); return newArgs(event, json); };
const appendArgs = evalshaArgs(newBatch);
const appendArgs2 = evalshaArgs(newBatch, 2); // one connection: a request event and the last response's
const v0Wire = Buffer.byteLength(evalsha(v0Batch));
const newWire = Buffer.byteLength(evalsha(newBatch));

const streamDraft = (data) => ({ kind: 'stream_event', sessionId: draft.sessionId, identity, requestId: draft.requestId, data });
const streamV0 = streamDraft(streamBatchData('event-first'));
const streamNew = streamDraft(streamBatchData('data-first'));
const streamBytes = Buffer.byteLength(sealEventJson(streamNew, head, now).json);

let sink = 0;
const cases = [
  ['canonical JSON of the event', () => canonicalJsonV0(unsealed).length, () => canonicalJson(unsealed).length],
  ['seal (canonical JSON + sha256)', () => sealEventV0(draft, head, now).hash.length, () => sealEvent(draft, head, now).hash.length],
  ['seal + what the Redis store builds (event text, Lua args)', () => v0Batch()[5].length, () => newBatch()[5].length],
  ['... + RESP encoding (ioredis; one EVALSHA of 16 events, per event)', () => evalsha(v0Batch).length, () => evalsha(newBatch).length, 16],
  ['RESP encoding alone (one EVALSHA of 16 events, per event): ioredis → the append connection\'s encoder',
    () => Buffer.byteLength(ioredisWire(appendArgs)),
    () => encodeCommand(appendArgs).length, 16],
  ['RESP encoding alone (one EVALSHA of 2 events, per event): ioredis → the append connection\'s encoder',
    () => Buffer.byteLength(ioredisWire(appendArgs2)),
    () => encodeCommand(appendArgs2).length, 2],
  ['request event from scratch: requestData (headers, body digest) + seal + store args',
    () => redisArgsV0(sealEventV0({ ...draft, data: requestEventData(requestDataV0) }, head, now))[5].length,
    () => { const { event, json } = sealEventJson({ ...draft, data: requestEventData(requestData) }, head, now); return newArgs(event, json)[5].length; }],
  [`stream_event of 64 SSE deltas (${streamBytes} bytes sealed): seal + store args`,
    () => redisArgsV0(sealEventV0(streamV0, head, now))[5].length,
    () => { const { event, json } = sealEventJson(streamNew, head, now); return newArgs(event, json)[5].length; }],
  ['recordHeaders (19 request headers)', () => Object.keys(recordHeadersV0(headers)).length, () => Object.keys(recordHeaders(headers)).length],
];

function round(fn) {
  const end = performance.now() + ROUND_MS;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) { for (let i = 0; i < 100; i++) sink += fn(); n += 100; }
  return ((performance.now() - t0) * 1e6) / n; // ns per op
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const rows = [];
for (const [label, before, after, per = 1] of cases) {
  round(before); round(after); // warm-up
  const b = [], a = [];
  for (let r = 0; r < ROUNDS; r++) { b.push(round(before) / per); a.push(round(after) / per); }
  rows.push({ label, before_us: +(median(b) / 1000).toFixed(2), after_us: +(median(a) / 1000).toFixed(2), speedup: +(median(b) / median(a)).toFixed(2) });
}
if (sink === 0) throw new Error('unreachable');

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/record-seal.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, sealedBytes, wireBytesPer16: { before: v0Wire, after: newWire }, rows }, null, 2));
const lines = [`### Sealing and serialising one request event (${sealedBytes} bytes sealed; bench/record/seal.mjs)`, '',
  '| per event | before | after | speed-up |', '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.label} | ${r.before_us.toFixed(2)} µs | ${r.after_us.toFixed(2)} µs | ${r.speedup.toFixed(2)}× |`),
  `| bytes to Redis per event (EVALSHA of 16) | ${Math.round(v0Wire / 16)} B | ${Math.round(newWire / 16)} B | |`, ''];
process.stdout.write(`${lines.join('\n')}\n`);
