// A local sidecar's rate limiter (memory-rate-limit.ts) decides with the shared rate-limit pieces
// (rate-limit.ts), never with the module of the Redis limiter and its script (cluster/guard.ts),
// which the wiring loads only when a policy is in force. A module hook in a child process notes
// every file the limiter's import loads (module.registerHooks: Node 22.15+).
import { execFileSync } from 'node:child_process';

const here = (path: string) => new URL(path, import.meta.url).href;

test('the in-memory rate limiter loads the shared rate-limit module, not the Redis limiter\'s', () => {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    const { memoryRateLimiter } = await import(${JSON.stringify(here('../src/memory-rate-limit.js'))});
    const limits = { requestsPerMinute: { value: 1, policy: 'team-a/p' } };
    const limiter = memoryRateLimiter({ now: () => 0 });
    const identity = { namespace: 'team-a', skill: 'triage' };
    const hits = [limiter.take(identity, limits, 10), limiter.take(identity, limits, 10)];
    console.log(JSON.stringify({ loaded, hits }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 })) as { loaded: string[]; hits: unknown[] };
  expect(out.loaded).not.toContain(here('../src/cluster/guard.js'));
  expect(out.loaded).toContain(here('../src/rate-limit.js'));
  expect(out.hits).toEqual([null, { kind: 'requests', limit: 1, policy: 'team-a/p', retryAfterSeconds: 120 }]);
});
