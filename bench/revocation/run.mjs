#!/usr/bin/env node
// bench/revocation — how fast a lock reaches live streams across many sidecar processes.
//
// Starts a real kube-apiserver (e2e/k8s), the controller, an endless slow SSE upstream and N real
// sidecar child processes (default 20 for the target owner + 2 for a control owner), each holding a
// live stream. Each round places a lock and measures, from just before the API write:
//   - cut:     when each matching stream received its end (event: error, then close);
//   - refused: when a new request on each matching sidecar is first refused (polled every 5 ms).
// Rounds 1..R lock the owner with a SkillLock object (POST to the API server, as `skillgate lock`);
// then S rounds deprovision the owner through SCIM (PATCH active=false, as Okta/Entra do), each
// followed by a reinstatement (PATCH active=true) and a wait until every sidecar serves again.
// Prints a markdown table and writes JSON to bench/results/revocation.json.
//
//   node bench/revocation/run.mjs [--sidecars 20] [--rounds 5] [--scim-rounds 5]
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setup, endlessSse, openStream, within } from '../../e2e/controller/harness.mjs';
import { memoryMb } from '../lib/process.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { sidecars: { type: 'string', default: '20' }, rounds: { type: 'string', default: '5' }, 'scim-rounds': { type: 'string', default: '5' } } });
const N = Number(values.sidecars);
const ROUNDS = Number(values.rounds);
const SCIM_ROUNDS = Number(values['scim-rounds']);

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const fmt = (x) => `${x.toFixed(1)} ms`;

