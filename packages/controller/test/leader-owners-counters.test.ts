// Pure parts of the controller's newer loops (skill pods, SkillLock counters, configuration) and the
// issued-token index on real Redis (unique key prefix per run, removed afterwards).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { SkillLock } from '@skillgate/api';
import { RedisIssuedTokens, controllerConfigFromEnv, resolveControllerConfig, skillPodOf, statsPatch, lockStatsKey } from '../src/index.js';
import { newSigningKeyPem } from '../src/signing-key.js';

describe('skill pods declare their owner', () => {
  const pod = (annotations: Record<string, string>) => ({ metadata: { name: 'p', namespace: 'ns', labels: { 'skillgate.dev/skill': 's' }, annotations } });
  test('a labelled pod names its skill and its normalised owner', () => {
    expect(skillPodOf(pod({ 'skillgate.dev/owner': ' Erin@Example.com ' }))).toEqual({ namespace: 'ns', pod: 'p', skill: 's', owner: 'erin@example.com' });
    expect(skillPodOf(pod({ 'skillgate.dev/owner': 'Erin+triage@example.com' }))?.owner).toBe('erin@example.com');
  });
  test('an owner annotation that is not an email names no owner; an unlabelled pod is not a skill', () => {
    expect(skillPodOf(pod({ 'skillgate.dev/owner': 'team-a' }))?.owner).toBeUndefined();
    expect(skillPodOf(pod({ 'skillgate.dev/owner': 'oidc:erin@example.com' }))?.owner).toBeUndefined();
    expect(skillPodOf(pod({ 'skillgate.dev/owner': 'erin@example.com.' }))?.owner).toBeUndefined();
    expect(skillPodOf({ metadata: { name: 'p', namespace: 'ns' } })).toBeUndefined();
  });
});

describe('SkillLock counters', () => {
  const lock = (status?: SkillLock['status']): SkillLock => ({
    apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillLock', metadata: { name: 'l' },
    spec: { target: { kind: 'skill', value: 's' }, reason: 'r' }, ...(status ? { status } : {}),
  });
  test('only counters that changed are patched', () => {
    expect(statsPatch(lock({ streamsKilled: 2 }), { streamsKilled: 2, requestsRefused: 3 })).toEqual({ requestsRefused: 3 });
    expect(statsPatch(lock(), { streamsKilled: 1 })).toEqual({ streamsKilled: 1 });
  });
  test('nothing to write when the status already shows the counts, or nobody counted', () => {
    expect(statsPatch(lock({ streamsKilled: 2, requestsRefused: 3 }), { streamsKilled: 2, requestsRefused: 3 })).toBeUndefined();
    expect(statsPatch(lock(), {})).toBeUndefined();
  });
  test('sidecars count under a key named after the lock, inside the shared prefix', () => {
    expect(lockStatsKey('skillgate:', 'offboard-abc')).toBe('skillgate:locks:stats:offboard-abc');
  });
});

