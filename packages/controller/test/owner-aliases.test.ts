// Offboarding a person reaches every spelling of their address. A skill whose pod names its owner
// as `jane+triage@example.com` is jane's: the pod watch registers no owner of its own for it, its
// workload token names jane@example.com, and `skillgate owners offboard jane@example.com` locks it,
// makes the registry say jane is not active and refuses its next token (and revokes the one it has).
// And where the installation requires known owners, a skill whose owner only its pod's annotation
// names (a made-up address no identity provider will ever offboard) gets no token until SCIM or a
// responder vouches for that owner.
// Real OwnerStore, OwnerLifecycle (what `skillgate owners offboard` and SCIM run), LockClient,
// OwnerReconciler, PodOwnerWatcher and TokenExchange. The owner records (ConfigMaps), SkillLocks and
// their watch live in Kubernetes; here an in-memory stand-in of those API calls answers them, since
// unit tests run without an API server (the same paths against a real kube-apiserver are in
// e2e/controller/).
import { pino } from 'pino';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { SkillLock } from '@skillgate/api';
import {
  LockSet, SCIM_ACTOR, WorkloadTokenIssuer, generateSigningKey, isVouched, lockFromResource, newOwner, normalizeOwner, offboardLockName, ownerId, type IssuedToken, type Lock,
} from '@skillgate/identity';
import {
  ControllerMetrics, LockClient, OAuthError, OwnerLifecycle, OwnerReconciler, OwnerStore, PodOwnerWatcher, POD_REGISTRATION_ACTOR, TokenExchange,
  ownerConfigMapName, type IssuedTokenIndex, type KubeClients, type LockReconciler,
} from '../src/index.js';

const NS = 'skillgate-system';
const log = pino({ level: 'silent' });
const apiError = (code: number, message: string) => Object.assign(new Error(message), { code });

/** ConfigMaps and SkillLocks in memory, with a watch that reports every write, as the API server would. */
class StandInApiServer {
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly skillLocks = new Map<string, SkillLock>();
  readonly pods: V1Pod[] = [];
  private version = 1;
  private readonly watchers: Array<{ path: string; onEvent: (phase: string, obj: unknown) => void }> = [];

  private stamp<T extends { metadata?: { resourceVersion?: string } }>(obj: T): T {
    return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.version) } };
  }

  private tell(path: string, phase: string, obj: unknown): void {
    for (const w of this.watchers) if (w.path === path) w.onEvent(phase, structuredClone(obj));
  }

  /** Put a record as an older controller wrote it (no watch running yet). */
  seed(cm: V1ConfigMap): void {
    this.configMaps.set(cm.metadata!.name!, this.stamp(cm));
  }

  readonly kube = {
    core: {
      readNamespacedConfigMap: async ({ name }: { name: string }) => {
        const cm = this.configMaps.get(name);
        if (!cm) throw apiError(404, `configmaps "${name}" not found`);
        return structuredClone(cm);
      },
      listNamespacedConfigMap: async () => ({ items: [...this.configMaps.values()].map((cm) => structuredClone(cm)), metadata: { resourceVersion: String(this.version) } }),
      createNamespacedConfigMap: async ({ body }: { body: V1ConfigMap }) => {
        const name = body.metadata!.name!;
        if (this.configMaps.has(name)) throw apiError(409, `configmaps "${name}" already exists`);
        const cm = this.stamp(body);
        this.configMaps.set(name, cm);
        this.tell(`/api/v1/namespaces/${NS}/configmaps`, 'ADDED', cm);
        return cm;
      },
      replaceNamespacedConfigMap: async ({ name, body }: { name: string; body: V1ConfigMap }) => {
        if (this.configMaps.get(name)?.metadata?.resourceVersion !== body.metadata?.resourceVersion) throw apiError(409, 'conflict');
        const cm = this.stamp(body);
        this.configMaps.set(name, cm);
        this.tell(`/api/v1/namespaces/${NS}/configmaps`, 'MODIFIED', cm);
        return cm;
      },
      createNamespacedEvent: async () => ({}),
      listPodForAllNamespaces: async () => ({ items: this.pods, metadata: { resourceVersion: String(this.version) } }),
    },
    custom: {
      createClusterCustomObject: async ({ body }: { body: SkillLock }) => {
        if (this.skillLocks.has(body.metadata.name)) throw apiError(409, 'already exists');
        this.skillLocks.set(body.metadata.name, this.stamp(body));
        return body;
      },
      getClusterCustomObject: async ({ name }: { name: string }) => {
        const lock = this.skillLocks.get(name);
        if (!lock) throw apiError(404, 'not found');
        return structuredClone(lock);
      },
      replaceClusterCustomObject: async ({ name, body }: { name: string; body: SkillLock }) => {
        this.skillLocks.set(name, this.stamp(body));
        return body;
      },
      deleteClusterCustomObject: async ({ name }: { name: string }) => {
        if (!this.skillLocks.delete(name)) throw apiError(404, 'not found');
        return {};
      },
      listClusterCustomObject: async () => ({ items: [...this.skillLocks.values()] }),
    },
    watch: {
      watch: async (path: string, _query: unknown, onEvent: (phase: string, obj: unknown) => void) => {
        this.watchers.push({ path, onEvent });
        return new AbortController();
      },
    },
  } as unknown as KubeClients;
}

