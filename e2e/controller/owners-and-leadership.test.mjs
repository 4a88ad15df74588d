// Owners from pod annotations, giving a skill another owner (by recreating its pod) lifting an
// offboarding cascade for that skill, SkillLock counters, and leader election between two controller
// replicas — on a real kube-apiserver (RBAC, watches, Leases), real Redis and real sidecar processes.
// No skillgate webhook runs here: pods are made as the injector leaves them.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setup, endlessSse, openStream, within } from './harness.mjs';

let h;
let upstream;
beforeAll(async () => {
  h = await setup({ lockStatsIntervalMs: 200 });
  upstream = await endlessSse();
}, 180_000);
afterAll(async () => {
  await upstream?.close();
  await h?.stop();
});

/** Polls `check` every `everyMs` until it returns a truthy value; fails after `timeoutMs`. */
async function eventually(check, timeoutMs, what, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Status of a new streaming request through a sidecar (the stream is closed once headers arrive). */
async function requestStatus(sidecar) {
  const s = await openStream(sidecar.claudeUrl);
  if (s.status === 200) s.close();
  else await s.ended;
  return { status: s.status, text: s.text() };
}

const scimUser = async (email) => (await h.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`)).body.Resources[0];

describe('owners from pod annotations and reassignment', () => {
  test('an owner first seen on a pod annotation is registered as an active owner', async () => {
    const email = `newcomer${h.domain}`;
    expect(await scimUser(email)).toBeUndefined();
    await h.skillPod('newcomer-pod', { skill: 'intro', owner: email });
    const user = await eventually(() => scimUser(email), 10_000, 'the pod\'s owner to be registered');
    expect(user.active).toBe(true);
    // When the identity provider later provisions the same person, it adopts that record (no 409).
    const provisioned = await h.scim('POST', '/Users', { userName: email, externalId: 'okta-00u1', active: true });
    expect(provisioned.status).toBe(201);
    expect(provisioned.body.id).toBe(user.id);
    expect((await h.scim('POST', '/Users', { userName: email })).status).toBe(409);
  });

  test('giving a skill of an offboarded owner to an active owner, by recreating its pod, lifts the cascade for that skill only', async () => {
    const leaving = `leaver${h.domain}`;
    const taking = `taker${h.domain}`;
    const created = await h.scim('POST', '/Users', { userName: leaving, active: true });
    const [x, y] = await Promise.all([
      h.skillPod('skill-x', { skill: 'x', owner: leaving }),
      h.skillPod('skill-y', { skill: 'y', owner: leaving }),
    ]);
    const env = { SKILLGATE_OWNER: leaving };
    const [sx, sy] = await Promise.all([h.sidecarProcess(x, upstream.url, env), h.sidecarProcess(y, upstream.url, env)]);
    expect((await requestStatus(sx)).status).toBe(200);
    expect((await requestStatus(sy)).status).toBe(200);

    expect((await h.scim('PATCH', `/Users/${created.body.id}`, { Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(200);
    await eventually(async () => (await requestStatus(sx)).status === 403, 5000, 'skill x to be refused after offboarding');
    await eventually(async () => (await requestStatus(sy)).status === 403, 5000, 'skill y to be refused after offboarding');

    // The way with the chart installed: the validating webhook keeps skillgate.dev/owner fixed for a
    // pod's life (e2e/webhook proves it), so the owner changes in the pod template and a rollout
    // recreates the pod — here, the pod is recreated by hand. Its new token names the new owner.
    sx.child.kill('SIGTERM');
    await h.cp.request('DELETE', `/api/v1/namespaces/${h.teamNs}/pods/skill-x?gracePeriodSeconds=0`);
    const x2 = await h.skillPod('skill-x-2', { skill: 'x', owner: taking });
    const sx2 = await h.sidecarProcess(x2, upstream.url, { SKILLGATE_OWNER: taking });
    let last;
    await eventually(async () => (last = await requestStatus(sx2)).status === 200, 30_000, 'skill x to work under its new owner', 200)
      .catch((err) => { throw new Error(`${err.message}; last answer ${last?.status}: ${last?.text}`); });
    const after = await h.exchange(x2.token);
    expect(after.status).toBe(200);
    expect(after.body.skill_identity.owner).toBe(taking);
    // The owner stays offboarded: their other skill is still refused, and no token is issued for it.
    const stillRefused = await requestStatus(sy);
    expect(stillRefused.status).toBe(403);
    expect(stillRefused.text).toContain(`owner ${leaving}`);
    expect(stillRefused.text).toContain('offboarded');
    const yExchange = await h.exchange(y.token);
    expect(yExchange.status).toBe(403);
    expect(yExchange.body.error).toBe('access_denied');
    expect(yExchange.body.error_description).toMatch(/set skillgate.dev\/owner in its pod template and roll it out/);
    expect((await scimUser(leaving)).active).toBe(false);
  }, 90_000);

  test('an owner annotation changed in place, where no validating webhook ran, still revokes the tokens naming the old owner', async () => {
    // This namespace has no skillgate webhooks (none run in this suite); with the chart installed the
    // validating webhook refuses this change, and a pod admitted while it was down (failurePolicy
    // Ignore) is the only way to one. The controller does not trust the old owner's tokens either way.
    const before = `before${h.domain}`;
    const after = `after${h.domain}`;
    const pod = await h.skillPod('edited-in-place', { skill: 'z', owner: before });
    const first = await h.exchange(pod.token);
    expect(first.status).toBe(200);
    await eventually(async () => (await scimUser(before)) !== undefined, 10_000, 'the pod\'s owner to be seen');
    const patched = await h.cp.request('PATCH', `/api/v1/namespaces/${h.teamNs}/pods/edited-in-place`, { metadata: { annotations: { 'skillgate.dev/owner': after } } }, { contentType: 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    await eventually(() => h.events.some((e) => e.name === 'skillReassigned' && e.pod === 'edited-in-place' && e.from === before && e.to === after && e.jtis.length > 0), 10_000, 'the pod\'s tokens naming the old owner to be revoked');
    expect((await h.exchange(pod.token)).body.skill_identity.owner).toBe(after);
  }, 60_000);
});

describe('SkillLock counters', () => {
  test('what sidecars count for a lock in Redis appears in the SkillLock status', async () => {
    const name = `counted-${h.runId}`;
    await h.cp.request('POST', '/apis/skillgate.dev/v1alpha1/skilllocks', {
      apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillLock', metadata: { name },
      spec: { target: { kind: 'owner', value: `counted${h.domain}` }, reason: 'counter test', createdBy: 'e2e' },
    });
    // What a sidecar does when this lock cuts a stream and refuses requests (HINCRBY, fire and forget).
    await h.redis.multi().hincrby(`${h.prefix}locks:stats:${name}`, 'streamsKilled', 2).hincrby(`${h.prefix}locks:stats:${name}`, 'requestsRefused', 5).exec();
    const status = await eventually(async () => {
      const r = await h.cp.request('GET', `/apis/skillgate.dev/v1alpha1/skilllocks/${name}`);
      return r.body.status?.requestsRefused === 5 ? r.body.status : undefined;
    }, 10_000, 'the counters to reach the SkillLock status');
    expect(status.streamsKilled).toBe(2);
  });
});

describe('approvals run inside skillgate controller', () => {
  test('a new SkillApproval is announced to the webhook with signed links, and following a link records the approver\'s decision', async () => {
    const received = [];
    let onMessage;
    const gotMessage = new Promise((r) => { onMessage = r; });
    const hook = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => { received.push(JSON.parse(text)); onMessage(); res.end('ok'); });
    });
    await new Promise((r) => hook.listen(0, '127.0.0.1', r));
    const secretFile = path.join(h.tmp, 'link-secret');
    fs.writeFileSync(secretFile, randomBytes(24).toString('hex'));
    // The suite's controller leads; replace it by one configured for approvals (it takes the Lease).
    await h.controller.close();
    const ctl = await h.startReplica({ identity: `approvals-${h.runId}`, approvals: {
      webhookUrl: `http://127.0.0.1:${hook.address().port}/hooks/T1`, linkBaseUrl: 'http://placeholder.invalid', linkSecretFile: secretFile,
    } });
    try {
      await eventually(() => ctl.isLeader(), 10_000, 'the approvals replica to lead');
      const name = `apr-${h.runId}`;
      const created = await h.cp.request('POST', `/apis/skillgate.dev/v1alpha1/namespaces/${h.teamNs}/skillapprovals`, {
        apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillApproval', metadata: { name },
        spec: {
          identity: { namespace: h.teamNs, serviceAccount: 'default', pod: 'p', skill: 'summarize', owner: `erin${h.domain}` },
          requestId: 'req_e2e', sessionId: 'ses_e2e', requestDigest: 'ab'.repeat(32), policy: `${h.teamNs}/guarded`,
          rules: [`${h.teamNs}/guarded/ssn`], reasons: ['the newest user turn contains 1 US SSN'], summary: { model: 'claude-test', stream: true },
          approvers: { groups: ['security'], quorum: 1 }, expiresAt: new Date(Date.now() + 5 * 60_000).toISOString(),
        },
      });
      expect(created.status).toBe(201);
      await within(gotMessage, 10_000, 'the approval notification');
      const actions = received[0].blocks.find((b) => b.type === 'actions');
      const approve = new URL(actions.elements.find((e) => e.text.text === 'Approve').url);
      expect(approve.pathname).toBe(`/approvals/${h.teamNs}/${name}/approve`);
      // Follow the link on the controller itself (the proxy in front would set the user headers).
      const url = `${ctl.url}${approve.pathname}${approve.search}`;
      // Flip a character in the middle of the signed token: every bit there counts (the last
      // base64url character may carry only padding bits, so changing it can leave the bytes equal).
      const token = approve.searchParams.get('token');
      const mid = Math.floor(token.length / 2);
      const flipped = token.slice(0, mid) + (token[mid] === 'A' ? 'Q' : 'A') + token.slice(mid + 1);
      const tampered = url.replace(token, flipped);
      const post = (u, headers) => fetch(u, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'reason=looked+fine' });
      expect((await post(tampered, { 'x-forwarded-user': 'sam', 'x-forwarded-groups': 'security' })).status).toBe(403);
      expect((await post(url, { 'x-forwarded-user': `erin${h.domain}`, 'x-forwarded-groups': 'security' })).status).toBe(409);
      const ok = await post(url, { 'x-forwarded-user': 'sam', 'x-forwarded-groups': 'security' });
      expect(ok.status).toBe(200);
      const phase = await eventually(async () => {
        const r = await h.cp.request('GET', `/apis/skillgate.dev/v1alpha1/namespaces/${h.teamNs}/skillapprovals/${name}`);
        return r.body.status?.phase === 'Approved' ? r.body.status : undefined;
      }, 10_000, 'the approval to be Approved');
      expect(phase.decisions).toEqual([expect.objectContaining({ user: 'sam', decision: 'approve', reason: 'looked fine' })]);
    } finally {
      await ctl.close();
      await new Promise((r) => { hook.closeAllConnections(); hook.close(r); });
    }
  }, 60_000);
});

