// A responder's token lock (`skillgate lock token JTI`) binds the pod that held the token: while the
// lock is in force that pod's next exchange is refused, naming the lock, however many times it asks
// and whether or not the locked token has expired; once the lock is lifted (or expires) the pod is
// admitted again. The skill's other pods are not touched, and the controller's own revocations (also
// token locks) bind no pod. Over the real exchange and the real issued-token index on real Redis
// (a unique key prefix per run, removed afterwards); TokenReview and the pod read are stand-ins,
// because there is no kube-apiserver in the unit tier.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LockSet, WorkloadTokenIssuer, generateSigningKey, revocationLock, type IssuedToken, type Lock, type SigningKey } from '@skillgate/identity';
import { OAuthError, RedisIssuedTokens, TokenExchange, type IssuedTokenIndex, type TokenExchangeDeps } from '../src/index.js';
import { POD_KEEPS_EXPIRED_MS } from '../src/token-exchange/issued.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL);
const prefix = `sgtest:${randomBytes(5).toString('hex')}:`;
let signing: SigningKey;

beforeAll(async () => { signing = await generateSigningKey(); });
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** Pods p1 and p2 of skill `summarize`; the subject token names the pod it was projected into. */
const podNamed = (name: string) => ({
  metadata: { name, uid: `uid-${name}`, labels: { 'skillgate.dev/skill': 'summarize' }, annotations: { 'skillgate.dev/owner': 'alice@example.com', 'skillgate.dev/injected': '0.2.2' } },
  spec: { initContainers: [{ name: 'skillgate-sidecar' }], containers: [] },
});

interface Setup {
  exchange: TokenExchange;
  locks: LockSet;
  /** Epoch ms the exchange and the issuer read. */
  clock: { now: number };
}

function setup(issued: IssuedTokenIndex, extra: Partial<TokenExchangeDeps> = {}): Setup {
  const locks = new LockSet();
  const clock = { now: Date.now() };
  const exchange = new TokenExchange({
    reviewer: { review: async (subject: string) => ({ namespace: 'team-a', serviceAccount: 'default', podName: subject, podUid: `uid-${subject}` }) },
    pods: { pod: async (_ns: string, name: string) => podNamed(name), namespace: async () => ({ metadata: { name: 'team-a', labels: { 'skillgate.dev/inject': 'enabled' } } }) },
    issuer: new WorkloadTokenIssuer(signing, 'https://skillgate-controller', () => clock.now),
    issued,
    ownerActive: () => true,
    locks: () => locks,
    credentials: { credentialFor: async () => undefined },
    clock: () => clock.now,
    ...extra,
  } as unknown as TokenExchangeDeps);
  return { exchange, locks, clock };
}

const index = () => new RedisIssuedTokens(redis, `${prefix}${randomBytes(3).toString('hex')}:`);
const exchangeOf = (s: Setup, pod: string) => s.exchange.exchange({ subjectToken: pod, audience: 'skillgate' });
const refusal = (s: Setup, pod: string) => exchangeOf(s, pod).then(() => undefined, (err: unknown) => err);
/** What `skillgate lock token JTI --reason R` puts in force. */
const tokenLock = (jti: string, extra: Partial<Lock> = {}): Lock => ({ name: `token-${jti.slice(0, 8)}`, target: { kind: 'token', value: jti }, reason: 'INC-1 token leaked', createdBy: 'responder@example.com', ...extra });

test('a locked token keeps the pod that held it from getting another until the lock is lifted; another pod of the same skill is not affected', async () => {
  const s = setup(index());
  const { jti: leaked } = await exchangeOf(s, 'p1');
  const { jti: neighbour } = await exchangeOf(s, 'p2');
  s.locks.put(tokenLock(leaked));

  // The sidecar's refresh, and every retry after it, is refused with the lock's name and reason.
  for (let retry = 0; retry < 3; retry++) {
    const refused = await refusal(s, 'p1');
    expect(refused).toBeInstanceOf(OAuthError);
    expect(refused).toMatchObject({ error: 'access_denied', status: 403, identity: { pod: 'p1', skill: 'summarize' } });
    expect((refused as OAuthError).description).toMatch(new RegExp(`^pod team-a/p1 of skill summarize is locked by SkillLock "token-${leaked.slice(0, 8)}": INC-1 token leaked \\(it locks workload token ${leaked}, which this pod held`));
  }
  // The skill's other pod keeps getting tokens.
  const next = await exchangeOf(s, 'p2');
  expect(next.jti).not.toBe(neighbour);
  expect(next.identity).toMatchObject({ pod: 'p2', skill: 'summarize' });

  s.locks.remove(`token-${leaked.slice(0, 8)}`);
  const again = await exchangeOf(s, 'p1');
  expect(again.response.access_token).toMatch(/^ey/);
  expect(again.jti).not.toBe(leaked);
});