function probe(url) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: 'claude-test', max_tokens: 1, stream: true, messages: [{ role: 'user', content: 'x' }] });
    const req = http.request(`${url}/v1/messages`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.destroy();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function refusedAt(url, t0, timeoutMs = 5000) {
  while (performance.now() - t0 < timeoutMs) {
    if ((await probe(url)) === 403) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  return Infinity;
}

const h = await setup({ heartbeatMs: 1000 });
const upstream = await endlessSse(50);
const results = { sidecars: N, rounds: [], machine: `${process.platform} ${process.arch}, node ${process.version}` };
try {
  const owner = `target${h.domain}`;
  const control = `control${h.domain}`;
  const pods = [];
  for (let i = 0; i < N; i++) pods.push(await h.skillPod(`target-${i}`, { skill: `skill-${i % 5}`, owner }));
  const controlPods = [await h.skillPod('control-0', { skill: 'control', owner: control }), await h.skillPod('control-1', { skill: 'control', owner: control })];
  process.stderr.write(`starting ${N + 2} sidecar processes...\n`);
  const sidecars = await Promise.all(pods.map((p) => h.sidecarProcess(p, upstream.url)));
  const controls = await Promise.all(controlPods.map((p) => h.sidecarProcess(p, upstream.url)));
  const scimUser = await h.scim('POST', '/Users', { userName: owner, active: true });

  const allServe = (what) => within((async () => { for (;;) { const codes = await Promise.all(sidecars.map((s) => probe(s.claudeUrl))); if (codes.every((c) => c === 200)) return; await new Promise((r) => setTimeout(r, 20)); } })(), 30_000, what);
  // Each sidecar's memory once it has served a request and gone quiet: the in-cluster wiring
  // (workload token, lock feed, SkillPolicy watch through the API server, records in Redis).
  await allServe('sidecars to serve');
  await new Promise((r) => setTimeout(r, 1000));
  results.memory = [...sidecars, ...controls].map((s) => memoryMb(s.child.pid));
  for (let round = 1; round <= ROUNDS + SCIM_ROUNDS; round++) {
    const viaScim = round > ROUNDS;
    const streams = await Promise.all(sidecars.map((s) => openStream(s.claudeUrl)));
    const controlStreams = await Promise.all(controls.map((s) => openStream(s.claudeUrl)));
    await within(Promise.all([...streams, ...controlStreams].map((s) => s.firstBytes)), 10_000, 'streams to start');
    const t0 = performance.now();
    const write = viaScim
      ? h.scim('PATCH', `/Users/${scimUser.body.id}`, { Operations: [{ op: 'replace', value: { active: false } }] })
      : h.cp.request('POST', '/apis/skillgate.dev/v1alpha1/skilllocks', { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillLock', metadata: { name: `bench-${round}` }, spec: { target: { kind: 'owner', value: owner }, reason: `bench round ${round}`, createdBy: 'bench' } });
    const refusals = Promise.all(sidecars.map((s) => refusedAt(s.claudeUrl, t0)));
    const writeDone = await write.then(() => performance.now() - t0);
    await within(Promise.all(streams.map((s) => s.ended)), 10_000, 'all target streams to be cut');
    const cuts = streams.map((s) => s.endedAt() - t0);
    const refused = await refusals;
    const controlAlive = controlStreams.every((s) => !s.text().includes('event: error'));
    const cutsWithError = streams.filter((s) => /event: error\ndata: .*permission_error/.test(s.text())).length;
    for (const s of controlStreams) s.close();
    results.rounds.push({ round, via: viaScim ? 'SCIM PATCH active=false' : 'SkillLock POST', apiWriteMs: writeDone, cuts, refused, controlAlive, cutsWithError });
    process.stderr.write(`round ${round} (${viaScim ? 'SCIM' : 'SkillLock'}): last cut ${fmt(Math.max(...cuts))}, last refusal ${fmt(Math.max(...refused))}, control alive=${controlAlive}\n`);
    if (!viaScim) {
      await h.cp.request('DELETE', `/apis/skillgate.dev/v1alpha1/skilllocks/bench-${round}`);
      await allServe('unlock to propagate');
    } else if (round < ROUNDS + SCIM_ROUNDS) {
      await h.scim('PATCH', `/Users/${scimUser.body.id}`, { Operations: [{ op: 'replace', value: { active: true } }] });
      await allServe('reinstatement to propagate');
    }
  }
} finally {
  await upstream.close();
  await h.stop();
}

const scimRounds = results.rounds.filter((r) => r.via.startsWith('SCIM'));
const lockRounds = results.rounds.filter((r) => !r.via.startsWith('SCIM'));
const all = results.rounds.flatMap((r) => r.cuts);
const lastCuts = results.rounds.map((r) => Math.max(...r.cuts));
const refused = results.rounds.flatMap((r) => r.refused);
const summary = {
  streamCutP50: pct(all, 50), streamCutP99: pct(all, 99), lastCutP50: pct(lastCuts, 50), lastCutMax: Math.max(...lastCuts),
  refusedP50: pct(refused, 50), refusedP99: pct(refused, 99), refusedMax: Math.max(...refused),
  apiWriteP50: pct(lockRounds.map((r) => r.apiWriteMs), 50),
  scimCallP50: scimRounds.length ? pct(scimRounds.map((r) => r.apiWriteMs), 50) : undefined,
  scimRefusedP50: scimRounds.length ? pct(scimRounds.flatMap((r) => r.refused), 50) : undefined,
  scimRefusedP99: scimRounds.length ? pct(scimRounds.flatMap((r) => r.refused), 99) : undefined,
  scimRefusedMax: scimRounds.length ? Math.max(...scimRounds.flatMap((r) => r.refused)) : undefined,
  scimCutP99: scimRounds.length ? pct(scimRounds.flatMap((r) => r.cuts), 99) : undefined,
  lockRefusedP50: lockRounds.length ? pct(lockRounds.flatMap((r) => r.refused), 50) : undefined,
  lockRefusedMax: lockRounds.length ? Math.max(...lockRounds.flatMap((r) => r.refused)) : undefined,
  rssIdleP50: pct(results.memory.map((m) => m.rss), 50), rssIdleMax: Math.max(...results.memory.map((m) => m.rss)),
  anonIdleP50: pct(results.memory.map((m) => m.anon), 50),
  controlAlways: results.rounds.every((r) => r.controlAlive), wellFormedCuts: results.rounds.every((r) => r.cutsWithError === r.cuts.length),
};
results.summary = summary;
fs.mkdirSync(path.join(HERE, '..', 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, '..', 'results', 'revocation.json'), JSON.stringify(results, null, 2));
const rows = [
  ['stream cut (each stream), p50', fmt(summary.streamCutP50)],
  ['stream cut (each stream), p99', fmt(summary.streamCutP99)],
  ['last stream cut per round, p50', fmt(summary.lastCutP50)],
  ['last stream cut per round, max', fmt(summary.lastCutMax)],
  ['new request refused, p50', fmt(summary.refusedP50)],
  ['new request refused, p99', fmt(summary.refusedP99)],
  ['API write round trip (SkillLock POST), p50', fmt(summary.apiWriteP50)],
  ...(summary.scimRefusedP50 !== undefined ? [
    ['SCIM rounds: new request refused, p50', fmt(summary.scimRefusedP50)],
    ['SCIM rounds: new request refused, p99', fmt(summary.scimRefusedP99)],
    ['SCIM rounds: new request refused, max', fmt(summary.scimRefusedMax)],
    ['SCIM rounds: stream cut, p99', fmt(summary.scimCutP99)],
    ['SCIM PATCH round trip, p50', fmt(summary.scimCallP50)],
  ] : []),
  ...(summary.lockRefusedP50 !== undefined ? [
    ['SkillLock rounds: new request refused, p50 / max', `${fmt(summary.lockRefusedP50)} / ${fmt(summary.lockRefusedMax)}`],
  ] : []),
  ['sidecar RSS idle, in-cluster wiring (median / max of the processes)', `${summary.rssIdleP50.toFixed(0)} MB (anon ${summary.anonIdleP50.toFixed(0)}) / ${summary.rssIdleMax.toFixed(0)} MB`],
  ['control owner kept streaming', String(summary.controlAlways)],
  ['every cut was a well-formed event: error', String(summary.wellFormedCuts)],
];
console.log(`\n### Revocation: ${N} target sidecar processes (+2 control), ${results.rounds.length} rounds (${ROUNDS} SkillLock, ${SCIM_ROUNDS} SCIM)\n`);
console.log(`Per round (last cut / last refusal): ${results.rounds.map((r) => `${r.via.startsWith('SCIM') ? 'SCIM' : 'SkillLock'} ${Math.max(...r.cuts).toFixed(0)}/${Math.max(...r.refused).toFixed(0)}`).join(', ')} ms\n`);
console.log('| measure (from just before the API write) | value |\n|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