describe('leader election with two controller replicas', () => {
  test('only the Lease holder publishes the lock feed; when it stops, the other takes over and publishes', async () => {
    const firstEvents = [];
    const secondEvents = [];
    const tap = (list) => new Proxy({}, { get: (_t, name) => (e) => list.push({ name, ...e }) });
    // Stop the suite's controller: two fresh replicas compete for the Lease from here on.
    await h.controller.close();
    const first = await h.startReplica({ identity: `first-${h.runId}`, events: tap(firstEvents) });
    const second = await h.startReplica({ identity: `second-${h.runId}`, events: tap(secondEvents) });
    try {
      expect(first.isLeader()).toBe(true);
      expect(second.isLeader()).toBe(false);
      const lease = await h.cp.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${h.sgNs}/leases/skillgate-controller`);
      expect(lease.body.spec.holderIdentity).toBe(`first-${h.runId}`);

      // Both replicas serve the token exchange.
      const pod = await h.skillPod('leader-pod', { skill: 'lead', owner: `steady${h.domain}` });
      for (const c of [first, second]) {
        const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: pod.token, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' });
        const res = await fetch(`${c.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
        expect(res.status).toBe(200);
      }

      const lock = async (name) => h.cp.request('POST', '/apis/skillgate.dev/v1alpha1/skilllocks', {
        apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillLock', metadata: { name },
        spec: { target: { kind: 'skill', value: `skill-${name}` }, reason: 'leader test', createdBy: 'e2e' },
      });
      const published = (events, name) => events.some((e) => e.name === 'lockPublished' && e.lock.name === name);
      const one = `lead-one-${randomBytes(3).toString('hex')}`;
      await lock(one);
      await eventually(() => published(firstEvents, one), 5000, 'the leader to publish the lock');
      // The follower saw the same object (it answers token exchanges with it) but published nothing.
      await eventually(() => second.context.locks.inForce.get(one), 5000, 'the follower to see the lock');
      expect(published(secondEvents, one)).toBe(false);

      const t0 = Date.now();
      await first.close();
      await eventually(() => second.isLeader(), 10_000, 'the second replica to take over');
      const takeoverMs = Date.now() - t0;
      expect(takeoverMs).toBeLessThan(5000); // released on stop, so no wait for the lease to expire
      // Holding the Lease comes first; the replica then opens its feed writer and republishes the
      // whole set. A lock arriving in between is published by that republish (no per-lock event), so
      // wait for the writer before creating the next lock and looking for its own publication.
      await eventually(() => second.context.locks.leading, 10_000, 'the new leader to open the lock feed');
      const two = `lead-two-${randomBytes(3).toString('hex')}`;
      await lock(two);
      await eventually(() => published(secondEvents, two), 5000, 'the new leader to publish the lock');
      const leaseAfter = await h.cp.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${h.sgNs}/leases/skillgate-controller`);
      expect(leaseAfter.body.spec.holderIdentity).toBe(`second-${h.runId}`);
      expect(leaseAfter.body.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
      // The feed the sidecars read carries both locks at a version beyond the first leader's.
      const snapshot = JSON.parse(await h.redis.get(`${h.prefix}locks:snapshot`));
      expect(snapshot.locks.map((l) => l.name)).toEqual(expect.arrayContaining([one, two]));
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);
});
