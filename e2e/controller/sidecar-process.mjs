#!/usr/bin/env node
// A sidecar process wired for a cluster, as the injected container runs it: identity and upstream
// credential from the controller (ClusterIdentity), locks from Redis (RedisLockGuard). Used by the
// e2e tests and bench/revocation to run many real sidecar processes. Prints one JSON line
// {"claudeUrl": ...} on stdout once ready; exits on SIGTERM. Reads the same env as the container
// (SKILLGATE_CONTROLLER_URL, SKILLGATE_TOKEN_FILE, REDIS_URL, SKILLGATE_REDIS_PREFIX,
// SKILLGATE_UPSTREAM_URL, SKILLGATE_POD_*), and listens on free loopback ports.
import { startSidecar } from '../../packages/sidecar/dist/src/index.js';
import { clusterIdentityFromEnv } from '../../packages/sidecar/dist/src/cluster/identity.js';
import { redisLockGuardFromEnv } from '../../packages/sidecar/dist/src/cluster/locks.js';

const identity = clusterIdentityFromEnv(process.env);
const locks = redisLockGuardFromEnv(process.env);
if (!identity || !locks) {
  process.stderr.write('sidecar-process: SKILLGATE_CONTROLLER_URL and REDIS_URL are required\n');
  process.exit(2);
}
await locks.start();
await locks.whenSynced(10_000);
await identity.start();
identity.watchRevocations(locks);
const sidecar = await startSidecar({
  upstreamUrl: process.env.SKILLGATE_UPSTREAM_URL,
  logLevel: process.env.SKILLGATE_LOG_LEVEL ?? 'warn',
  listen: { host: '127.0.0.1', claude: 0, egress: 0, adminHost: '127.0.0.1', health: 0, metrics: 0 },
  recordDir: process.env.SKILLGATE_RECORD_DIR ?? `/tmp/skillgate-e2e-records-${process.pid}`,
}, { identity, credential: identity, locks, readiness: () => locks.readiness() });
process.stdout.write(`${JSON.stringify({ claudeUrl: sidecar.claudeUrl, refusal: identity.refusal()?.message ?? null })}\n`);
const stop = async () => {
  identity.close();
  await sidecar.close();
  await locks.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