describe('controller configuration', () => {
  test('approval, leader election and counter settings come from the environment', () => {
    const input = controllerConfigFromEnv({
      REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_APPROVAL_WEBHOOK_URL: 'https://hooks.example.com/T1', SKILLGATE_APPROVAL_USER_HEADER: 'X-Auth-Request-User',
      SKILLGATE_LEADER_ELECTION: 'false', SKILLGATE_LEASE_DURATION_SECONDS: '20', POD_NAME: 'controller-7d9f-abc', SKILLGATE_LOCK_STATS_INTERVAL_MS: '1000',
    });
    const c = resolveControllerConfig(input);
    expect(c.approvals).toEqual({ webhookUrl: 'https://hooks.example.com/T1', userHeader: 'x-auth-request-user' });
    expect(c.leaderElection).toEqual({ enabled: false, leaseName: 'skillgate-controller', leaseDurationSeconds: 20, retryPeriodMs: 2000, identity: 'controller-7d9f-abc' });
    expect(c.lockStatsIntervalMs).toBe(1000);
    expect(c.requireKnownOwners).toBe(false);
    expect(resolveControllerConfig(controllerConfigFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_REQUIRE_KNOWN_OWNERS: 'true' })).requireKnownOwners).toBe(true);
  });
  test('a bad value fails fast naming the field', () => {
    const base = { redisUrl: 'redis://127.0.0.1:6379' };
    expect(() => resolveControllerConfig({ ...base, approvals: { linkBaseUrl: 'https://sg.example.com' } })).toThrow(/approvals: .*go together/);
    expect(() => resolveControllerConfig({ ...base, approvals: { webhookUrl: 'ftp://x' } })).toThrow(/approvals\.webhookUrl/);
    expect(() => resolveControllerConfig({ ...base, leaderElection: { leaseDurationSeconds: 0 } })).toThrow(/leaseDurationSeconds/);
    expect(() => controllerConfigFromEnv({ SKILLGATE_LEADER_ELECTION: 'maybe' })).toThrow(/SKILLGATE_LEADER_ELECTION/);
    expect(() => controllerConfigFromEnv({ SKILLGATE_REQUIRE_KNOWN_OWNERS: 'yes please' })).toThrow(/requireKnownOwners: SKILLGATE_REQUIRE_KNOWN_OWNERS must be true or false/);
    expect(() => controllerConfigFromEnv({ SKILLGATE_SIGNING_KEY_SECRET: 'a/b/c' })).toThrow(/signingKeySecret: expected name or namespace\/name/);
    expect(() => controllerConfigFromEnv({ SKILLGATE_SIGNING_KEY_SECRET: 'Signing_Key' })).toThrow(/signingKeySecret/);
    expect(() => controllerConfigFromEnv({ SKILLGATE_APPROVAL_LISTEN: '0.0.0.0:http' })).toThrow(/approvals\.listen: not host:port/);
    expect(() => resolveControllerConfig({ ...base, approvals: { listen: { host: '0.0.0.0', port: 8444 } } })).toThrow(/approvals\.listen: a listener for approval links needs the links/);
  });
  test('a Redis URL for the sidecars is read from SKILLGATE_SIDECAR_REDIS_URL, and a bad one is refused without repeating it', () => {
    const url = 'rediss://sidecars:pa55word@redis.skillgate-system.svc:6380/1';
    expect(resolveControllerConfig(controllerConfigFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_SIDECAR_REDIS_URL: url })).sidecarRedisUrl).toBe(url);
    expect(resolveControllerConfig(controllerConfigFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })).sidecarRedisUrl).toBeUndefined();
    for (const bad of ['https://user:pa55word@redis:6379', 'redis://', 'pa55word']) {
      let message = '';
      try {
        resolveControllerConfig(controllerConfigFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_SIDECAR_REDIS_URL: bad }));
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/sidecarRedisUrl: must be a redis:\/\/ or rediss:\/\/ URL with a host/);
      expect(message).not.toContain('pa55word');
    }
  });
  test('the approval links may get a listener of their own', () => {
    const input = controllerConfigFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_APPROVAL_LISTEN: '0.0.0.0:8444', SKILLGATE_APPROVAL_LINK_BASE_URL: 'https://sg.example.com' });
    expect(input.approvals?.listen).toEqual({ host: '0.0.0.0', port: 8444 });
  });
  test('the signing key Secret defaults to the controller\'s namespace, and a mounted key file wins over it', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', POD_NAMESPACE: 'skillgate-system', SKILLGATE_SIGNING_KEY_SECRET: 'sg-skillgate-signing-key' };
    expect(resolveControllerConfig(controllerConfigFromEnv(env)).signingKeySecret).toEqual({ namespace: 'skillgate-system', name: 'sg-skillgate-signing-key' });
    expect(resolveControllerConfig(controllerConfigFromEnv({ ...env, SKILLGATE_SIGNING_KEY_SECRET: 'keys/signing' })).signingKeySecret).toEqual({ namespace: 'keys', name: 'signing' });
    const file = join(mkdtempSync(join(tmpdir(), 'sg-key-')), 'signing-key.pem');
    writeFileSync(file, newSigningKeyPem());
    const both = resolveControllerConfig(controllerConfigFromEnv({ ...env, SKILLGATE_SIGNING_KEY_FILE: file }));
    expect(both.signingKeyFile).toBe(file);
    expect(both.signingKeySecret).toBeUndefined();
  });
});

describe('the issued-token index on Redis', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `sgtest:${randomBytes(5).toString('hex')}:`;
  const index = new RedisIssuedTokens(redis, prefix);
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test('tokens are found by owner (case-insensitively) and by pod, from any replica, until they expire', async () => {
    const now = Date.now();
    await index.record({ jti: 'j1', owner: 'Erin@Example.com', skill: 's', namespace: 'ns', pod: 'p1', expiresAt: now + 60_000 });
    await index.record({ jti: 'j2', owner: 'erin@example.com', skill: 's', namespace: 'ns', pod: 'p2', expiresAt: now + 1000 });
    await index.record({ jti: 'j3', owner: 'sam@example.com', skill: 't', namespace: 'ns', pod: 'p1', expiresAt: now + 60_000 });
    const other = new RedisIssuedTokens(redis, prefix);
    expect((await other.ofOwner('erin@example.com', now)).map((t) => t.jti).sort()).toEqual(['j1', 'j2']);
    expect((await other.ofPod('ns', 'p1', now)).map((t) => t.jti).sort()).toEqual(['j1', 'j3']);
    expect((await other.ofOwner('ERIN@example.com', now + 5000)).map((t) => t.jti)).toEqual(['j1']);
  });
});
