// The process metrics a sidecar exports, under prom-client's default names (with the sidecar's
// prefix): CPU seconds (the process's totals since it started, as /proc and Prometheus' own process
// collectors count them: start-up included), resident memory, heap, open file descriptors, start
// time, event-loop delay and the Node.js version. Computed when Prometheus scrapes, from process.* and /proc; between
// scrapes only the event-loop delay histogram runs (perf_hooks, 10 ms resolution, as prom-client's),
// and only while the sidecar has work (EventLoopDelay).
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from './prom.js';
import { QuietClock, type Activity } from './live.js';

/**
 * The event-loop delay histogram, sampled while the sidecar is busy. monitorEventLoopDelay samples
 * on a timer of its own every 10 ms: in an idle sidecar that is 100 wake-ups a second, ~0.5 % of a
 * CPU on the benchmark VM (BENCHMARKS.md), in every skill pod, to measure a loop with nothing to
 * delay. So sampling starts when an exchange arrives (busy(), called as the first of a run of
 * exchanges is admitted) and stops once `quietMs` pass with none in flight and none admitted. The
 * gauges read the histogram as it stands: delays measured while there was work.
 */
export class EventLoopDelay {
  readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private clock: QuietClock | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly quietMs = 60_000) {}

  get sampling(): boolean {
    return this.clock !== undefined;
  }

  /** Work arrived: sample until `activity` has been quiet for quietMs (nothing to do when sampling). */
  busy(activity: Activity): void {
    if (this.clock) return;
    this.clock = new QuietClock(activity, () => performance.now());
    this.histogram.enable();
    this.arm();
  }

  /** Stop sampling now (closing). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clock = undefined;
    this.histogram.disable();
  }

  /** Look four times per quiet time: sampling stops within 1¼ quiet times of the last exchange. */
  private arm(): void {
    this.timer = setTimeout(() => {
      if (!this.clock) return;
      if (this.clock.quietMs() >= this.quietMs) this.stop();
      else this.arm();
    }, this.quietMs / 4);
    this.timer.unref();
  }
}

/** Register the process metrics; returns the event-loop delay, for the sidecar to say when it is busy. */
export function registerProcessMetrics(registry: Registry, prefix: string): EventLoopDelay {
  const registers = [registry];
  const gauge = (name: string, help: string, value: () => number | undefined) =>
    new Gauge({ name: `${prefix}${name}`, help, registers, collect() { const v = value(); if (v !== undefined) this.set(v); } });

  // Counted from zero, not from registration: start-up (loading code, reading config, connecting)
  // spent CPU before the metrics existed, and rate() of a total is the same either way.
  let cpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  const user = new Counter({ name: `${prefix}process_cpu_user_seconds_total`, help: 'User CPU time spent in seconds.', registers });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'System CPU time spent in seconds.', registers });
  new Counter({
    name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers,
    collect() {
      const now = process.cpuUsage();
      const u = (now.user - cpu.user) / 1e6;
      const s = (now.system - cpu.system) / 1e6;
      cpu = now;
      user.inc(u);
      system.inc(s);
      this.inc(u + s);
    },
  });
  const started = Math.round(Date.now() / 1000 - process.uptime());
  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => started);
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  gauge('process_open_fds', 'Number of open file descriptors.', () => {
    try { return readdirSync('/proc/self/fd').length - 1; } catch { return undefined; } // not Linux
  });
  gauge('nodejs_heap_size_used_bytes', 'V8 heap used in bytes.', () => process.memoryUsage().heapUsed);
  gauge('nodejs_heap_size_total_bytes', 'V8 heap size in bytes.', () => process.memoryUsage().heapTotal);
  gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects, in bytes.', () => process.memoryUsage().external);

  const eventLoop = new EventLoopDelay();
  const delay = eventLoop.histogram;
  gauge('nodejs_eventloop_lag_mean_seconds', 'Mean event-loop delay in seconds.', () => (delay.mean || 0) / 1e9);
  gauge('nodejs_eventloop_lag_p99_seconds', '99th percentile event-loop delay in seconds.', () => delay.percentile(99) / 1e9);
  gauge('nodejs_eventloop_lag_max_seconds', 'Largest event-loop delay in seconds.', () => delay.max / 1e9);

  new Gauge({ name: `${prefix}nodejs_version_info`, help: 'Node.js version info.', labelNames: ['version'] as const, registers })
    .set({ version: process.version }, 1);
  return eventLoop;
}
