// Recording cost, side by side with its baselines in the same run:
//  1. added latency of ONE awaited append (sealing + Redis round trip), vs a bare Redis PING on the
//     same kind of connection, and the local file store's awaited append (write + fdatasync);
//  2. events/s into Redis with many appends in flight (batched by the recorder), vs raw pipelined
//     XADD of the same JSON (no chain, no index).
// The event is the realistic ~2.4 KB request event of event.mjs. RECORD_IMPL=path/to/index.js runs the
// same benchmark against another build of @skillgate/record (e.g. a copy of an older dist, placed
// inside the repo so its imports resolve), for before/after numbers on the same machine and load.
// Writes bench/results/record.json (RECORD_JSON overrides), prints a markdown table. Uses a unique
// key prefix; cleans up.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { identity, requestEventData } from './event.mjs';

const impl = process.env.RECORD_IMPL ? await import(pathToFileURL(resolve(process.env.RECORD_IMPL)).href) : await import('@skillgate/record');
const { FileSessionStore, RecordSigner, RedisSessionStore, SessionRecorder, requestData } = impl;

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const quick = process.argv.includes('--quick');
const LAT_N = quick ? 1000 : 5000;
const TPUT_N = quick ? 20_000 : 200_000;
const data = requestEventData(requestData);
const draft = (sessionId, i) => ({ kind: 'request', sessionId, identity, requestId: `req_${i}`, data });

const pct = (arr, p) => { const s = [...arr].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const us = (t0) => Number(process.hrtime.bigint() - t0) / 1000;

async function latency(label, fn) {
  for (let i = 0; i < 200; i++) await fn(i); // warm-up
  const samples = [];
  for (let i = 0; i < LAT_N; i++) { const t0 = process.hrtime.bigint(); await fn(i); samples.push(us(t0)); }
  return { label, p50_us: +pct(samples, 50).toFixed(1), p99_us: +pct(samples, 99).toFixed(1), n: LAT_N };
}

async function cleanup(prefix) {
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do { const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000); cursor = next; if (keys.length) await r.del(...keys); } while (cursor !== '0');
  await r.quit();
}

const prefix = `sgbench:${randomBytes(4).toString('hex')}:`;
const results = { latency: [], throughput: [] };
try {
  // --- latency
  const ping = new Redis(REDIS_URL);
  results.latency.push(await latency('baseline: Redis PING round trip', () => ping.ping()));
  await ping.quit();

  const store = new RedisSessionStore({ redis: REDIS_URL, prefix, failFast: true });
  await store.ready();
  const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0, spool: { dir: mkdtempSync(join(tmpdir(), 'sgb-spool-')), maxBytes: 1 << 30 } });
  results.latency.push(await latency('awaited append -> Redis (seal + Lua XADD/index)', (i) => recorder.append(draft('ses_lat', i))));

  const dir = mkdtempSync(join(tmpdir(), 'sgb-file-'));
  const fileStore = new FileSessionStore(dir);
  const fileRecorder = await SessionRecorder.open({ store: fileStore, signer: RecordSigner.generate(), checkpointIntervalMs: 0 });
  results.latency.push(await latency('awaited append -> local file store (write + fdatasync)', (i) => fileRecorder.append(draft('ses_lat', i))));
  await fileRecorder.close(); await fileStore.close(); rmSync(dir, { recursive: true, force: true });

  // --- throughput
  const raw = new Redis(REDIS_URL);
  const json = JSON.stringify({ ...draft('ses_raw', 0), seq: 0, prev: '0'.repeat(64), hash: 'f'.repeat(64), ts: new Date().toISOString(), v: 1 });
  {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < TPUT_N; i += 1000) {
      const p = raw.pipeline();
      for (let j = 0; j < 1000; j++) p.xadd(`${prefix}raw`, '*', 'e', json);
      await p.exec();
    }
    const s = us(t0) / 1e6;
    results.throughput.push({ label: 'baseline: raw pipelined XADD (1000/pipeline)', events_per_s: Math.round(TPUT_N / s), n: TPUT_N });
  }
  await raw.quit();
  for (const inflight of [256, 4096]) {
    const t0 = process.hrtime.bigint();
    let started = 0;
    const sessions = 64;
    await new Promise((resolve, reject) => {
      let done = 0;
      const next = () => {
        if (started >= TPUT_N) { if (done === TPUT_N) resolve(); return; }
        const i = started++;
        recorder.append(draft(`ses_tp_${inflight}_${i % sessions}`, i)).then(() => { done++; next(); }, reject);
      };
      for (let k = 0; k < inflight; k++) next();
    });
    const s = us(t0) / 1e6;
    results.throughput.push({ label: `SessionRecorder.append, ${inflight} in flight, ${sessions} sessions`, events_per_s: Math.round(TPUT_N / s), n: TPUT_N });
  }
  await recorder.close();
  await store.close();
} finally {
  await cleanup(prefix);
}

mkdirSync('bench/results', { recursive: true });
writeFileSync(process.env.RECORD_JSON ?? 'bench/results/record.json', JSON.stringify({ date: new Date().toISOString(), redis: REDIS_URL.replace(/\/\/[^@]*@/, '//***@'), ...results }, null, 2));
const lines = ['### Recording (bench/record)', '', '| what | p50 | p99 | n |', '|---|---|---|---|',
  ...results.latency.map((r) => `| ${r.label} | ${(r.p50_us / 1000).toFixed(3)} ms | ${(r.p99_us / 1000).toFixed(3)} ms | ${r.n} |`),
  '', '| what | events/s | n |', '|---|---|---|',
  ...results.throughput.map((r) => `| ${r.label} | ${r.events_per_s.toLocaleString('en-US')} | ${r.n} |`), ''];
process.stdout.write(`${lines.join('\n')}\n`);