test('a lock on an older token of the pod binds it too, the token expired or not, until the lock itself expires', async () => {
  const s = setup(index());
  const { jti: first, expiresAt } = await exchangeOf(s, 'p1');
  await exchangeOf(s, 'p1'); // the refresh: the pod now holds a newer token
  s.locks.put(tokenLock(first, { expiresAt: expiresAt + 2 * 3_600_000 }));
  await expect(exchangeOf(s, 'p1')).rejects.toMatchObject({ error: 'access_denied', description: expect.stringContaining(first) });
  // An hour after the locked token expired the pod still gets nothing: refused, it wrote nothing.
  s.clock.now = expiresAt + 3_600_000;
  await expect(exchangeOf(s, 'p1')).rejects.toMatchObject({ error: 'access_denied' });
  // The lock's own expiry lifts it.
  s.clock.now = expiresAt + 2 * 3_600_000;
  expect((await exchangeOf(s, 'p1')).identity.pod).toBe('p1');
});

test('a token lock made while the pod\'s next token was being made keeps that token from leaving the exchange', async () => {
  const redisIndex = index();
  let lockMeanwhile: (() => void) | undefined;
  // The real index, with a moment between writing the jti and the re-check where a lock lands.
  const issued: IssuedTokenIndex = {
    record: async (t: IssuedToken) => { await redisIndex.record(t); lockMeanwhile?.(); },
    ofOwner: (o, now) => redisIndex.ofOwner(o, now),
    ofPod: (ns, p, now) => redisIndex.ofPod(ns, p, now),
    jtisOfPod: (ns, p) => redisIndex.jtisOfPod(ns, p),
  };
  const s = setup(issued);
  const { jti: leaked } = await exchangeOf(s, 'p1');
  lockMeanwhile = () => s.locks.put(tokenLock(leaked));
  await expect(exchangeOf(s, 'p1')).rejects.toMatchObject({ error: 'access_denied', description: expect.stringContaining(`SkillLock "token-${leaked.slice(0, 8)}"`) });
});

test('the controller\'s own revocation of a token binds no pod: it re-exchanges at once (owner reassigned or reinstated)', async () => {
  const s = setup(index());
  const { jti, expiresAt } = await exchangeOf(s, 'p1');
  s.locks.put(revocationLock({ jti, expiresAt }, 'workload token revoked: skill summarize was reassigned'));
  const next = await exchangeOf(s, 'p1');
  expect(next.jti).not.toBe(jti);
});

test('while a token lock is in force and the index cannot be read, the pod is told to retry, not handed a token; with none in force the index is not read', async () => {
  // A real client with no Redis behind it (nothing listens on port 1): every command fails at once.
  const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  try {
    const faults: string[] = [];
    const s = setup(new RedisIssuedTokens(down, prefix), { onIndexFault: (err) => faults.push(err.message) });
    // No token lock: the exchange never reads the index (its write fails and is told, as before).
    expect((await exchangeOf(s, 'p1')).identity.pod).toBe('p1');
    expect(faults).toHaveLength(1);
    s.locks.put(tokenLock('some-other-jti'));
    await expect(exchangeOf(s, 'p1')).rejects.toMatchObject({ error: 'temporarily_unavailable', status: 503, description: expect.stringMatching(/a token lock is in force and the tokens issued to pod team-a\/p1 cannot be read .*; retry shortly/) });
    // A revocation alone does not make the exchange depend on the index.
    s.locks.remove('token-some-oth');
    s.locks.put(revocationLock({ jti: 'revoked-jti', expiresAt: s.clock.now + 60_000 }, 'revoked'));
    expect((await exchangeOf(s, 'p1')).identity.pod).toBe('p1');
  } finally {
    down.disconnect();
  }
});

test('a pod\'s index keeps a token for an hour after it expired, for token locks; revocations still read only unexpired tokens', async () => {
  const idx = index();
  const now = Date.now();
  const token = (jti: string, expiresAt: number): IssuedToken => ({ jti, owner: 'alice@example.com', skill: 'summarize', namespace: 'team-a', pod: 'p1', expiresAt });
  await idx.record(token('long-gone', now - POD_KEEPS_EXPIRED_MS - 60_000));
  await idx.record(token('expired', now - 60_000));
  await idx.record(token('live', now + 600_000));
  expect((await idx.jtisOfPod('team-a', 'p1')).sort()).toEqual(['expired', 'live']);
  expect((await idx.ofPod('team-a', 'p1', now)).map((t) => t.jti)).toEqual(['live']);
  expect((await idx.ofOwner('alice@example.com', now)).map((t) => t.jti)).toEqual(['live']);
  expect(await idx.jtisOfPod('team-a', 'p2')).toEqual([]);
  // Reading keeps the set: a pod refused under a token lock writes nothing, but is remembered.
  await redis.pexpire(idx.podKey('team-a', 'p1'), 1000);
  await idx.jtisOfPod('team-a', 'p1');
  expect(await redis.pttl(idx.podKey('team-a', 'p1'))).toBeGreaterThan(POD_KEEPS_EXPIRED_MS);
});
