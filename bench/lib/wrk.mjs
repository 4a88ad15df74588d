// Throughput with wrk (Debian package `wrk`, written in C so the load generator costs the shared
// core as little as possible): a POST /v1/messages script, a fixed duration, output parsed into
// numbers. Non-2xx responses and socket errors are reported next to the rate, never hidden.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function luaString(s) {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * Run wrk against `url + path` with `connections` connections for `seconds`, pinned with taskset to
 * `cpu` (when given). Resolves with { rps, requests, non2xx, socketErrors, p50ms, p99ms }.
 */
export async function runWrk({ url, path, headers, body, connections, seconds, cpu }) {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-bench-wrk-'));
  const script = join(dir, 'post.lua');
  const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(String(v))}`);
  writeFileSync(script, lines.join('\n') + '\n');
  const wrkArgs = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url + path];
  const [cmd, args] = cpu === undefined ? ['wrk', wrkArgs] : ['taskset', ['-c', String(cpu), 'wrk', ...wrkArgs]];
  try {
    const out = await new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => (err ? reject(new Error(`wrk failed: ${err.message} ${stderr}`)) : resolve(stdout)));
    });
    const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : 0; };
    const ms = (re) => {
      const m = re.exec(out);
      if (!m) return NaN;
      const v = Number(m[1]);
      return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
    };
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      rps: num(/Requests\/sec:\s+([\d.]+)/),
      requests: num(/(\d+) requests in/),
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      p50ms: ms(/\s50%\s+([\d.]+)(us|ms|s)/),
      p99ms: ms(/\s99%\s+([\d.]+)(us|ms|s)/),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
