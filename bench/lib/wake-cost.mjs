// What a round trip to another process costs on this machine, by where that process runs: on the
// same core, or on the other core, with that core idle between round trips (as Redis is between
// a one-connection benchmark's requests) or with the round trips back to back. A
// write-ahead proxy pays one such round trip per request before it forwards, so this is part of
// its floor. On virtual machines, waking an idle vCPU goes through the hypervisor and can cost more
// than the proxy's own work: between two C processes over a pipe on one of this project's
// benchmark VMs, 4.4 µs on one core, 70 µs across cores back to back, ~600 µs across cores with
// 54 µs of work between round trips (both vCPUs idle in between). The proxy table is read against it.
//
// Both ends are Node.js processes talking over loopback TCP (Nagle off), one byte each way, as a
// proxy and its Redis do; the event loops' own cost is in every variant alike, so the differences
// between variants are the wake-ups. Loopback only; the echo child is stopped at the end.
//
// Usage: node bench/lib/wake-cost.mjs [--json]   (prints a markdown line, or JSON with --json)
//        node bench/lib/wake-cost.mjs --echo     (the echo end; prints READY http://127.0.0.1:<port>)
// Env: BENCH_WAKE_N (round trips per variant, default 1000), BENCH_WAKE_GAP_MS (idle time between
//      the round trips of the idle variants, default 1).
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { startReadyChild, pin } from './process.mjs';
import { percentile } from './latency.mjs';

// Run as a script (assemble.mjs imports it for wakeCostLine only).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--echo')) {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('data', (d) => socket.write(d));
      socket.on('error', () => socket.destroy());
    });
    server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${server.address().port}`));
    process.on('SIGTERM', () => process.exit(0));
  } else {
    const result = await measureWakeCost();
    console.log(process.argv.includes('--json') ? JSON.stringify(result) : wakeCostLine(result));
  }
}

/**
 * Median round trip (µs) per variant: `sameCore` (both ends on CPU 1, idle gap between round
 * trips), `otherCoreIdle` (echo on CPU 0, the same gap: CPU 0 idles in between),
 * `otherCoreBackToBack` (echo on CPU 0, no gap). One CPU only: the cross-core variants are left out.
 */
export async function measureWakeCost({ n = Number(process.env.BENCH_WAKE_N ?? 1000), gapMs = Number(process.env.BENCH_WAKE_GAP_MS ?? 1) } = {}) {
  const cpus = availableParallelism();
  const me = cpus > 1 ? 1 : 0;
  pin(process.pid, me);
  const variants = [['sameCore', me, gapMs]];
  if (cpus > 1) variants.push(['otherCoreIdle', 0, gapMs], ['otherCoreBackToBack', 0, 0]);
  const out = { n, gapMs };
  for (const [name, cpu, gap] of variants) {
    const echo = await startReadyChild('wake-echo', process.execPath, [fileURLToPath(import.meta.url), '--echo']);
    try {
      pin(echo.pid, cpu);
      out[name] = await roundTrips(new URL(echo.url), n, gap);
    } finally {
      await echo.stop();
    }
  }
  return out;
}

async function roundTrips(url, n, gapMs) {
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answered;
  socket.on('data', () => answered?.());
  const once = () => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    answered = () => resolve(Number(process.hrtime.bigint() - t0) / 1000);
    socket.write('x');
  });
  const warm = Math.min(100, n);
  for (let i = 0; i < warm; i++) await once();
  const samples = [];
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    samples.push(await once());
  }
  socket.destroy();
  return Math.round(percentile(samples.sort((a, b) => a - b), 50));
}

/** The Machine section's line for a measurement. */
export function wakeCostLine(r) {
  const other = r.otherCoreIdle !== undefined
    ? `; to the other core: ${r.otherCoreIdle} µs when it was idle, ${r.otherCoreBackToBack} µs back to back`
    : ' (one CPU: no other core to measure)';
  return `- Round trip to another process over loopback TCP (two Node.js processes, median of ${r.n}; \`bench/lib/wake-cost.mjs\`): on the same core ${r.sameCore} µs${other}. The write-ahead floor and the full sidecar pay one round trip to Redis (on the other core) per request.`;
}
