// Who may lift an offboarding: the SCIM endpoint and the owner lifecycle over HTTP, with the real
// OwnerLifecycle and scimHandler. The owner records and SkillLocks live in Kubernetes; here a
// stand-in store and lock client keep them in memory (scim-endpoint.ts; the same lifecycle against
// a real kube-apiserver is in e2e/controller/controller.test.mjs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { newOwner, offboardLockName } from '@skillgate/identity';
import { ControllerMetrics, OwnerLifecycle, SCHEMA_OFFBOARDING } from '../src/index.js';
import { REFUSAL_EVENT_MS, scimHandler } from '../src/owners/scim-server.js';
import { createLogger } from '../src/log.js';
import { StandInCluster } from './scim-endpoint.js';

describe('who may lift an offboarding', () => {
  const email = 'alice@example.com';
  let cluster: StandInCluster;
  let lifecycle: OwnerLifecycle;
  let server: http.Server;
  let base: string;
  let now = 0;
  const refused: string[] = [];

  beforeEach(async () => {
    cluster = new StandInCluster();
    lifecycle = new OwnerLifecycle(cluster.store, cluster.lockClient);
    // Provisioned by the identity provider, as Okta does.
    cluster.owners.set(email, { ...newOwner(email, new Date()), changedBy: 'scim' });
    const handler = scimHandler({
      store: cluster.store, lifecycle, bearerSecret: () => 's3cret', log: createLogger('silent'), metrics: new ControllerMetrics(false),
      events: { reinstatementRefused: (e) => refused.push(e.why) }, now: () => now,
    });
    server = http.createServer((req, res) => void handler(req, res, new URL(req.url ?? '/', 'http://controller')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;
  });
  afterEach(async () => { await new Promise<void>((r) => server.close(() => r())); });

  const scim = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: 'Bearer s3cret', 'content-type': 'application/scim+json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };
  // Okta's "push profile updates": the whole user, active: true for anyone it still knows.
  const profilePush = (id: string) => scim('PUT', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, name: { givenName: 'Alice', familyName: 'Ames' }, active: true });

  test("an identity provider's profile push does not lift a responder's offboarding; skillgate owners reinstate does", async () => {
    // A responder, in an incident (skillgate owners offboard: the CLI calls the lifecycle so).
    await lifecycle.offboard(email, 'INC-4711: skill exfiltrated data', 'responder@example.com');
    const id = cluster.owners.get(email)!.id;
    const pushed = await profilePush(id);
    expect(pushed.status).toBe(200);
    expect(pushed.body.active).toBe(false);
    expect(pushed.body[SCHEMA_OFFBOARDING]).toEqual({ offboardedBy: 'responder', reason: 'INC-4711: skill exfiltrated data', reinstatedBy: `a responder only: skillgate owners reinstate ${email}` });
    expect((pushed.body.schemas as string[])).toContain(SCHEMA_OFFBOARDING);
    expect(cluster.owners.get(email)).toMatchObject({ active: false, offboardedBy: 'responder', displayName: 'Alice Ames' });
    expect(cluster.locks.has(offboardLockName(email))).toBe(true);
    // An Okta/Entra PATCH active=true is refused the same way; each refusal is said, not silent.
    const patched = await scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] });
    expect([patched.status, patched.body.active, cluster.locks.has(offboardLockName(email))]).toEqual([200, false, true]);
    // Every refusal is told (log, hook); an Event per owner at most every REFUSAL_EVENT_MS (the IdP pushes on every edit).
    expect(cluster.events.map((e) => e.reason)).toEqual(['ReinstatementRefused']);
    expect(cluster.events[0]!.message).toMatch(/offboarded by a responder \(INC-4711: skill exfiltrated data\).*skillgate owners reinstate alice@example.com/);
    expect(refused).toHaveLength(2);
    now += REFUSAL_EVENT_MS;
    await profilePush(id);
    expect(cluster.events.map((e) => e.reason)).toEqual(['ReinstatementRefused', 'ReinstatementRefused']);

    // The identity provider deactivating them too keeps the responder's hold (and its reason on the lock).
    await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', value: { active: false } }] });
    expect(cluster.owners.get(email)).toMatchObject({ active: false, offboardedBy: 'responder', reason: 'INC-4711: skill exfiltrated data' });
    expect(cluster.locks.get(offboardLockName(email))!.spec.reason).toContain('INC-4711');
    expect((await profilePush(id)).body.active).toBe(false);

    // A responder lifts it (skillgate owners reinstate).
    const back = await lifecycle.reinstate(email, 'responder@example.com');
    expect([back.transition, back.refused, cluster.owners.get(email)!.active, cluster.locks.has(offboardLockName(email))]).toEqual(['reinstated', undefined, true, false]);
  });

  test('the identity provider lifts an offboarding it made itself', async () => {
    const id = cluster.owners.get(email)!.id;
    expect((await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', value: { active: false } }] })).body).toMatchObject({ active: false, [SCHEMA_OFFBOARDING]: { offboardedBy: 'scim' } });
    expect(cluster.locks.get(offboardLockName(email))!.metadata.labels).toMatchObject({ 'skillgate.dev/offboarded-by': 'scim' });
    const pushed = await profilePush(id);
    expect(pushed.body.active).toBe(true);
    expect(pushed.body[SCHEMA_OFFBOARDING]).toBeUndefined();
    expect(cluster.locks.has(offboardLockName(email))).toBe(false);
    expect(cluster.events).toEqual([]);
  });

  test('a responder offboarding an owner the identity provider already deactivated makes it theirs to lift', async () => {
    const id = cluster.owners.get(email)!.id;
    await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', value: { active: false } }] });
    await lifecycle.offboard(email, 'INC-4712', 'responder@example.com');
    expect(cluster.locks.get(offboardLockName(email))!.metadata.labels).toMatchObject({ 'skillgate.dev/offboarded-by': 'responder' });
    expect((await profilePush(id)).body.active).toBe(false);
    expect(cluster.locks.has(offboardLockName(email))).toBe(true);
  });
});
