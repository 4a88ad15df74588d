#!/usr/bin/env node
// Masking through the sidecar: added p50/p99 latency of a 10 KB, PII-laden Messages request (a
// multi-turn conversation with emails, phone numbers, a card, names, an API key) at one connection,
// side by side in one run: direct to the upstream, the bare sidecar (no policy, no record), and the
// full sidecar (policy, Redis recording) with masking in record mode (records hold masked copies)
// and in request mode (Claude never sees the values). Client, upstream and sidecars share one core
// (cross-core wake-ups would swamp the differences). Prints a markdown table; writes
// bench/results/masking-sidecar.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { latencyClient, sampleLatency, summarise } from '../lib/latency.mjs';
import { pin, startReadyChild } from '../lib/process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const quick = process.argv.includes('--quick');
const SAMPLES = quick ? 200 : 1500;
const WARMUP = quick ? 50 : 300;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function conversation(targetBytes) {
  const people = ['Jane Doe <jane.doe@example.com>', 'Marco Rossi, +1 415 555 0134', 'Aiko Tanaka (aiko.tanaka@example.org)'];
  const turns = [];
  let i = 0;
  while (JSON.stringify(turns).length < targetBytes) {
    const who = people[i % people.length];
    turns.push({ role: 'user', content: `Ticket ${1000 + i}: customer ${who} asks to move the invoice to card 4111 1111 1111 1111 and confirms the office address at 221B Baker Street, London. They also pasted a key sk-ant-api03-${'A'.repeat(93)}AA by mistake. Please summarise what changed since the previous ticket and list the follow-ups for the support team in order of urgency.` });
    turns.push({ role: 'assistant', content: `Summary for ticket ${1000 + i}: the customer changed their payment method and shared credentials that must be rotated. Follow-ups: rotate the key, confirm the card change, update the CRM record.` });
    i++;
  }
  turns.push({ role: 'user', content: 'Summarise all tickets above in three bullet points.' });
  return { model: 'claude-sonnet-4-6', max_tokens: 64, messages: turns };
}

// Like a real skill, every request resends the history with one new user turn at the end (the
// history is what the sidecar has seen before; the newest turn is new each time).
const history = conversation(10 * 1024);
let turn = 0;
const nextBody = () => JSON.stringify({ ...history, messages: [...history.messages.slice(0, -1), { role: 'user', content: `Follow-up ${turn++}: customer ${turn}@example.com asks for the status of ticket ${2000 + turn}; summarise the tickets above.` }] });
const body = nextBody();
const dir = mkdtempSync(join(tmpdir(), 'sg-bench-masking-'));
const token = `benchmask${randomBytes(3).toString('hex')}`;
function policyFile(mode) {
  const file = join(dir, `${mode}.yaml`);
  writeFileSync(file, `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: masking-${mode} }\nspec:\n  models: { allow: ["claude-*"] }\n  masking: { mode: ${mode} }\n`);
  return file;
}

const node = process.execPath;
// Every process started here is stopped at the end, and the run's Redis keys and files removed,
// whatever happens on the way (a sidecar that fails to start included).
const started = [];
try {
  const upstream = await startReadyChild('fake-claude', node, [join(here, 'fake.mjs')]);
  started.push(upstream);
  const rows = [{ key: 'direct', label: 'direct to upstream', url: upstream.url }];
  const bare = await startReadyChild('sidecar', node, [join(root, 'bench/proxy/sidecar.mjs'), upstream.url]);
  started.push(bare);
  rows.push({ key: 'bare', label: 'sidecar, bare (no policy, no record)', url: bare.url, proc: bare });
  for (const mode of ['record', 'request']) {
    const env = { REDIS_URL, SKILLGATE_REDIS_PREFIX: `${token}:`, SKILLGATE_POLICY_FILE: policyFile(mode), SKILLGATE_SKILL: token, SKILLGATE_NAMESPACE: token, SKILLGATE_MASKING_KEY: 'bench-installation-key-0123456789' };
    const full = await startReadyChild(`sidecar-${mode}`, node, [join(root, 'bench/proxy/sidecar.mjs'), '--full', upstream.url], { env });
    started.push(full);
    rows.push({ key: mode, label: `sidecar, full, masking mode ${mode}`, url: full.url, proc: full });
  }
  for (const p of [upstream, ...rows.map((r) => r.proc).filter(Boolean)]) pin(p.pid, 1);
  pin(process.pid, 1);

  const clients = rows.map((r) => latencyClient({ url: r.url, path: '/v1/messages', headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' }, body: nextBody }));
  for (const c of clients) for (let i = 0; i < WARMUP; i++) await c.once();
  const results = rows.map(() => ({ samples: [], errors: 0 }));
  const rounds = 4;
  const deadline = Date.now() + 5 * 60_000;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < rows.length; i++) await sampleLatency(clients[i], Math.ceil(SAMPLES / rounds), deadline, results[i]);
  }
  const stats = results.map((r) => summarise(r.samples));
  const direct = stats[0];
  const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`);
  const lines = [
    '## Masking through the sidecar: a 10 KB PII-laden request',
    '',
    `One connection, ${SAMPLES} sequential requests per row after ${WARMUP} warm-up, rows interleaved in ${rounds} rounds, everything on CPU 1. Request: ${(Buffer.byteLength(body) / 1024).toFixed(1)} KB, a ${history.messages.length}-message conversation with emails, phone numbers, a card, names, addresses and an Anthropic key in every user turn; each request resends that history with a new last user turn (as Claude's stateless API requires), so the sidecar's memo of masked history is exercised as in real traffic. "Full" = the production wiring (policy, Redis recording: the request event is durable before forwarding).`,
    '',
    '| row | p50 | p99 | added p50 | added p99 | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r, i) => `| ${r.label} | ${fmt(stats[i].p50)} | ${fmt(stats[i].p99)} | ${i === 0 ? '—' : `+${fmt(stats[i].p50 - direct.p50)}`} | ${i === 0 ? '—' : `+${fmt(stats[i].p99 - direct.p99)}`} | ${results[i].errors} |`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/masking-sidecar.json'), JSON.stringify({ date: new Date().toISOString(), bytes: Buffer.byteLength(body), rows: rows.map((r, i) => ({ key: r.key, label: r.label, ...stats[i], errors: results[i].errors })) }, null, 2));

  for (const c of clients) c.close();
} finally {
  for (const p of started.reverse()) await p.stop();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${token}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
