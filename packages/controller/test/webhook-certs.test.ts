// The webhook TLS plan on a fake clock: issuance, idempotence, serving rotation at 2/3 of its
// lifetime, CA rotation with overlap (trust observed before a new CA signs, the old one kept while
// pods may still serve its certificate), and three simulated years in which the API server can
// always verify the webhook. Pure: no sockets; real ECDSA keys from @skillgate/webhook.
import { X509Certificate } from 'node:crypto';
import {
  DEFAULT_ROTATION_POLICY, planCertificates, inspectCertificate, bundleFingerprints, splitPemBundle, signedBy,
  webhookCertificateIssuer, webhookCertsConfigFromEnv, serviceHosts, stateFromSecrets,
  type CertState, type CertPlan, type RotationPolicy,
} from '../src/webhook-certs/index.js';
import { ControllerConfigError } from '../src/config.js';
import { WebhookCertReconciler } from '../src/webhook-certs/reconciler.js';
import type { KubeClients } from '../src/kube.js';
import type { V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const HOSTS = serviceHosts('skillgate-system', 'skillgate-webhook');
const policy: RotationPolicy = { ...DEFAULT_ROTATION_POLICY };

function plan(state: CertState, now: number, trusted: ReadonlySet<string> = new Set(), hosts = HOSTS, p = policy): CertPlan {
  return planCertificates(state, { now, hosts, policy: p, issuer: webhookCertificateIssuer, trustedEverywhere: trusted });
}

/** True when `certPem` chains to a CA in `bundle` and is valid at `now`. */
function verifiesAgainst(certPem: string, bundle: string, now: number): boolean {
  const leaf = inspectCertificate(certPem)!;
  if (now < leaf.notBefore || now >= leaf.notAfter) return false;
  return splitPemBundle(bundle).some((ca) => {
    const facts = inspectCertificate(ca)!;
    return now >= facts.notBefore && now < facts.notAfter && signedBy(leaf, facts);
  });
}

const reasons = (p: CertPlan) => p.changes.map((c) => c.reason);

describe('webhook certificate plan', () => {
  test('with nothing stored it issues a CA and a serving certificate for the Service names, signed by that CA', () => {
    const p = plan({}, T0);
    expect(reasons(p)).toEqual(['CAIssued', 'ServingCertificateIssued']);
    const serving = inspectCertificate(p.state.serving!.certPem)!;
    expect(serving.hosts).toEqual(HOSTS);
    expect(new X509Certificate(p.state.active!.certPem).ca).toBe(true);
    expect(p.bundle).toBe(p.state.active!.certPem);
    expect(verifiesAgainst(p.state.serving!.certPem, p.bundle, T0)).toBe(true);
    expect(p.servingNotAfter).toBe(serving.notAfter);
    expect(p.changes.map((c) => c.message).join(' ')).not.toMatch(/PRIVATE KEY/);
  });

  test('planning again from its own result changes nothing (idempotent)', () => {
    const first = plan({}, T0);
    const again = plan(first.state, T0 + DAY);
    expect(again.changes).toEqual([]);
    expect(again.state).toEqual(first.state);
    expect(again.bundle).toBe(first.bundle);
  });

  test('the serving certificate rotates at two thirds of its lifetime, not before, under the same CA', () => {
    const first = plan({}, T0);
    const facts = inspectCertificate(first.state.serving!.certPem)!;
    const due = facts.notBefore + Math.floor((facts.notAfter - facts.notBefore) * (2 / 3));
    expect(first.nextCheckAt).toBe(due);
    expect(plan(first.state, due - 1).changes).toEqual([]);
    const rotated = plan(first.state, due);
    expect(reasons(rotated)).toEqual(['ServingCertificateRotated']);
    expect(rotated.changes[0]!.message).toMatch(/due for renewal/);
    expect(rotated.state.active).toEqual(first.state.active);
    expect(rotated.state.serving!.certPem).not.toBe(first.state.serving!.certPem);
    expect(verifiesAgainst(rotated.state.serving!.certPem, rotated.bundle, due)).toBe(true);
  });

  test('a serving certificate that misses a host, has the wrong key or another CA is re-issued, saying why', () => {
    const first = plan({}, T0);
    expect(plan(first.state, T0, new Set(), [...HOSTS, '127.0.0.1']).changes[0]!.message).toMatch(/does not cover 127\.0\.0\.1/);
    const other = plan({}, T0);
    expect(plan({ ...first.state, serving: { certPem: first.state.serving!.certPem, keyPem: other.state.serving!.keyPem } }, T0).changes[0]!.message).toMatch(/tls\.key does not match/);
    expect(plan({ ...first.state, serving: other.state.serving! }, T0).changes[0]!.message).toMatch(/signed by a CA that no longer signs/);
  });

  test('a CA rotation adds the new CA to the bundle first and lets it sign only after every configuration trusted it for the overlap', () => {
    const first = plan({}, T0);
    const ca = inspectCertificate(first.state.active!.certPem)!;
    const caDue = ca.notBefore + Math.floor((ca.notAfter - ca.notBefore) * (2 / 3));
    // The serving certificate was renewed along the way; bring it up to date just before the CA is due.
    let state = plan(first.state, caDue - DAY).state;
    const servingBefore = state.serving!;

    const started = plan(state, caDue);
    expect(reasons(started)).toEqual(['CARotationStarted']);
    expect(started.state.serving).toEqual(servingBefore); // the old CA still signs
    const next = inspectCertificate(started.state.next!.certPem)!;
    expect(bundleFingerprints(started.bundle)).toEqual(new Set([ca.fingerprint, next.fingerprint]));

    // Not seen in every caBundle yet: no promotion, however long we wait; look again soon.
    const untrusted = plan(started.state, caDue + DAY, new Set([ca.fingerprint]));
    expect(untrusted.changes).toEqual([]);
    expect(untrusted.nextCheckAt).toBe(caDue + DAY + 10_000);

    // Seen everywhere: trusted from now, promoted after caPromoteAfterMs.
    const seenAt = caDue + DAY;
    const trusted = plan(started.state, seenAt, bundleFingerprints(started.bundle));
    expect(reasons(trusted)).toEqual(['CATrusted']);
    state = trusted.state;
    expect(plan(state, seenAt + policy.caPromoteAfterMs - 1, bundleFingerprints(started.bundle)).changes).toEqual([]);
    const promotedAt = seenAt + policy.caPromoteAfterMs;
    const promoted = plan(state, promotedAt, bundleFingerprints(started.bundle));
    expect(reasons(promoted)).toEqual(['CAPromoted', 'ServingCertificateRotated']);
    expect(inspectCertificate(promoted.state.active!.certPem)!.fingerprint).toBe(next.fingerprint);
    expect(promoted.state.previous).toEqual({ certPem: first.state.active!.certPem, retireAt: promotedAt + policy.caRetireAfterMs });
    // Pods still serving the old certificate and pods already serving the new one both verify.
    expect(verifiesAgainst(servingBefore.certPem, promoted.bundle, promotedAt)).toBe(true);
    expect(verifiesAgainst(promoted.state.serving!.certPem, promoted.bundle, promotedAt)).toBe(true);

    // The old CA leaves the bundle after the retirement delay.
    expect(plan(promoted.state, promotedAt + policy.caRetireAfterMs - 1).changes).toEqual([]);
    const retired = plan(promoted.state, promotedAt + policy.caRetireAfterMs);
    expect(reasons(retired)).toEqual(['CARetired']);
    expect(bundleFingerprints(retired.bundle)).toEqual(new Set([next.fingerprint]));
  });

  test('an expired CA with no successor is replaced at once (there is nothing to overlap with), and the message says so', () => {
    const short = { ...policy, caValidityMs: 30 * DAY, servingValidityMs: 10 * DAY };
    const first = plan({}, T0, new Set(), HOSTS, short);
    const p = plan(first.state, T0 + 31 * DAY, new Set(), HOSTS, short);
    expect(reasons(p)).toEqual(['CAIssued', 'ServingCertificateRotated']);
    expect(p.changes[0]!.message).toMatch(/expired at/);
  });

  test('over three simulated years the API server can verify the webhook at every step, through every rotation', () => {
    let state: CertState = {};
    let configBundle = ''; // what the webhook configurations carry
    let served: string | undefined; // what the webhook pods serve (they lag one step behind the Secret)
    let now = T0;
    const seen = new Map<string, number>();
    for (let step = 0; now < T0 + 3 * 365 * DAY; step++) {
      if (step > 2000) throw new Error('the plan never settles');
      const p = plan(state, now, bundleFingerprints(configBundle));
      for (const r of reasons(p)) seen.set(r, (seen.get(r) ?? 0) + 1);
      // The reconciler writes the caBundle before the serving Secret: pods still serving the old
      // certificate, and pods that pick up the new one, must both verify against the new bundle.
      configBundle = p.bundle;
      if (served) expect(verifiesAgainst(served, configBundle, now)).toBe(true);
      served = p.state.serving!.certPem;
      expect(verifiesAgainst(served, configBundle, now)).toBe(true);
      state = p.state;
      expect(p.nextCheckAt).toBeGreaterThan(now);
      now = p.nextCheckAt;
    }
    expect(seen.get('ServingCertificateRotated')).toBeGreaterThanOrEqual(15);
    expect(seen.get('CARotationStarted')).toBeGreaterThanOrEqual(4);
    expect(seen.get('CAPromoted')).toBe(seen.get('CARotationStarted'));
    expect(seen.get('CARetired')).toBe(seen.get('CAPromoted'));
    expect(seen.get('CAIssued')).toBe(1);
  });
});

describe('the controller\'s serving certificate (token exchange), under the same CA', () => {
  const CONTROLLER = serviceHosts('skillgate-system', 'skillgate-controller');
  const withController = (state: CertState, now: number, trusted: ReadonlySet<string>, p: RotationPolicy) =>
    planCertificates(state, { now, hosts: HOSTS, controllerHosts: CONTROLLER, policy: p, issuer: webhookCertificateIssuer, trustedEverywhere: trusted });

  test('is issued with the webhook\'s, for the controller Service\'s names, and left alone when asked for none', () => {
    const p = withController({}, T0, new Set(), policy);
    expect(reasons(p)).toEqual(['CAIssued', 'ServingCertificateIssued', 'ControllerCertificateIssued']);
    expect(inspectCertificate(p.state.controllerServing!.certPem)!.hosts).toEqual(CONTROLLER);
    expect(verifiesAgainst(p.state.controllerServing!.certPem, p.bundle, T0)).toBe(true);
    expect(p.controllerServingNotAfter).toBe(inspectCertificate(p.state.controllerServing!.certPem)!.notAfter);
    expect(withController(p.state, T0 + DAY, new Set(), policy).changes).toEqual([]);
    // A plan without controller hosts neither issues nor keeps one.
    expect(plan(p.state, T0 + DAY).state.controllerServing).toBeUndefined();
  });

  /**
   * Three simulated years; a sidecar re-exchanges its token every `refreshMs` and takes the bundle the
   * controller hands over with it. Returns the first moment it could not verify the controller.
   */
  function firstFailure(p: RotationPolicy, refreshMs: number): number | undefined {
    let state: CertState = {};
    let configBundle = '';
    const history: Array<{ at: number; bundle: string }> = [];
    const bundleAt = (t: number) => [...history].reverse().find((h) => h.at <= t)?.bundle ?? '';
    let now = T0;
    for (let step = 0; now < T0 + 3 * 365 * DAY; step++) {
      if (step > 4000) throw new Error('the plan never settles');
      const planned = withController(state, now, bundleFingerprints(configBundle), p);
      configBundle = planned.bundle;
      history.push({ at: now, bundle: planned.bundle });
      state = planned.state;
      // The sidecar's trust: the bundle of its last exchange before now (the first one at T0).
      const lastExchange = Math.max(T0, T0 + Math.floor((now - T0) / refreshMs) * refreshMs - 1);
      if (!verifiesAgainst(state.controllerServing!.certPem, bundleAt(lastExchange), now)) return now;
      now = planned.nextCheckAt;
    }
    return undefined;
  }

  test('over three simulated years a sidecar that learns the bundle with each token can always verify the controller, when the promotion outlasts its refresh', () => {
    const refreshMs = 480_000; // 80 % of the default 600 s token
    expect(firstFailure({ ...policy, caPromoteAfterMs: 2 * 600_000 }, refreshMs)).toBeUndefined();
    // The webhook's own 2-minute promotion would not do: the controller would serve a certificate
    // of a CA that sidecars have not been handed yet.
    expect(firstFailure({ ...policy, caPromoteAfterMs: 120_000 }, refreshMs)).toEqual(expect.any(Number));
  });
});

describe('webhook certificate state in Secrets', () => {
  test('the CA Secret and the serving Secret decode into the plan state, next and previous CAs included', () => {
    const first = plan({}, T0);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const state = stateFromSecrets(
      {
        metadata: { annotations: { 'skillgate.dev/next-ca-trusted-since': new Date(T0).toISOString(), 'skillgate.dev/previous-ca-retire-at': new Date(T0 + DAY).toISOString() } },
        data: { 'ca.crt': b64(first.state.active!.certPem), 'ca.key': b64(first.state.active!.keyPem), 'next.crt': b64('N'), 'next.key': b64('K'), 'previous.crt': b64('P') },
      },
      { data: { 'tls.crt': b64(first.state.serving!.certPem), 'tls.key': b64(first.state.serving!.keyPem), 'ca.crt': b64(first.bundle) } },
    );
    expect(state).toEqual({
      active: first.state.active, serving: first.state.serving,
      next: { certPem: 'N', keyPem: 'K', trustedSince: T0 }, previous: { certPem: 'P', retireAt: T0 + DAY },
    });
    expect(stateFromSecrets(undefined, undefined)).toEqual({});
  });
});

describe('webhook certificate configuration from the environment', () => {
  const base = { SKILLGATE_MANAGE_WEBHOOK_CERTS: 'true', SKILLGATE_NAMESPACE: 'sg', SKILLGATE_WEBHOOK_CERT_SECRET: 'sg-webhook-tls', SKILLGATE_WEBHOOK_CONFIGS: 'sg-inject, sg-validate', SKILLGATE_WEBHOOK_SERVICE: 'sg-webhook' };

  test('it is off unless SKILLGATE_MANAGE_WEBHOOK_CERTS is "true"', () => {
    expect(webhookCertsConfigFromEnv({})).toBeUndefined();
    expect(webhookCertsConfigFromEnv({ ...base, SKILLGATE_MANAGE_WEBHOOK_CERTS: 'false' })).toBeUndefined();
    expect(() => webhookCertsConfigFromEnv({ ...base, SKILLGATE_MANAGE_WEBHOOK_CERTS: 'yes' })).toThrow(/SKILLGATE_MANAGE_WEBHOOK_CERTS/);
  });

  test('the chart\'s variables give the Secrets, the configurations and the Service names', () => {
    const c = webhookCertsConfigFromEnv({ ...base, SKILLGATE_WEBHOOK_CERT_HOSTS: '127.0.0.1' })!;
    expect(c.secret).toEqual({ namespace: 'sg', name: 'sg-webhook-tls' });
    expect(c.caSecret).toEqual({ namespace: 'sg', name: 'sg-webhook-tls-ca' });
    expect(c.webhookConfigurations).toEqual(['sg-inject', 'sg-validate']);
    expect(c.hosts).toEqual(['sg-webhook', 'sg-webhook.sg', 'sg-webhook.sg.svc', 'sg-webhook.sg.svc.cluster.local', '127.0.0.1']);
    expect(c.policy).toEqual(DEFAULT_ROTATION_POLICY);
  });

  test('the controller\'s certificate is managed with its Secret and Service, and a new CA then waits twice the token lifetime', () => {
    expect(webhookCertsConfigFromEnv(base)!.controller).toBeUndefined();
    const c = webhookCertsConfigFromEnv({ ...base, SKILLGATE_CONTROLLER_CERT_SECRET: 'sg-controller-tls', SKILLGATE_CONTROLLER_SERVICE: 'sg-controller', SKILLGATE_TOKEN_TTL_SECONDS: '900' })!;
    expect(c.controller).toEqual({ secret: { namespace: 'sg', name: 'sg-controller-tls' }, hosts: serviceHosts('sg', 'sg-controller') });
    expect(webhookCertsConfigFromEnv({ ...base, SKILLGATE_CONTROLLER_CERT_SECRET: 'a', SKILLGATE_CONTROLLER_SERVICE: 'b', SKILLGATE_CONTROLLER_CERT_HOSTS: '127.0.0.1, controller.example' })!.controller!.hosts)
      .toEqual([...serviceHosts('sg', 'b'), '127.0.0.1', 'controller.example']);
    expect(c.policy.caPromoteAfterMs).toBe(1_860_000);
    expect(webhookCertsConfigFromEnv({ ...base, SKILLGATE_CONTROLLER_CERT_SECRET: 'sg-controller-tls', SKILLGATE_CONTROLLER_SERVICE: 'sg-controller' })!.policy.caPromoteAfterMs).toBe(1_260_000);
    // A longer delay of the operator's stands.
    expect(webhookCertsConfigFromEnv({ ...base, SKILLGATE_CONTROLLER_CERT_SECRET: 'a', SKILLGATE_CONTROLLER_SERVICE: 'b', SKILLGATE_WEBHOOK_CA_PROMOTE_AFTER_SECONDS: '7200' })!.policy.caPromoteAfterMs).toBe(7_200_000);
    expect(() => webhookCertsConfigFromEnv({ ...base, SKILLGATE_CONTROLLER_CERT_SECRET: 'sg-controller-tls' })).toThrow(/SKILLGATE_CONTROLLER_SERVICE: .*go together/);
  });

  test('a missing or malformed value fails fast naming the variable', () => {
    const without = (k: keyof typeof base) => Object.fromEntries(Object.entries(base).filter(([x]) => x !== k));
    expect(() => webhookCertsConfigFromEnv(without('SKILLGATE_WEBHOOK_CERT_SECRET'))).toThrow(ControllerConfigError);
    expect(() => webhookCertsConfigFromEnv(without('SKILLGATE_WEBHOOK_CONFIGS'))).toThrow(/SKILLGATE_WEBHOOK_CONFIGS/);
    expect(() => webhookCertsConfigFromEnv(without('SKILLGATE_WEBHOOK_SERVICE'))).toThrow(/SKILLGATE_WEBHOOK_SERVICE/);
    expect(() => webhookCertsConfigFromEnv({ ...base, SKILLGATE_WEBHOOK_CERT_VALIDITY_DAYS: '400' })).toThrow(/shorter than/);
    expect(() => webhookCertsConfigFromEnv({ ...base, SKILLGATE_WEBHOOK_CA_PROMOTE_AFTER_SECONDS: 'soon' })).toThrow(/SKILLGATE_WEBHOOK_CA_PROMOTE_AFTER_SECONDS/);
  });
});

describe('a replica that cannot lead issuing the controller\'s certificate itself', () => {
  const CONTROLLER = serviceHosts('sg', 'sg-controller');
  const config = { ...webhookCertsConfigFromEnv({
    SKILLGATE_MANAGE_WEBHOOK_CERTS: 'true', SKILLGATE_NAMESPACE: 'sg', SKILLGATE_WEBHOOK_CERT_SECRET: 'sg-webhook-tls', SKILLGATE_WEBHOOK_CONFIGS: 'sg-inject',
    SKILLGATE_WEBHOOK_SERVICE: 'sg-webhook', SKILLGATE_CONTROLLER_CERT_SECRET: 'sg-controller-tls', SKILLGATE_CONTROLLER_SERVICE: 'sg-controller',
  })! };
  /** Secrets in a Map behind the three calls the store makes; no webhook configuration exists. */
  function fakeKube(secrets: Map<string, V1Secret>) {
    const notFound = () => { throw Object.assign(new Error('not found'), { code: 404 }); };
    return {
      core: {
        readNamespacedSecret: async ({ name }: { name: string }) => secrets.get(name) ?? notFound(),
        createNamespacedSecret: async ({ body }: { body: V1Secret }) => { secrets.set(body.metadata!.name!, body); return body; },
        replaceNamespacedSecret: async ({ name, body }: { name: string; body: V1Secret }) => { secrets.set(name, body); return body; },
      },
      config: { makeApiClient: () => ({ readMutatingWebhookConfiguration: notFound, readValidatingWebhookConfiguration: notFound }) },
    } as unknown as KubeClients;
  }
  const asSecrets = (state: CertState): Map<string, V1Secret> => new Map([['sg-webhook-tls-ca', {
    metadata: { name: 'sg-webhook-tls-ca' },
    data: { 'ca.crt': Buffer.from(state.active!.certPem).toString('base64'), 'ca.key': Buffer.from(state.active!.keyPem).toString('base64') },
  }]]);

  test('signs with the active CA the Secrets hold and writes only its own Secret; with no CA, or a CA change due, it leaves everything to the Lease holder', async () => {
    const reconciler = (secrets: Map<string, V1Secret>, now: number) => new WebhookCertReconciler({ kube: fakeKube(secrets), config, log: pino({ level: 'silent' }), clock: () => now });
    const none = new Map<string, V1Secret>();
    expect(await reconciler(none, T0).issueControllerCertificate()).toBe(false);
    expect([...none.keys()]).toEqual([]);

    const leader = plan({}, T0);
    const secrets = asSecrets(leader.state);
    expect(await reconciler(secrets, T0 + DAY).issueControllerCertificate()).toBe(true);
    expect([...secrets.keys()].sort()).toEqual(['sg-controller-tls', 'sg-webhook-tls-ca']);
    const written = secrets.get('sg-controller-tls')!;
    const cert = Buffer.from(written.data!['tls.crt']!, 'base64').toString();
    expect(inspectCertificate(cert)!.hosts).toEqual(CONTROLLER);
    expect(verifiesAgainst(cert, leader.bundle, T0 + DAY)).toBe(true);
    expect(Buffer.from(written.data!['ca.crt']!, 'base64').toString()).toBe(leader.bundle);
    // Again: nothing to do.
    expect(await reconciler(secrets, T0 + 2 * DAY).issueControllerCertificate()).toBe(false);

    // The CA is due for rotation: that is the Lease holder's to start.
    const fresh = asSecrets(leader.state);
    expect(await reconciler(fresh, T0 + 300 * DAY).issueControllerCertificate()).toBe(false);
    expect([...fresh.keys()]).toEqual(['sg-webhook-tls-ca']);
  });
});
