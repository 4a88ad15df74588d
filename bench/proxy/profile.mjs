// Profile one proxy under the throughput load, for iterating on the sidecar's CPU cost: starts the
// nginx upstream and the chosen proxy under `node --cpu-prof` (or --heap-prof), pins it to its own
// core, runs wrk (32 connections unless BENCH_CONNECTIONS says otherwise, non-streaming) and prints req/s, CPU per request and the profile
// summary. Loopback only; stops what it started.
//
// Usage: node bench/proxy/profile.mjs [full|sidecar|bare|wal] [seconds] [--latency] [--sse] [--heap|--alloc|--strace|--perf|--no-profile] [--mem-limit=256M]
// --perf: Linux perf samples of the proxy over the measured requests (kernel, Node's native code and
//      JIT'd JavaScript alike; a V8 profile shows a system call as its JavaScript caller, and the time a
//      proxy spends in the kernel for others — delivering on loopback, waking a process on another
//      core — as that call's): where the CPU goes, per request, by area and by system call.
// Env: BENCH_WARMUP_S (seconds of the same load before measuring; not in req/s, but in the profile),
//      BENCH_CONNECTIONS (wrk's connections, default 32), BENCH_NODE_FLAGS (extra node flags for the proxy, e.g. "--max-semi-space-size=8"), STRACE_ARGS
//      (strace options instead of -c, e.g. "-c -w" for time per syscall), BENCH_CHILD_LOG (file for
//      the proxy's stdout, e.g. with --trace-gc-nvp), BENCH_ALLOC_SURVIVORS=1 (--alloc samples only
//      what survived a scavenge), BENCH_ALLOC_AFTER_S (--alloc starts sampling that many seconds after
//      start-up), REDIS_URL, BENCH_POLICY_FILE, BENCH_LATENCY_SPLIT=1 (--latency with the client and
//      the upstream on CPU 0, the proxy alone on CPU 1).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { findNginx, startNginx, upstreamConfig } from '../lib/nginx.mjs';
import { freePort, startReadyChild, pin, memoryMb } from '../lib/process.mjs';
import { runWrk } from '../lib/wrk.mjs';
import { fullSidecarEnv, deleteRedisKeys } from './full-sidecar.mjs';
import { latencyClient, summarise } from '../lib/latency.mjs';
import { readSidecarLatency, insideSidecar } from '../lib/sidecar-metrics.mjs';
import { summariseProfile } from '../lib/cpu-profile.mjs';
import { sidecarProcessEnv, quantityMiB } from '@skillgate/webhook/inject';

