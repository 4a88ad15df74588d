// The full sidecar row's set-up, shared by run.mjs and profile.mjs: the environment the container
// entrypoint's wiring reads (a fresh skill identity and Redis key prefix per run, the SkillPolicy as
// JSON as a pod gets it; BENCH_POLICY_FILE chooses it), and the removal of that run's Redis keys.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyFileAsJson } from '../lib/policy-json.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * { token, env }: the token names the run's skill, namespace, pod and Redis key prefix. `redisUrl`:
 * the Redis the sidecar records to (default REDIS_URL, else the local one).
 */
export function fullSidecarEnv(redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') {
  const token = `bench${randomBytes(4).toString('hex')}`;
  const env = {
    REDIS_URL: redisUrl,
    SKILLGATE_SKILL: token, SKILLGATE_NAMESPACE: token, SKILLGATE_POD_NAME: token, SKILLGATE_REDIS_PREFIX: `${token}:`,
    SKILLGATE_POLICY_FILE: policyFileAsJson(resolve(process.env.BENCH_POLICY_FILE ?? join(here, 'policy.yaml')), token),
  };
  return { token, env };
}

/** Delete the keys a run wrote (every key naming its token) from the Redis at `redisUrl`. */
export function deleteRedisKeys(redisUrl, token) {
  const url = new URL(redisUrl);
  const args = ['-h', url.hostname, '-p', url.port || '6379'];
  const keys = execFileSync('redis-cli', [...args, '--scan', '--pattern', `*${token}*`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 100) execFileSync('redis-cli', [...args, 'del', ...keys.slice(i, i + 100)], { stdio: 'ignore' });
}
