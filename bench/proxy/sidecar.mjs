// Runs the skillgate sidecar in its own process, so the benchmark can pin it to a core and read its
// memory. Usage: node [--expose-gc] sidecar.mjs [--full] <upstream-url>; prints `READY <claude-url> <metrics-url>`.
//   bare:   startSidecar with its local defaults (allow-all guard, log journal), log level warn.
//   --full: the container entrypoint's wiring (sidecarPorts from @skillgate/sidecar/wiring) over
//           the environment (REDIS_URL, SKILLGATE_POLICY_FILE, ...): policy, masking and recording
//           as a pod runs them.
// The sidecar is the one the image ships: the bundle's chunks (packages/cli/bundle.mjs, written by
// `make build`), not the workspace's dist/ files.
// BENCH_BUNDLE_DIR: another build's bundle directory (an A/B of two builds on the same machine).
const bundle = process.env.BENCH_BUNDLE_DIR ? new URL(`file://${process.env.BENCH_BUNDLE_DIR.replace(/\/?$/, '/')}`) : new URL('../../packages/cli/bundle/', import.meta.url);
const { configFromEnv, resolveConfig, returnMemory, settleHeap, startSidecar } = await import(new URL('sidecar.mjs', bundle).href).catch((err) => {
  console.error(`no sidecar bundle (run \`make build\`): ${err.message}`);
  process.exit(3);
});

const full = process.argv[2] === '--full';
const upstreamUrl = process.argv[full ? 3 : 2];
const input = {
  upstreamUrl,
  upstreamApiKey: 'bench',
  listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
  logLevel: process.env.SKILLGATE_LOG_LEVEL ?? 'warn',
  ...(process.env.SKILLGATE_IDLE_SETTLE_SECONDS ? { idleSettleMs: Number(process.env.SKILLGATE_IDLE_SETTLE_SECONDS) * 1000 } : {}),
};

let sidecar;
if (full) {
  const wiring = await import(new URL('sidecar-wiring.mjs', bundle).href);
  const config = resolveConfig({ ...configFromEnv(process.env, {}), ...input });
  sidecar = await startSidecar(config, await wiring.sidecarPorts(config, process.env));
} else {
  sidecar = await startSidecar(input);
}
// BENCH_NO_SETTLE=1 leaves the start-up memory in place (A/B of heap.ts).
// As the container entrypoint does (needs --expose-gc, which the injector's NODE_OPTIONS set): once
// after start-up, and again after each burst of requests once quiet (SKILLGATE_IDLE_SETTLE_SECONDS).
// SIGUSR2: the benchmark says "quiet now" instead of waiting the 5 minutes (run.mjs, after the load).
if (!process.env.BENCH_NO_SETTLE) {
  returnMemory(sidecar);
  // Exchanges the load generator cut at its end may still be finishing: wait for them (≤ 1.5 s).
  process.on('SIGUSR2', () => {
    const until = Date.now() + 1500;
    const whenQuiet = () => {
      if (sidecar.context.live.size === 0) settleHeap();
      else if (Date.now() < until) setTimeout(whenQuiet, 25);
    };
    whenQuiet();
  });
}
// BENCH_ALLOC_PROFILE=file: sample every allocation, collected or not (what GC time is spent on),
// and write the sampling heap profile there on SIGTERM (bench/proxy/profile.mjs --alloc).
// BENCH_ALLOC_SURVIVORS=1: only what survived a scavenge (what the young-generation GC copies).
// BENCH_ALLOC_AFTER_S=n: start sampling n seconds after start-up (the steady state, not the warm-up).
let allocSession;
if (process.env.BENCH_ALLOC_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  allocSession = new Session();
  allocSession.connect();
  const start = () => allocSession.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_SURVIVORS !== '1' });
  const after = Number(process.env.BENCH_ALLOC_AFTER_S ?? 0);
  if (after > 0) setTimeout(start, after * 1000).unref();
  else await start();
}
console.log(`READY ${sidecar.claudeUrl} ${sidecar.metricsUrl}`);
const stop = async () => {
  if (allocSession) {
    const { profile } = await allocSession.post('HeapProfiler.stopSampling');
    (await import('node:fs')).writeFileSync(process.env.BENCH_ALLOC_PROFILE, JSON.stringify(profile));
  }
  await sidecar.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
