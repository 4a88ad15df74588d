// The controller end to end: a real kube-apiserver (TokenReview, pods, CRDs, RBAC), real Redis, and
// real sidecar child processes streaming from a slow upstream. Proves that only genuine, current,
// correctly-audienced tokens of live pods are exchanged; that SCIM speaks Okta's and Entra's
// deprovisioning dialects; and that offboarding an owner through SCIM cuts each of that owner's live
// streams and refuses their next request while another owner's skill keeps streaming. And that a
// sidecar's record verifies against the controller's JWKS (the record's trust anchor).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { webhookCertReconcilers, webhookCertsConfigFromEnv } from '../../packages/controller/dist/src/index.js';
import { createCertificateAuthority, issueServingCertificate } from '../../packages/webhook/dist/src/index.js';
import { setup, endlessSse, openStream, within, REDIS_URL } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let h;
let upstream;
beforeAll(async () => {
  h = await setup();
  upstream = await endlessSse();
}, 180_000);
afterAll(async () => {
  await upstream?.close();
  await h?.stop();
});

const saKey = () => path.join(h.cp.tmpDir, 'pki', 'sa.key');

describe('token exchange against the real API server', () => {
  test('a pod-bound token of a skill pod is exchanged for a workload token and the upstream credential', async () => {
    const pod = await h.skillPod('ok-pod', { skill: 'summarize', owner: `erin${h.domain}` });
    const { status, body } = await h.exchange(pod.token);
    expect(status).toBe(200);
    expect(body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(body.token_type).toBe('N_A');
    expect(body.expires_in).toBe(600);
    expect(body.skill_identity).toMatchObject({ namespace: h.teamNs, pod: 'ok-pod', podUid: pod.uid, skill: 'summarize', owner: `erin${h.domain}` });
    expect(body.upstream_credential).toEqual({ type: 'api_key', value: h.apiKey });
    const jwks = await (await fetch(`${h.controller.url}/.well-known/jwks.json`)).json();
    expect(jwks.keys[0].alg).toBe('ES256');
  });

  test('a forged token is refused with invalid_grant', async () => {
    const forged = await new SignJWT({ 'kubernetes.io': { namespace: h.teamNs } }).setProtectedHeader({ alg: 'HS256' })
      .setSubject(`system:serviceaccount:${h.teamNs}:default`).setAudience('skillgate').setIssuer('https://kubernetes.default.svc')
      .setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode('not-the-cluster-key-0123456789abcdef'));
    const { status, body } = await h.exchange(forged);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  test('a token signed with the cluster key is accepted while current and refused once expired', async () => {
    const pod = await h.skillPod('exp-pod', { skill: 'summarize', owner: `erin${h.domain}` });
    const sa = await h.cp.request('GET', `/api/v1/namespaces/${h.teamNs}/serviceaccounts/default`);
    const key = await importPKCS8(fs.readFileSync(saKey(), 'utf8'), 'RS256');
    const mint = (iat, exp) => new SignJWT({
      'kubernetes.io': { namespace: h.teamNs, serviceaccount: { name: 'default', uid: sa.body.metadata.uid }, pod: { name: pod.name, uid: pod.uid } },
    }).setProtectedHeader({ alg: 'RS256' }).setIssuer(h.cp.serviceAccountIssuer ?? 'https://kubernetes.default.svc')
      .setSubject(`system:serviceaccount:${h.teamNs}:default`).setAudience(['skillgate']).setIssuedAt(iat).setNotBefore(iat).setExpirationTime(exp).sign(key);
    const now = Math.floor(Date.now() / 1000);
    const current = await h.exchange(await mint(now - 60, now + 600));
    expect(current.status).toBe(200);
    const expired = await h.exchange(await mint(now - 7200, now - 3600));
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('invalid_grant');
  });

  test('a token for another audience is refused', async () => {
    const pod = await h.skillPod('aud-pod', { skill: 'summarize', owner: `erin${h.domain}`, audience: 'https://kubernetes.default.svc' });
    const { status, body } = await h.exchange(pod.token);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  test('the token of a deleted pod is refused', async () => {
    const pod = await h.skillPod('gone-pod', { skill: 'summarize', owner: `erin${h.domain}` });
    expect((await h.exchange(pod.token)).status).toBe(200);
    await h.cp.request('DELETE', `/api/v1/namespaces/${h.teamNs}/pods/gone-pod?gracePeriodSeconds=0`);
    const { status, body } = await h.exchange(pod.token);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  test('only an injected skill pod gets a token: not one in a namespace without injection, nor one running no sidecar', async () => {
    const plainNs = `plain-${h.runId}`;
    await h.cp.ensureNamespace(plainNs);
    try {
      const elsewhere = await h.skillPod('elsewhere-pod', { skill: 'summarize', owner: `erin${h.domain}`, namespace: plainNs });
      const outside = await h.exchange(elsewhere.token);
      expect([outside.status, outside.body.error, outside.body.error_description]).toEqual([403, 'access_denied', expect.stringMatching(/is not labelled skillgate.dev\/inject=enabled/)]);
      expect(outside.body.upstream_credential).toBeUndefined();
      const bare = await h.skillPod('no-sidecar-pod', { skill: 'summarize', owner: `erin${h.domain}`, injected: false });
      const unInjected = await h.exchange(bare.token);
      expect([unInjected.status, unInjected.body.error, unInjected.body.error_description]).toEqual([403, 'access_denied', expect.stringMatching(/runs no skillgate-sidecar/)]);
      // Let out of injection by an exception, with a container named skillgate-sidecar of its own
      // and a projected token for audience skillgate: nothing (no credential, masking key, Redis URL).
      const optedOut = await h.skillPod('opted-out-pod', { skill: 'summarize', owner: `erin${h.domain}`, annotations: { 'skillgate.dev/inject': 'disabled', 'skillgate.dev/inject-exception': 'database', 'skillgate.dev/injected': undefined } });
      const out = await h.exchange(optedOut.token);
      expect([out.status, out.body.error, out.body.error_description]).toEqual([403, 'access_denied', expect.stringMatching(/opts out of injection \(skillgate.dev\/inject: disabled\)/)]);
      expect([out.body.upstream_credential, out.body.masking_key, out.body.redis_url]).toEqual([undefined, undefined, undefined]);
      // The sidecar's name without the injector's stamp is not the injected sidecar.
      const unstamped = await h.skillPod('unstamped-pod', { skill: 'summarize', owner: `erin${h.domain}`, annotations: { 'skillgate.dev/injected': undefined } });
      const noStamp = await h.exchange(unstamped.token);
      expect([noStamp.status, noStamp.body.error_description]).toEqual([403, expect.stringMatching(/carries no skillgate.dev\/injected annotation/)]);
    } finally {
      await h.cp.deleteNamespace(plainNs).catch(() => {});
    }
  });

  test('a malformed request gets an OAuth error naming the problem', async () => {
    const { status, body } = await h.exchange('x', { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' });
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('subject_token_type') });
  });
});

describe('SCIM 2.0 Users', () => {
  test('the endpoint refuses a client without the bearer secret', async () => {
    const res = await fetch(`${h.controller.url}/scim/v2/Users`, { headers: { authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect((await res.json()).schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  });

  test('create, filter by userName, and the Okta PATCH deactivate an owner and lock them', async () => {
    const email = `okta-user${h.domain}`;
    const created = await h.scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, name: { givenName: 'Okta', familyName: 'User' }, active: true });
    expect(created.status).toBe(201);
    const found = await h.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0].id).toBe(created.body.id);
    const patched = await h.scim('PATCH', `/Users/${created.body.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(patched.status).toBe(200);
    expect(patched.body.active).toBe(false);
    const locks = (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items;
    expect(locks.find((l) => l.spec.target.kind === 'owner' && l.spec.target.value === email)).toBeDefined();
    // Reactivation lifts the lock.
    await h.scim('PATCH', `/Users/${created.body.id}`, { Operations: [{ op: 'replace', value: { active: true } }] });
    const after = (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items;
    expect(after.find((l) => l.spec.target.value === email)).toBeUndefined();
  });

  test('the Entra PATCH shape (path active, value "False") deactivates an owner', async () => {
    const email = `entra-user${h.domain}`;
    const created = await h.scim('POST', '/Users', { userName: email, active: true, externalId: 'entra-123' });
    const patched = await h.scim('PATCH', `/Users/${created.body.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(patched.status).toBe(200);
    expect(patched.body.active).toBe(false);
    const byExternal = await h.scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "entra-123"')}`);
    expect(byExternal.body.Resources[0].active).toBe(false);
  });

  test('DELETE offboards the owner and the user is then gone for SCIM', async () => {
    const email = `deleted-user${h.domain}`;
    const created = await h.scim('POST', '/Users', { userName: email });
    expect((await h.scim('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
    expect((await h.scim('GET', `/Users/${created.body.id}`)).status).toBe(404);
    const locks = (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items;
    expect(locks.find((l) => l.spec.target.value === email)).toBeDefined();
  });

  test('skillgate owners offboard (no --reason needed), list and reinstate do what SCIM does, through the caller\'s kubeconfig', async () => {
    const email = `cli-user${h.domain}`;
    const kubeEnv = { ...process.env, KUBECONFIG: h.cp.kubeconfigPath };
    const offboarded = await cli(['owners', 'offboard', email, '--skillgate-namespace', h.sgNs, '--output', 'json'], kubeEnv);
    expect([offboarded.code, offboarded.stderr]).toEqual([0, '']);
    const lock = (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items.find((l) => l.spec.target.kind === 'owner' && l.spec.target.value === email);
    expect(lock?.spec.reason).toMatch(/: offboarded with skillgate owners offboard by skillgate-e2e-admin$/);
    const listed = JSON.parse((await cli(['owners', 'list', '--skillgate-namespace', h.sgNs, '--output', 'json'], kubeEnv)).stdout);
    expect(listed.find((o) => o.email === email)).toMatchObject({ active: false });
    expect((await cli(['owners', 'reinstate', email, '--skillgate-namespace', h.sgNs], kubeEnv)).code).toBe(0);
    expect((await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items.find((l) => l.spec.target.value === email)).toBeUndefined();
  });

  test('with requireKnownOwners a skill whose owner only its pod names gets no token; skillgate owners add (or SCIM) vouches for the owner', async () => {
    const replica = await h.startReplica({ identity: `replica-known-${h.runId}`, requireKnownOwners: true });
    try {
      const exchangeAt = async (token) => {
        const res = await fetch(`${replica.url}/token`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: token, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'skillgate' }),
        });
        return { status: res.status, body: await res.json() };
      };
      const kubeEnv = { ...process.env, KUBECONFIG: h.cp.kubeconfigPath };
      const madeUp = `made-up${h.domain}`;
      const pod = await h.skillPod('made-up-owner-pod', { skill: 'exfil', owner: madeUp });
      // The pod watch registers the owner (as every replica sees it); nobody vouched for it.
      const listed = async () => JSON.parse((await cli(['owners', 'list', '--skillgate-namespace', h.sgNs, '--output', 'json'], kubeEnv)).stdout).find((o) => o.email === madeUp);
      for (let i = 0; i < 100 && !(await listed()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await listed()).toMatchObject({ active: true, vouched: false });
      expect((await cli(['owners', 'list', '--skillgate-namespace', h.sgNs], kubeEnv)).stdout).toContain(`${madeUp}\tactive\tpod annotation only (not vouched for)`);
      const refused = await exchangeAt(pod.token);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: 'access_denied', error_description: expect.stringMatching(new RegExp(`owner ${madeUp.replace(/\./g, '\\.')} of skill exfil is not known: .*skillgate owners add`)) });
      // The default replica (requireKnownOwners off) still trusts the annotation.
      expect((await h.exchange(pod.token)).status).toBe(200);

      const added = await cli(['owners', 'add', madeUp, '--name', 'Made Up', '--skillgate-namespace', h.sgNs], kubeEnv);
      expect([added.code, added.stdout.trim(), added.stderr]).toEqual([0, `${madeUp}: known (active)`, '']);
      let granted;
      for (let i = 0; i < 100 && (granted = await exchangeAt(pod.token)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
      expect(granted.status).toBe(200);
      expect(await listed()).toMatchObject({ displayName: 'Made Up', vouched: true });

      // An owner the identity provider provisions is known without a responder.
      const provisioned = `provisioned${h.domain}`;
      const pod2 = await h.skillPod('provisioned-owner-pod', { skill: 'summarize', owner: provisioned });
      expect((await h.scim('POST', '/Users', { userName: provisioned, externalId: 'okta-00u9', active: true })).status).toBe(201);
      let second;
      for (let i = 0; i < 100 && (second = await exchangeAt(pod2.token)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
      expect(second.status).toBe(200);
      expect((await cli(['owners', 'add', 'oidc:someone@example.com', '--skillgate-namespace', h.sgNs], kubeEnv))).toMatchObject({ code: 2, stderr: expect.stringContaining('owners add: oidc:someone@example.com is not an owner\'s email address') });
    } finally {
      await replica.close();
    }
  });

  test('an identity provider\'s profile push does not lift a responder\'s offboarding (skillgate owners offboard); skillgate owners reinstate does', async () => {
    const email = `incident${h.domain}`;
    const kubeEnv = { ...process.env, KUBECONFIG: h.cp.kubeconfigPath };
    const created = await h.scim('POST', '/Users', { userName: email, active: true });
    const pod = await h.skillPod('incident-pod', { skill: 'exfil', owner: email });
    expect((await h.exchange(pod.token)).status).toBe(200);
    const offboarded = await cli(['owners', 'offboard', email, '--reason', 'INC-4711 exfiltration', '--skillgate-namespace', h.sgNs], kubeEnv);
    expect([offboarded.code, offboarded.stderr]).toEqual([0, '']);
    const lockOf = async () => (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items.find((l) => l.spec.target.kind === 'owner' && l.spec.target.value === email);
    expect((await lockOf())?.metadata.labels['skillgate.dev/offboarded-by']).toBe('responder');
    // Okta's routine profile push: the whole user, active: true.
    const pushed = await h.scim('PUT', `/Users/${created.body.id}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, name: { givenName: 'Inci', familyName: 'Dent' }, active: true });
    expect(pushed.status).toBe(200);
    expect(pushed.body.active).toBe(false);
    expect(pushed.body['urn:skillgate:params:scim:schemas:extension:2.0:Offboarding']).toMatchObject({ offboardedBy: 'responder', reason: 'INC-4711 exfiltration', reinstatedBy: `a responder only: skillgate owners reinstate ${email}` });
    expect(await lockOf()).toBeDefined();
    const denied = await h.exchange(pod.token);
    expect([denied.status, denied.body.error]).toEqual([403, 'access_denied']);
    // Said where operators look: a Warning Event on the owner record, and the controller's hook.
    const events = (await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/events`)).body.items;
    expect(events.find((e) => e.reason === 'ReinstatementRefused' && e.involvedObject.name === `skillgate-owner-${created.body.id}`)).toMatchObject({ type: 'Warning', message: expect.stringMatching(/offboarded by a responder \(INC-4711 exfiltration\).*skillgate owners reinstate/) });
    expect(h.events.some((e) => e.name === 'reinstatementRefused' && e.email === email)).toBe(true);
    // The responder lifts it.
    expect((await cli(['owners', 'reinstate', email, '--skillgate-namespace', h.sgNs], kubeEnv)).code).toBe(0);
    expect(await lockOf()).toBeUndefined();
    expect((await h.scim('GET', `/Users/${created.body.id}`)).body.active).toBe(true);
  });

  test('an unsupported filter is a SCIM invalidFilter error', async () => {
    const r = await h.scim('GET', `/Users?filter=${encodeURIComponent('name.givenName co "x"')}`);
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe('invalidFilter');
  });
});

describe('offboarding through SCIM with live sidecar processes', () => {
  test('cuts a live stream of each of the owner\'s skills, refuses their next request, and leaves another owner streaming', async () => {
    const leaving = `leaving${h.domain}`;
    const staying = `staying${h.domain}`;
    const created = await h.scim('POST', '/Users', { userName: leaving, active: true });
    const pods = await Promise.all([
      h.skillPod('leave-a', { skill: 'summarize', owner: leaving }),
      h.skillPod('leave-b', { skill: 'triage', owner: leaving }),
      h.skillPod('stay-a', { skill: 'report', owner: staying }),
    ]);
    const sidecars = await Promise.all(pods.map((p) => h.sidecarProcess(p, upstream.url)));
    for (const s of sidecars) expect(s.refusal).toBeNull();
    const streams = await Promise.all(sidecars.map((s) => openStream(s.claudeUrl)));
    for (const s of streams) expect(s.status).toBe(200);
    await within(Promise.all(streams.map((s) => s.firstBytes)), 10_000, 'streams to start');

    const patched = await h.scim('PATCH', `/Users/${created.body.id}`, { Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(patched.status).toBe(200);

    await within(Promise.all([streams[0].ended, streams[1].ended]), 5000, 'the leaving owner\'s streams to be cut');
    for (const s of streams.slice(0, 2)) {
      expect(s.text()).toMatch(/event: error\ndata: .*"permission_error"/);
      // Whichever arrives first cuts it: the owner's lock or the revocation of their token.
      expect(s.text()).toMatch(/SkillLock \\"(offboard|revoked)-[0-9a-f-]+\\"/);
      expect(s.text()).toContain(`owner ${leaving} was offboarded`);
    }
    const before = streams[2].text().length;
    await within(new Promise((r) => { const t = setInterval(() => { if (streams[2].text().length > before + 100) { clearInterval(t); r(); } }, 10); }), 5000, 'the other owner to keep streaming');
    expect(streams[2].text()).not.toContain('event: error');
    streams[2].close();

    for (const s of sidecars.slice(0, 2)) {
      const next = await openStream(s.claudeUrl);
      await next.ended;
      expect(next.status).toBe(403);
      expect(next.text()).toMatch(/SG_LOCKED|SG_WORKLOAD_TOKEN_REVOKED/);
    }
    // The controller refuses to issue new tokens to the offboarded owner's skills.
    const again = await h.exchange(pods[0].token);
    expect(again.status).toBe(403);
    expect(again.body.error).toBe('access_denied');
    // Lock status tells the user it is in force.
    const locks = (await h.cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).body.items;
    const lock = locks.find((l) => l.spec.target.value === leaving);
    expect(lock.status?.conditions?.find((c) => c.type === 'Active')?.status).toBe('True');
    expect(h.events.some((e) => e.name === 'lockPublished' && e.lock.target.value === leaving)).toBe(true);
  }, 60_000);
});

describe('pods that predate the namespace\'s label', () => {
  test('are counted by namespace in skillgate_controller_uninjected_pods until they are recreated with the sidecar', async () => {
    // A labelled namespace of their own: the team namespace holds pods earlier tests left, counted
    // too (no sidecar, or the sidecar's name without the injector's stamp), which a count must not
    // be read against.
    const ns = `legacy-${h.runId}`;
    await h.cp.ensureNamespace(ns, { 'skillgate.dev/inject': 'enabled' });
    try {
      const gauge = async () => (await h.controller.context.metrics.uninjectedPods.get()).values
        .filter((v) => v.labels.namespace === ns).reduce((m, v) => ({ ...m, [v.labels.reason]: v.value }), {});
      // Made before the label (as no webhook runs here, any pod made without the sidecar is such a pod), and running.
      const old = await h.skillPod('predates-label', { skill: 'legacy', owner: `legacy${h.domain}`, injected: false, namespace: ns });
      const running = await h.cp.request('PATCH', `/api/v1/namespaces/${ns}/pods/predates-label/status`, { status: { phase: 'Running' } }, { contentType: 'application/merge-patch+json' });
      expect(running.status).toBe(200);
      await h.skillPod('let-out', { skill: 'db', owner: `legacy${h.domain}`, injected: false, namespace: ns, annotations: { 'skillgate.dev/inject': 'disabled', 'skillgate.dev/inject-exception': 'database' } });
      let last;
      await within((async () => { while (!((last = await gauge()).not_injected === 1 && last.opted_out === 1)) await new Promise((r) => setTimeout(r, 100)); })(), 10_000, 'the leader to count the uninjected pods')
        .catch((err) => { throw new Error(`${err.message}; last ${JSON.stringify(last)}`); });
      // On the controller's /metrics, as Prometheus reads it.
      const text = await h.controller.context.metrics.registry.metrics();
      expect(text).toMatch(new RegExp(`skillgate_controller_uninjected_pods\\{namespace="${ns}",reason="not_injected"\\} 1`));
      // Recreated (what `kubectl rollout restart` does) with the sidecar: no longer counted.
      await h.cp.request('DELETE', `/api/v1/namespaces/${ns}/pods/${old.name}?gracePeriodSeconds=0`);
      await h.skillPod('predates-label-2', { skill: 'legacy', owner: `legacy${h.domain}`, namespace: ns });
      await within((async () => { while ((last = await gauge()).not_injected !== 0) await new Promise((r) => setTimeout(r, 100)); })(), 10_000, 'the count to drop once the pod is recreated')
        .catch((err) => { throw new Error(`${err.message}; last ${JSON.stringify(last)}`); });
    } finally {
      await h.cp.deleteNamespace(ns).catch(() => {});
    }
  });
});

describe('the signing key', () => {
  test('is kept in a Secret the first replica created: another replica, and a restarted one, serve the same JWKS', async () => {
    const jwksOf = async (c) => (await fetch(`${c.url}/.well-known/jwks.json`)).json();
    const first = await jwksOf(h.controller);
    const secret = await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/secrets/signing-key`);
    expect(secret.status).toBe(200);
    expect(secret.body.metadata.labels['app.kubernetes.io/managed-by']).toBe('skillgate-controller');
    const second = await h.startReplica({ identity: `replica-key-${h.runId}` });
    try {
      expect(await jwksOf(second)).toEqual(first);
    } finally {
      await second.close();
    }
    const again = await h.startReplica({ identity: `replica-key-again-${h.runId}` });
    try {
      expect(await jwksOf(again)).toEqual(first);
    } finally {
      await again.close();
    }
  });

  test('two replicas starting at once with no Secret yet agree on one key', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map((n) => h.startReplica({ identity: `replica-race-${n}-${h.runId}`, signingKeySecret: 'race-signing-key' })));
    try {
      const [ja, jb] = [await (await fetch(`${a.url}/.well-known/jwks.json`)).json(), await (await fetch(`${b.url}/.well-known/jwks.json`)).json()];
      expect(ja).toEqual(jb);
      expect(ja.keys[0].kid).not.toBe((await (await fetch(`${h.controller.url}/.well-known/jwks.json`)).json()).keys[0].kid);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('the record trust anchor', () => {
  test('a sidecar\'s checkpoints carry the controller\'s endorsement of its key, and its session verifies against the controller JWKS alone', async () => {
    const owner = `anchored${h.domain}`;
    const pod = await h.skillPod('anchor-pod', { skill: 'anchored-skill', owner });
    const sidecar = await h.sidecarProcess(pod, upstream.url);
    expect(sidecar.refusal).toBeNull();
    const stream = await openStream(sidecar.claudeUrl);
    expect(stream.status).toBe(200);
    await within(stream.firstBytes, 10_000, 'the stream to start');
    stream.close();
    // A sidecar told to stop signs a last checkpoint on its way out.
    await stopSidecar(sidecar);

    const store = ['--redis', REDIS_URL, '--prefix', h.prefix];
    const listed = await cli(['sessions', 'list', '--skill', 'anchored-skill', '--output', 'json', ...store]);
    expect(listed.code).toBe(0);
    const sessions = JSON.parse(listed.stdout);
    expect(sessions).toHaveLength(1);
    const sid = sessions[0].sessionId;
    const jwks = `${h.controller.url}/.well-known/jwks.json`;
    const verified = await cli(['sessions', 'verify', sid, '--trust-jwks', jwks, '--output', 'json', ...store]);
    expect(verified.stderr).not.toMatch(/failed/);
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.stdout);
    expect(report.ok).toBe(true);
    expect(Object.values(report.endorsed)).toContainEqual(expect.objectContaining({ namespace: h.teamNs, pod: 'anchor-pod', skill: 'anchored-skill', owner }));
    expect(await (await fetch(`${h.controller.url}/metrics`)).text()).toMatch(/^skillgate_controller_record_keys_endorsed_total [1-9]/m);

    // The JWKS ConfigMap, read through the Kubernetes API, vouches for it too, also after the
    // controllers' key is rotated (a replica with a new key adds it; the old one stays).
    const kubeEnv = { ...process.env, KUBECONFIG: h.cp.kubeconfigPath };
    const viaKube = await cli(['sessions', 'verify', sid, '--trust-jwks', `kube:${h.sgNs}/jwks`, ...store], kubeEnv);
    expect([viaKube.code, viaKube.stderr]).toEqual([0, expect.not.stringMatching(/failed/)]);
    const rotated = await h.startReplica({ identity: `replica-rotated-${h.runId}`, signingKeySecret: 'rotated-signing-key' });
    try {
      const cm = await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/configmaps/jwks`);
      const kids = JSON.parse(cm.body.data['jwks.json']).keys.map((k) => k.kid);
      const [current, newer] = [(await (await fetch(`${h.controller.url}/.well-known/jwks.json`)).json()).keys[0].kid, (await (await fetch(`${rotated.url}/.well-known/jwks.json`)).json()).keys[0].kid];
      expect(newer).not.toBe(current);
      expect(kids).toEqual(expect.arrayContaining([current, newer]));
      expect((await cli(['sessions', 'verify', sid, '--trust-jwks', `kube:${h.sgNs}/jwks`, ...store], kubeEnv)).code).toBe(0);
    } finally {
      await rotated.close();
    }
    const missing = await cli(['sessions', 'verify', sid, '--trust-jwks', `kube:${h.sgNs}/no-such-jwks`, ...store], kubeEnv);
    expect(missing.stderr).toMatch(/cannot read the JWKS kube:.*no-such-jwks: HTTP 404/);

    // Another controller's JWKS (another cluster, or a forger's) does not vouch for it.
    const otherKey = await generateKeyPair('ES256', { extractable: true });
    const otherJwks = path.join(h.tmp, 'other-jwks.json');
    fs.writeFileSync(otherJwks, JSON.stringify({ keys: [{ ...(await exportJWK(otherKey.publicKey)), alg: 'ES256', kid: 'other', use: 'sig' }] }));
    const refused = await cli(['sessions', 'verify', sid, '--trust-jwks', otherJwks, ...store]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/untrusted-key: .*its endorsement does not verify against the trusted JWKS/);
  }, 60_000);
});

describe('the installation masking key', () => {
  test('is kept in a Secret the first replica created and handed to sidecars: a value they recorded is found with it, and not with the development key', async () => {
    const owner = `masked${h.domain}`;
    const pod = await h.skillPod('masked-pod', { skill: 'masked-skill', owner });
    const sidecar = await h.sidecarProcess(pod, upstream.url);
    expect(sidecar.refusal).toBeNull();
    const email = `customer-${h.runId}@example.com`;
    const stream = await openStream(sidecar.claudeUrl, `Write to ${email} today.`);
    expect(stream.status).toBe(200);
    await within(stream.firstBytes, 10_000, 'the stream to start');
    stream.close();
    const secret = await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/secrets/masking-key`);
    expect(secret.status).toBe(200);
    const keyFile = path.join(h.tmp, 'masking-key');
    fs.writeFileSync(keyFile, Buffer.from(secret.body.data['masking-key'], 'base64'));
    const store = ['--redis', REDIS_URL, '--prefix', h.prefix, '--skill', 'masked-skill', '--output', 'json'];
    const found = await cli(['sessions', 'find', '--value', email, '--key-file', keyFile, ...store]);
    expect([found.code, found.stderr]).toEqual([0, expect.not.stringMatching(/development key|error/)]);
    expect(JSON.parse(found.stdout).hits).toEqual([expect.objectContaining({ kind: 'request', direction: 'request', types: ['EMAIL_ADDRESS'], skill: 'masked-skill' })]);
    const withDevKey = await cli(['sessions', 'find', '--value', email, ...store], { ...process.env, SKILLGATE_MASKING_KEY: 'skillgate-dev-masking-key' });
    expect(JSON.parse(withDevKey.stdout).hits).toEqual([]);
  }, 60_000);
});

describe('the sidecars\' Redis URL', () => {
  test('handed over with the workload token: a sidecar with no REDIS_URL records through a password-protected Redis user it never saw in its environment', async () => {
    // A Redis user of this run's own, with a password, as an operator's redis.existingSecret holds it.
    const user = `sge2e-${h.runId}`;
    const password = randomBytes(12).toString('hex');
    await h.redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
    const url = new URL(REDIS_URL);
    url.username = user;
    url.password = password;
    const replica = await h.startReplica({ identity: `replica-redis-${h.runId}`, sidecarRedisUrl: url.toString() });
    try {
      const owner = `redis${h.domain}`;
      const pod = await h.skillPod('redis-url-pod', { skill: 'redis-url-skill', owner });
      const exchanged = await fetch(`${replica.url}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: pod.token, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'skillgate' }),
      });
      expect((await exchanged.json()).redis_url).toBe(url.toString());
      // The first replica hands none over (its sidecars keep the injector's REDIS_URL).
      expect((await h.exchange(pod.token)).body.redis_url).toBeUndefined();

      const sidecar = await h.sidecarProcess(pod, upstream.url, { SKILLGATE_CONTROLLER_URL: replica.url, REDIS_URL: undefined });
      expect(sidecar.refusal).toBeNull();
      const stream = await openStream(sidecar.claudeUrl);
      expect(stream.status).toBe(200);
      await within(stream.firstBytes, 10_000, 'the stream to start');
      stream.close();
      // Its connections are the run's user's, and its record is where the others' are.
      const clients = String(await h.redis.call('CLIENT', 'LIST'));
      expect(clients.split('\n').filter((line) => line.includes(` user=${user} `)).length).toBeGreaterThanOrEqual(2);
      const listed = await cli(['sessions', 'list', '--skill', 'redis-url-skill', '--output', 'json', '--redis', REDIS_URL, '--prefix', h.prefix]);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toHaveLength(1);
      // A sidecar told to stop signs a last checkpoint on its way out, as this user.
      await stopSidecar(sidecar);
    } finally {
      await replica.close();
      await h.redis.call('ACL', 'DELUSER', user);
    }
  }, 60_000);
});

describe('the token exchange over the installation CA\'s certificate', () => {
  test('a sidecar injected with the CA bundle verifies the controller and keeps the bundle it is handed; one trusting only the system CAs cannot connect', async () => {
    // A replica that leads a Lease and a lock feed of its own, so that its webhook-certs loop runs:
    // it issues the CA, the webhook's certificate and its own (for 127.0.0.1 too, where it listens here).
    const prefix = `${h.prefix}tls:`;
    const env = {
      SKILLGATE_MANAGE_WEBHOOK_CERTS: 'true', SKILLGATE_NAMESPACE: h.sgNs, SKILLGATE_WEBHOOK_CERT_SECRET: 'webhook-tls',
      SKILLGATE_WEBHOOK_CONFIGS: `sg-e2e-${h.runId}-inject`, SKILLGATE_WEBHOOK_SERVICE: 'webhook',
      SKILLGATE_CONTROLLER_CERT_SECRET: 'controller-tls', SKILLGATE_CONTROLLER_SERVICE: 'controller', SKILLGATE_CONTROLLER_CERT_HOSTS: '127.0.0.1',
    };
    const replica = await h.startReplica({
      identity: `replica-tls-${h.runId}`, leaseName: `tls-${h.runId}`, redisPrefix: prefix,
      tlsSecret: { namespace: h.sgNs, name: 'controller-tls' }, extraLoops: webhookCertReconcilers(env),
    });
    try {
      expect(replica.url).toMatch(/^https:/);
      const secret = await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/secrets/webhook-tls`);
      const bundle = Buffer.from(secret.body.data['ca.crt'], 'base64').toString(); // what the webhook injects
      const pod = await h.skillPod('tls-pod', { skill: 'tls-skill', owner: `tls${h.domain}` });
      const cache = path.join(h.tmp, 'tls-pod-controller-ca.pem');
      // Injected while a CA since retired was still in the bundle: the controller hands over the
      // bundle as it is now, and the sidecar keeps that one.
      const retired = createCertificateAuthority('retired-ca').certPem;
      const sidecar = await h.sidecarProcess(pod, upstream.url, {
        SKILLGATE_CONTROLLER_URL: replica.url, SKILLGATE_REDIS_PREFIX: prefix, SKILLGATE_CONTROLLER_CA: `${bundle}${retired}`, SKILLGATE_CONTROLLER_CA_CACHE: cache,
      });
      expect(sidecar.refusal).toBeNull();
      expect(fs.readFileSync(cache, 'utf8')).toBe(bundle);
      const stream = await openStream(sidecar.claudeUrl);
      expect(stream.status).toBe(200);
      await within(stream.firstBytes, 10_000, 'the stream to start');
      stream.close();
      const untrusting = await h.sidecarProcess(await h.skillPod('tls-pod-2', { skill: 'tls-skill', owner: `tls${h.domain}` }), upstream.url, {
        SKILLGATE_CONTROLLER_URL: replica.url, SKILLGATE_REDIS_PREFIX: prefix,
      });
      expect(untrusting.refusal).toMatch(/controller unreachable: .*(certificate|issuer)/);
      // A refusal carries the bundle too: a sidecar refused through a rotation keeps up with it.
      const refused = await exchangeOverTls(replica.url, bundle, 'not-a-token');
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant', controller_ca: bundle } });

      // Mid-upgrade: a replica of this version that cannot lead (the Lease holder is of the version
      // before, which never issues the controller's certificate) issues its own and serves.
      const oldLease = `old-${h.runId}`;
      const microTime = new Date().toISOString().replace(/Z$/, '000Z');
      const held = await h.cp.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${h.sgNs}/leases`, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: oldLease },
        spec: { holderIdentity: 'controller-of-the-version-before', leaseDurationSeconds: 3600, acquireTime: microTime, renewTime: microTime },
      });
      expect([held.status, held.body?.message]).toEqual([201, undefined]);
      const upgradeEnv = { ...env, SKILLGATE_CONTROLLER_CERT_SECRET: 'controller-tls-upgrade' };
      const upgraded = await h.startReplica({
        identity: `replica-upgraded-${h.runId}`, leaseName: oldLease, redisPrefix: prefix,
        tlsSecret: { namespace: h.sgNs, name: 'controller-tls-upgrade' }, webhookCerts: webhookCertsConfigFromEnv(upgradeEnv),
      });
      try {
        expect([upgraded.url.startsWith('https:'), upgraded.isLeader()]).toEqual([true, false]);
        const issued = await h.cp.request('GET', `/api/v1/namespaces/${h.sgNs}/secrets/controller-tls-upgrade`);
        expect(Buffer.from(issued.body.data['ca.crt'], 'base64').toString()).toBe(bundle); // the same installation CA
      } finally {
        await upgraded.close();
      }
      for (const s of [sidecar, untrusting]) await stopSidecar(s);
    } finally {
      await replica.close();
      const keys = await h.redis.keys(`${prefix}*`);
      if (keys.length) await h.redis.del(...keys);
    }
  }, 90_000);
});

describe('the token exchange over a certificate someone else writes (cert-manager)', () => {
  test('a replica waits for the Secret, serves what lands in it, and hands its ca.crt to sidecars', async () => {
    const ca = createCertificateAuthority('cert-manager-ca');
    const secretName = `cm-controller-tls-${h.runId}`;
    const starting = h.startReplica({ identity: `replica-cm-${h.runId}`, tlsSecret: { namespace: h.sgNs, name: secretName } });
    await new Promise((r) => setTimeout(r, 1500)); // waiting: nothing issues it but "cert-manager" below
    const serving = issueServingCertificate(ca, ['127.0.0.1']);
    const b64 = (t) => Buffer.from(t).toString('base64');
    const written = await h.cp.request('POST', `/api/v1/namespaces/${h.sgNs}/secrets`, {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: secretName },
      data: { 'tls.crt': b64(serving.certPem), 'tls.key': b64(serving.keyPem), 'ca.crt': b64(ca.certPem) },
    });
    expect(written.status).toBe(201);
    const replica = await within(starting, 15_000, 'the replica to listen');
    try {
      expect(replica.url).toMatch(/^https:/);
      const pod = await h.skillPod('cm-pod', { skill: 'cm-skill', owner: `cm${h.domain}` });
      const answer = await exchangeOverTls(replica.url, ca.certPem, pod.token);
      expect([answer.status, answer.body.controller_ca]).toEqual([200, ca.certPem]);
    } finally {
      await replica.close();
    }
  }, 60_000);
});

/** SIGTERM to a sidecar process, and its exit (after it has signed its last checkpoint). */
async function stopSidecar(sidecar) {
  const exited = new Promise((resolve) => sidecar.child.once('exit', resolve));
  sidecar.child.kill('SIGTERM');
  await within(exited, 10_000, 'the sidecar to exit');
}

/** POST /token to an HTTPS controller trusting only `ca`; resolves { status, body }. */
function exchangeOverTls(url, ca, subjectToken) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/token`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'skillgate' }).toString());
  });
}

function cli(args, env = process.env) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'packages/cli/dist/src/main.js'), ...args], { timeout: 30_000, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
