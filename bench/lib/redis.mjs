// A Redis of the benchmark's own for the full sidecar rows: `redis-server` on a free loopback port,
// configured as this machine's shared one is (no RDB snapshots, no AOF), empty, and pinned where
// the caller says. Owning it keeps other clients of the shared Redis out of the numbers and lets
// the benchmark place it: a sidecar's Redis is another service (in a cluster, on another node), so
// it runs on the load generator's core, never on the proxy's (BENCHMARKS.md says what that changes).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pin, waitForPort } from './process.mjs';

/** The redis-server binary, or undefined when it is not installed. */
export function findRedisServer() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Start a private redis-server pinned to `cpu`; resolves with { url, pid, version, stop }. */
export async function startRedis(bin, cpu) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-redis-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', ''], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited;
  child.once('exit', (code, signal) => { exited = `redis-server exited (code ${code}, signal ${signal})`; });
  try {
    await waitForPort(port, 10_000, () => exited);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  pin(child.pid, cpu);
  const version = /v=(\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    version,
    async stop() {
      if (exited === undefined) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000).unref())]);
        if (exited === undefined) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