const here = dirname(fileURLToPath(import.meta.url));
// Piped into `head`, stdout closes early: carry on to the clean-up (processes, the full row's Redis
// keys) instead of dying of EPIPE on the next line written.
process.stdout.on('error', (err) => { if (err.code !== 'EPIPE') throw err; });
const root = resolve(here, '../..');
const which = process.argv[2] ?? 'full';
const seconds = Number(process.argv[3] ?? 10);
const heap = process.argv.includes('--heap');
const alloc = process.argv.includes('--alloc'); // every allocation sampled, collected or not
const strace = process.argv.includes('--strace'); // syscall counts (strace -c) instead of a CPU profile
const perf = process.argv.includes('--perf');
const oneConnection = process.argv.includes('--latency'); // sequential requests on one connection instead of wrk
const sse = process.argv.includes('--sse'); // the streaming fixture instead of the JSON answer
// BENCH_CONNECTIONS: wrk's connections for the load (default 32, the benchmark's), e.g. 1 to see what a
// request costs when nothing is shared with other requests (no batching, a wake-up each).
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
// --mem-limit=256M: run the proxy in a memory cgroup (v1 or v2, as root) with that limit, as a pod's
// container limit would: Node sizes its heap from it, so GC behaves as in the cluster.
const memLimit = process.argv.find((a) => a.startsWith('--mem-limit='))?.slice('--mem-limit='.length);
const dir = join(root, 'bench/results/profile', which);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const upPort = await freePort();
const upstream = await startNginx(findNginx(), 'upstream', upPort, (p) => upstreamConfig(p, upPort, join(here, 'upstream')));
const full = which === 'full' ? fullSidecarEnv() : undefined;
const env = full ? full.env : {};
if (alloc) env.BENCH_ALLOC_PROFILE = join(dir, 'alloc.heapprofile');
// The sidecar runs with the node options and malloc settings the injector gives it (for --mem-limit,
// those of that limit; the CPU limit is the one core the proxy is pinned to). A GLIBC_TUNABLES of
// this environment wins, for A/B runs.
if (which === 'full' || which === 'sidecar') {
  Object.assign(env, sidecarProcessEnv(memLimit ? `${Math.round(quantityMiB(`${memLimit}i`) ?? 0)}Mi` : undefined, '1'));
  if (process.env.GLIBC_TUNABLES !== undefined) env.GLIBC_TUNABLES = process.env.GLIBC_TUNABLES;
}
// The proxy's script and its arguments before the upstream URL (bare-wal: after it, the Redis URL).
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const scripts = { bare: ['bare-proxy.mjs'], wal: ['bare-wal-proxy.mjs'], sidecar: ['sidecar.mjs'], full: ['sidecar.mjs', '--full'] };
if (!scripts[which]) throw new Error(`usage: profile.mjs full|sidecar|bare|wal ...; not ${which}`);
const script = [join(here, scripts[which][0]), ...scripts[which].slice(1)];
const upstreamArgs = (url) => (which === 'wal' ? [url, redisUrl] : [url]);
const noProfile = process.argv.includes('--no-profile'); // just the load (and RSS): clean timings
// BENCH_NODE_FLAGS are on the command line, read after NODE_OPTIONS: they win (e.g. another --max-semi-space-size).
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
// --perf-basic-prof also starts V8's log: kept in the results directory, not the working one.
const flags = [...nodeFlags, ...(perf ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`] : alloc || noProfile ? [] : heap ? ['--heap-prof', `--heap-prof-dir=${dir}`] : ['--cpu-prof', `--cpu-prof-dir=${dir}`])];
let cgroupDir;
if (memLimit) {
  const bytes = String(Number.parseInt(memLimit, 10) * ({ K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[memLimit.slice(-1).toUpperCase()] ?? 1));
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers') && !existsSync('/sys/fs/cgroup/memory');
  cgroupDir = v2 ? `/sys/fs/cgroup/skillgate-bench-${process.pid}` : `/sys/fs/cgroup/memory/skillgate-bench-${process.pid}`;
  mkdirSync(cgroupDir);
  writeFileSync(join(cgroupDir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), bytes);
}
const inCgroup = (command, args) => (cgroupDir ? ['sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && exec "$0" "$@"`, command, ...args]] : [command, args]);
// Whatever happens from here (a proxy that fails to start included), the finally below stops what
// was started: the upstream, the proxy, the cgroup, the full row's Redis keys.
let child;
try {
  child = strace
    ? await startReadyChild(which, 'strace', [...(process.env.STRACE_ARGS ? process.env.STRACE_ARGS.split(' ') : ['-c']), '-f', '-o', join(dir, 'strace.txt'), process.execPath, ...nodeFlags, ...script, ...upstreamArgs(upstream.url)], { env })
    : await startReadyChild(which, ...inCgroup(process.execPath, [...flags, ...script, ...upstreamArgs(upstream.url)]), { env });
  pin(child.pid, 1);
  pin(upstream.pid, 0);
  const body = JSON.stringify({ model: 'claude-3-opus-latest', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }], ...(sse ? { stream: true } : {}) });
  const path = sse ? '/v1/messages?bench=sse' : '/v1/messages';
  const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' };
  let load;
  let cpu0;
  let stolen0;
  let perfRun;
  if (oneConnection) {
    // BENCH_LATENCY_SPLIT=1: the client and the upstream on CPU 0, the proxy alone on CPU 1 (what the
    // proxy costs when nothing else shares its core's caches).
    const clientCpu = process.env.BENCH_LATENCY_SPLIT === '1' ? 0 : 1;
    pin(process.pid, clientCpu);
    pin(upstream.pid, clientCpu);
    const client = latencyClient({ url: child.url, path, headers, body, expectBytes: readFileSync(join(here, sse ? 'upstream/messages.sse' : 'upstream/messages.json')).length });
    // BENCH_WARMUP_S: serve this long before measuring (the full sidecar's JIT settles after
    // 20,000–60,000 requests, by machine); at least 300 requests either way.
    const warmUntil = Date.now() + Number(process.env.BENCH_WARMUP_S ?? 0) * 1000;
    let warm = 0;
    for (; warm < 300 || Date.now() < warmUntil; warm++) await client.once();
    const samples = [];
    // The skillgate rows' own account of the series (gateway-added latency, the request event's
    // durable wait), read from their metrics as the benchmark does.
    const inside = child.metricsUrl ? await readSidecarLatency(child.metricsUrl) : undefined;
    cpu0 = cpuAccounting(child.pid);
    stolen0 = stolenUs();
    if (perf) perfRun = startPerf(child.pid);
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) samples.push(await client.once());
    client.close();
    const s = summarise(samples);
    console.log(`one connection: p50 ${Math.round(s.p50)} µs, p90 ${Math.round(s.p90)} µs, p99 ${Math.round(s.p99)} µs over ${samples.length} requests (round trip through the proxy)`);
    if (inside) {
      const m = insideSidecar(inside, await readSidecarLatency(child.metricsUrl));
      console.log(`inside the sidecar (its metrics, mean per request): gateway-added ${Math.round(m.addedUs ?? 0)} µs${m.durableUs !== undefined ? `, of which ${Math.round(m.durableUs)} µs waiting for the request event to become durable` : ''}`);
    }
    load = { measured: samples.length, served: samples.length + warm };
  } else {
    const warmS = Number(process.env.BENCH_WARMUP_S ?? 0);
    const warm = warmS > 0 ? await runWrk({ url: child.url, path, headers, body, connections: CONNECTIONS, seconds: warmS, cpu: 0 }) : undefined;
    cpu0 = cpuAccounting(child.pid);
    stolen0 = stolenUs();
    if (perf) perfRun = startPerf(child.pid);
    load = await runWrk({ url: child.url, path, headers, body, connections: CONNECTIONS, seconds, cpu: 0 });
    load.measured = load.requests;
    load.served = load.requests + (warm?.requests ?? 0);
  }
  // What the kernel charged the proxy (all its threads) during the measured requests, and how often
  // it was preempted: a CPU profile samples wall time, so a proxy descheduled inside a system call
  // (the process it woke runs on the same core) shows that time as the system call's.
  const cpu1 = cpuAccounting(child.pid);
  const stolen = stolenUs() - stolen0;
  if (perfRun) await perfRun.stop();
  if (cpu0 && cpu1 && !strace) {
    const per = (a, b) => ((b - a) / load.measured);
    console.log(`kernel accounting over the measured requests: on CPU ${Math.round(per(cpu0.cpuUs, cpu1.cpuUs))} µs per request (user ${Math.round(per(cpu0.userUs, cpu1.userUs))}, system ${Math.round(per(cpu0.systemUs, cpu1.systemUs))}); context switches per request: ${per(cpu0.voluntary, cpu1.voluntary).toFixed(2)} voluntary, ${per(cpu0.involuntary, cpu1.involuntary).toFixed(2)} involuntary (preempted)`);
    // Runs to compare (an A/B) should have stolen little; a run the host stole much from is noise.
    console.log(`CPU stolen by the host meanwhile (/proc/stat, all CPUs): ${Math.round(stolen / 1000)} ms`);
  }
  const after = memoryMb(child.pid);
  console.log(`RSS right after the load: ${Math.round(after.rss)} MB (anon ${Math.round(after.anon)} MB)`);
  if (strace) {
    // Stop the traced node (strace's child) so strace writes its summary and exits.
    const traced = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n')[0];
    process.kill(Number(traced), 'SIGTERM');
  }
  await child.stop();
  console.log(`${which}: ${Math.round(load.measured / seconds)} req/s over ${seconds} s`);
  if (strace) {
    await new Promise((r) => setTimeout(r, 500));
    const text = readFileSync(join(dir, 'strace.txt'), 'utf8');
    for (const line of text.split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
      if (m && Number(m[1]) > load.served / 20) console.log(`  ${m[2]}: ${(Number(m[1]) / load.served).toFixed(2)} per request`);
    }
  } else if (perf) {
    perfSummary(join(dir, 'perf.data'), load.measured);
    rmSync(`/tmp/perf-${child.pid}.map`, { force: true }); // --perf-basic-prof's symbols for the JIT'd code
  } else if (noProfile) {
    // nothing more to report
  } else if (alloc) {
    console.log(`allocation profile in ${env.BENCH_ALLOC_PROFILE} (${load.served} requests served in all)`);
  } else if (!heap) {
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    const s = summariseProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')), root);
    // The profile covers the process's whole life (start-up and warm-up too): per request served.
    console.log(`CPU per request ${Math.round((s.busyMs * 1000) / load.served)} µs (${load.served} requests served in all); profile ${join(dir, file)}`);
    for (const a of s.areas) console.log(`  ${a.area}: ${Math.round((a.ms * 1000) / load.served)} µs/req`);
    for (const t of s.ownInclusive) console.log(`  incl ${t.fn} ${t.where} ${Math.round((t.inclusiveMs * 1000) / load.served)} µs/req`);
    for (const t of s.top.slice(0, 25)) console.log(`  self ${t.fn} ${t.where} ${Math.round((t.selfMs * 1000) / load.served)} µs/req`);
  } else {
    console.log(`heap profile in ${dir}`);
  }
} finally {
  await child?.stop().catch(() => undefined);
  await upstream.stop();
  if (cgroupDir) {
    await new Promise((r) => setTimeout(r, 300));
    rmdirSync(cgroupDir); // empty once the proxy has exited
  }
  if (full) deleteRedisKeys(full.env.REDIS_URL, full.token);
}