/** The issued-token index, in memory (the controller's is on Redis: RedisIssuedTokens, tested there). */
class IssuedIndex implements IssuedTokenIndex {
  readonly tokens: IssuedToken[] = [];
  async record(t: IssuedToken): Promise<void> { this.tokens.push(t); }
  async ofOwner(owner: string, now: number): Promise<IssuedToken[]> { return this.tokens.filter((t) => normalizeOwner(t.owner) === normalizeOwner(owner) && t.expiresAt > now); }
  async ofPod(namespace: string, pod: string, now: number): Promise<IssuedToken[]> { return this.tokens.filter((t) => t.namespace === namespace && t.pod === pod && t.expiresAt > now); }
  async jtisOfPod(namespace: string, pod: string): Promise<string[]> { return this.tokens.filter((t) => t.namespace === namespace && t.pod === pod).map((t) => t.jti); }
}

/** An injected skill pod of team-a whose owner annotation is `owner`. */
const skillPod = (owner: string): V1Pod => ({
  metadata: {
    name: 'triage-bot', namespace: 'team-a', uid: 'u1',
    labels: { 'skillgate.dev/skill': 'invoice-triage' },
    annotations: { 'skillgate.dev/owner': owner, 'skillgate.dev/injected': '0.2.2' },
  },
  spec: { serviceAccountName: 'default', initContainers: [{ name: 'skillgate-sidecar' }], containers: [{ name: 'app' }] },
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Watch loops a test started, stopped after it. */
const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => { for (const loop of running.splice(0)) await loop.stop(); });

async function cluster(podOwner: string) {
  const api = new StandInApiServer();
  api.pods.push(skillPod(podOwner));
  const store = new OwnerStore(api.kube, NS);
  const lockClient = new LockClient(api.kube);
  const lifecycle = new OwnerLifecycle(store, lockClient);
  const issued = new IssuedIndex();
  const revoked: Lock[] = [];
  const owners = new OwnerReconciler({
    kube: api.kube, namespace: NS, issued, log, metrics: new ControllerMetrics(false),
    locks: { addSynthetic: async (lock: Lock) => { revoked.push(lock); } } as unknown as LockReconciler,
  });
  const pods = new PodOwnerWatcher({
    kube: api.kube, log, leading: () => true, knownOwner: (email) => owners.knows(email),
    registerOwner: async (email, seenOn) => { await lifecycle.register(email, `${POD_REGISTRATION_ACTOR}${seenOn.namespace}/${seenOn.pod}`); },
    reassigned: async () => undefined,
  });
  /** The SkillLocks in force, as the controller's lock reconciler (and every sidecar) holds them. */
  const locks = () => new LockSet([...api.skillLocks.values()].map(lockFromResource));
  const issuer = new WorkloadTokenIssuer(await generateSigningKey(), 'https://skillgate-controller');
  /** The controller's token exchange, asking `ownerActive` (the owner registry, unless a test says otherwise). */
  const exchangeWith = (ownerActive: (email: string) => boolean, ownerVouched?: (email: string) => boolean) => new TokenExchange({
    reviewer: { review: async () => ({ namespace: 'team-a', serviceAccount: 'default', podName: 'triage-bot', podUid: 'u1' }) },
    pods: { pod: async () => api.pods[0], namespace: async () => ({ metadata: { name: 'team-a', labels: { 'skillgate.dev/inject': 'enabled' } } }) },
    issuer, issued, ownerActive, locks, ...(ownerVouched ? { ownerVouched } : {}),
    credentials: { credentialFor: async () => undefined },
  });
  const exchange = exchangeWith((email) => owners.isActive(email));
  running.push(owners, pods);
  await owners.start();
  await owners.lead();
  await pods.start();
  return { api, store, lifecycle, owners, pods, locks, exchange, exchangeWith, revoked };
}

const request = { subjectToken: 'projected-sa-token', audience: 'skillgate' };

describe('offboarding an owner reaches every spelling of their address', () => {
  test('offboarding jane@example.com locks, deactivates and refuses a skill whose pod names jane+triage@example.com', async () => {
    const c = await cluster('jane+triage@example.com');
    // The pod watch registered jane, not an owner of the alias.
    await until(() => c.owners.knows('jane@example.com'), 'the pod watch registers the owner');
    expect((await c.store.list()).map((o) => [o.email, o.active])).toEqual([['jane@example.com', true]]);
    // Before: the skill gets a token, naming jane.
    const granted = await c.exchange.exchange(request);
    expect(granted.identity.owner).toBe('jane@example.com');

    // `skillgate owners offboard jane@example.com`
    const change = await c.lifecycle.offboard('jane@example.com', 'left the company', 'responder@example.com');
    expect(change.transition).toBe('offboarded');
    await until(() => !c.owners.isActive('jane@example.com'), 'the reconciler sees the record');

    // The lock matches the alias pod's identity, the registry says the alias is not active, and the
    // token exchange refuses it: on the owner's status, and on the lock alone.
    const hit = c.locks().match({ identity: granted.identity }, Date.now());
    expect(hit?.lockName).toBe(offboardLockName('jane@example.com'));
    expect(c.locks().match({ identity: { ...granted.identity, owner: 'jane+triage@example.com' } }, Date.now())?.lockName).toBe(offboardLockName('jane@example.com'));
    expect(c.owners.isActive('jane+triage@example.com')).toBe(false);
    const refused = await c.exchange.exchange(request).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(OAuthError);
    expect((refused as Error).message).toMatch(/owner jane@example\.com of skill invoice-triage is offboarded/);
    await expect(c.exchangeWith(() => true).exchange(request)).rejects.toThrow(new RegExp(`locked by SkillLock "${offboardLockName('jane@example.com')}"`));
    // The token it held is revoked.
    expect(c.revoked.map((l) => l.target)).toEqual([{ kind: 'token', value: granted.jti }]);
  });

  test('offboarding any +tag or trailing-dot spelling offboards the same owner, under the same lock', async () => {
    const c = await cluster('jane@example.com');
    await c.lifecycle.offboard('Jane+Other@Example.com.', 'left', 'responder@example.com');
    expect([...c.api.skillLocks.keys()]).toEqual([offboardLockName('jane@example.com')]);
    expect(c.api.skillLocks.get(offboardLockName('jane@example.com'))!.spec.target).toEqual({ kind: 'owner', value: 'jane@example.com' });
    await until(() => !c.owners.isActive('jane@example.com'), 'the reconciler sees the record');
    await expect(c.exchange.exchange(request)).rejects.toThrow(/offboarded/);
  });

  test('a record an older controller kept for an alias does not make the offboarded owner active again', async () => {
    const api = new StandInApiServer();
    // Written before owners had one canonical form: the pod watch's record of the alias, active.
    const alias = { ...newOwner('jane@example.com', new Date()), email: 'jane+triage@example.com', id: 'a11a5a11a5a11a5a11a5a11a', changedBy: `${POD_REGISTRATION_ACTOR}team-a/triage-bot` };
    const lifecycle = new OwnerLifecycle(new OwnerStore(api.kube, NS), new LockClient(api.kube));
    await lifecycle.offboard('jane@example.com', 'left', 'scim', { source: 'scim' });
    api.seed({ metadata: { name: ownerConfigMapName(alias.id), namespace: NS, labels: { 'skillgate.dev/owner-record': 'true' } }, data: { 'owner.json': JSON.stringify(alias) } });
    const owners = new OwnerReconciler({ kube: api.kube, namespace: NS, issued: new IssuedIndex(), log, metrics: new ControllerMetrics(false), locks: {} as LockReconciler });
    running.push(owners);
    await owners.start();
    expect(owners.isActive('jane@example.com')).toBe(false);
    expect(owners.registry.get(ownerId('jane@example.com'))?.active).toBe(false);
    expect((await new OwnerStore(api.kube, NS).list()).map((o) => [o.email, o.active])).toEqual([['jane@example.com', false]]);
  });
});

describe('an installation that requires known owners (controller.requireKnownOwners)', () => {
  test('a skill whose owner only its pod names gets no token until a responder vouches for the owner (skillgate owners add)', async () => {
    const c = await cluster('made.up+x@nowhere.example');
    await until(() => c.owners.knows('made.up@nowhere.example'), 'the pod watch registers the owner');
    const strict = c.exchangeWith((email) => c.owners.isActive(email), (email) => c.owners.registry.isVouched(email));
    // Registered from the annotation: active, so the permissive default lets it through...
    expect(c.owners.isActive('made.up@nowhere.example')).toBe(true);
    expect((await c.exchange.exchange(request)).identity.owner).toBe('made.up@nowhere.example');
    // ...but nobody vouched for it.
    expect(isVouched((await c.store.get('made.up@nowhere.example'))!)).toBe(false);
    const refused = await strict.exchange(request).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(OAuthError);
    expect((refused as OAuthError).error).toBe('access_denied');
    expect((refused as Error).message).toMatch(/owner made\.up@nowhere\.example of skill invoice-triage is not known: .*skillgate owners add made\.up@nowhere\.example/);

    // `skillgate owners add made.up@nowhere.example`: the record is now a responder's.
    await c.lifecycle.upsert('made.up@nowhere.example', {}, 'responder@example.com');
    await until(() => c.owners.registry.isVouched('made.up@nowhere.example'), 'the reconciler sees the vouched record');
    expect((await strict.exchange(request)).identity.owner).toBe('made.up@nowhere.example');
  });

  test('an owner the identity provider provisioned (a SCIM write) is known; an owner with no record at all is not', async () => {
    const c = await cluster('erin@example.com');
    const strict = c.exchangeWith((email) => c.owners.isActive(email), (email) => c.owners.registry.isVouched(email));
    expect(c.owners.registry.isVouched('nobody@example.com')).toBe(false);
    // What the SCIM endpoint runs for a provisioned, active user (its changedBy is the IdP's).
    await c.lifecycle.upsert('Erin@Example.com', { externalId: 'okta-00u1' }, SCIM_ACTOR);
    await until(() => c.owners.registry.isVouched('erin@example.com'), 'the reconciler sees the SCIM record');
    expect((await strict.exchange(request)).identity.owner).toBe('erin@example.com');
    // Vouched for and then offboarded: refused as offboarded, whoever vouched.
    await c.lifecycle.offboard('erin@example.com', 'left', SCIM_ACTOR, { source: 'scim' });
    await until(() => !c.owners.isActive('erin@example.com'), 'the reconciler sees the offboarding');
    await expect(strict.exchange(request)).rejects.toThrow(/is offboarded/);
  });
});
