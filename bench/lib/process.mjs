// Processes under benchmark: start them, wait until they serve, pin them to a core, read their
// memory. Loopback only; every wait is bounded; it stops only the processes it started, by pid.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** A port the kernel just handed out (for servers that need a number in their config). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolve once 127.0.0.1:port accepts a connection; `failed()` returning a string aborts early. */
export async function waitForPort(port, timeoutMs, failed = () => false) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Start a Node program that prints one line `READY <url>` on stdout once it serves; resolves with
 * { pid, url, stop }. stderr is passed through so crashes are visible.
 */
export function startReadyChild(name, command, args, { env = {}, timeoutMs = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let buf = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${name} did not print READY within ${timeoutMs} ms`)), timeoutMs);
    function fail(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.on('exit', (code, signal) => fail(new Error(`${name} exited early (code ${code}, signal ${signal})`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      // BENCH_CHILD_LOG=file keeps what the child prints (e.g. with BENCH_NODE_FLAGS=--trace-gc-nvp).
      if (process.env.BENCH_CHILD_LOG) appendFileSync(process.env.BENCH_CHILD_LOG, d);
      if (settled) return;
      buf += d;
      // "READY <url>", or "READY <url> <metrics-url>" (the skillgate rows: their Prometheus endpoint).
      const m = /READY (http:\/\/\S+)(?: (http:\/\/\S+))?\r?\n/.exec(buf);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.resume();
      resolve({
        name,
        pid: child.pid,
        url: m[1],
        ...(m[2] ? { metricsUrl: m[2] } : {}),
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const done = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await Promise.race([done, new Promise((r) => setTimeout(r, 3000).unref())]);
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
      });
    });
  });
}

/** The pid and its descendants (nginx master + workers). */
export function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let children = '';
    try {
      children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of children.split(/\s+/).filter(Boolean)) out.push(Number(c));
  }
  return out;
}

/** Pin every thread of the process tree to `cpu` (taskset -a); a no-op where taskset is missing. */
export function pin(pid, cpu) {
  for (const p of processTree(pid)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(p)], { stdio: 'ignore' });
    } catch {
      // taskset missing or the process already gone: the numbers are then unpinned, and say so
      // through the `pinned` flag the caller records.
      return false;
    }
  }
  return true;
}

/**
 * Resident memory of the process tree in MB, from /proc/PID/status (summed over nginx's workers):
 * `rss` is VmRSS; `anon` is RssAnon, the part that is the process's own (heap, stacks) rather than
 * file-backed pages of the binary that processes from the same image share.
 */
export function memoryMb(pid) {
  let rss = 0;
  let anon = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      anon += Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    } catch {
      // exited between listing and reading
    }
  }
  return { rss: rss / 1024, anon: anon / 1024 };
}