/** CPU time (µs, from /proc/PID/stat's clock ticks, all threads) and context switches of a process. */
function cpuAccounting(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tick = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
    const userUs = Number(fields[11]) * tick; // utime is field 14 of stat, the 12th after the name
    const systemUs = Number(fields[12]) * tick;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const count = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { userUs, systemUs, cpuUs: userUs + systemUs, voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
  } catch {
    return undefined;
  }
}

/** CPU time (µs) the host has stolen from this VM, all CPUs (/proc/stat's steal column): its noise. */
function stolenUs() {
  const ticks = Number(/^cpu\s+(?:\d+\s+){7}(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? 0);
  return (ticks * 1e6) / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
}

/** `perf record` of the proxy (all its threads, call graphs) until stop() is called. */
function startPerf(pid) {
  const out = join(dir, 'perf.data');
  const rec = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '5000', '-g', '-p', String(pid), '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let exited = false;
  rec.stderr.on('data', (d) => { err += d; });
  rec.on('error', (e) => {
    exited = true;
    console.log(`perf record could not start (${e.code === 'ENOENT' ? 'no perf here: Debian linux-perf' : e.message}); no perf summary`);
  });
  return {
    stop: () => new Promise((resolveStop) => {
      if (exited || rec.exitCode !== null) return resolveStop();
      rec.once('exit', (code) => {
        if (code !== 0 && !existsSync(out)) console.log(`perf record failed (${code}): ${err.trim().split('\n').pop()}`);
        resolveStop();
      });
      rec.kill('SIGINT');
    }),
  };
}

/**
 * What perf saw, per measured request: by area (kernel, Node's binary, JIT'd JavaScript, libc), the
 * kernel's share by the system call it ran under (with what the proxy did there for other processes:
 * the loopback delivery and wake-up of the receiver, on the sender's CPU), and the top symbols.
 */
function perfSummary(file, requests) {
  if (!existsSync(file)) return;
  const report = (args) => execFileSync('perf', ['report', '-i', file, '--stdio', '--no-header', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  // cpu-clock's event count is the sampled CPU time in nanoseconds.
  const byDso = report(['--sort', 'dso', '--no-children']);
  const cpuNs = Number(/Event count \(approx\.\): (\d+)/.exec(byDso)?.[1] ?? 0);
  const rows = (text) => text.split('\n').map((l) => /^\s+([\d.]+)%\s+(?:[\d.]+%\s+)?(.+?)\s*$/.exec(l)).filter(Boolean).map((m) => ({ pct: Number(m[1]), name: m[2] }));
  const perReq = (pct) => ((pct / 100) * cpuNs) / 1000 / requests;
  // Sampling with call graphs and --perf-basic-prof slow the proxy (here 1.3–1.7× the CPU per request of
  // a --no-profile run): read the split, not the totals against other modes.
  console.log(`perf (cpu-clock at 5 kHz, call graphs; perf's own cost included): ${Math.round(cpuNs / 1000 / requests)} µs on CPU per measured request`);
  for (const r of rows(byDso).slice(0, 6)) console.log(`  ${r.name.replace(/\[JIT\] tid \d+/, '[JIT] JavaScript')}: ${perReq(r.pct).toFixed(1)} µs/req`);
  // Inclusive kernel time under the system calls a proxy makes, and in waking the process a write
  // delivers to (loopback: the sender's CPU runs the receiver's TCP and wakes it).
  const kernel = new Map(rows(report(['--children', '--sort', 'sym'])).filter((r) => r.name.startsWith('[k] ')).map((r) => [r.name.slice(4), r.pct]));
  const frames = [['ksys_write', 'write() (here: commands to Redis)'], ['do_writev', 'writev() (HTTP to the skill and the upstream)'], ['ksys_read', 'read()'],
    ['do_epoll_wait', 'epoll_wait() (the event loop)'], ['sock_def_readable', 'waking the process a write delivered to'], ['__schedule', 'switching tasks']];
  for (const [fn, what] of frames) if (perReq(kernel.get(fn) ?? 0) >= 0.1) console.log(`  kernel, ${what}: ${perReq(kernel.get(fn)).toFixed(1)} µs/req`);
  for (const r of rows(report(['--no-children', '--sort', 'sym'])).slice(0, 20)) console.log(`  self ${r.name}: ${perReq(r.pct).toFixed(1)} µs/req`);
}
