// After start-up, give back what loading the code left behind. Compiling the modules (the
// masking dictionaries, the policy engine...) survives several scavenges in a row, so V8 grows the
// young generation to its maximum (16 MB of memory in use, ~0.5 MB of it live) and nothing shrinks
// it again while the sidecar idles: V8's memory reducer judges the allocation rate from samples
// taken at collections, an idle sidecar collects nothing, and it keeps waiting. One memory-reducing
// collection ("last resort": it also shrinks the young generation) right after start-up takes
// ~20 ms once and leaves ~20 MB less resident memory in every pod for as long as the sidecar idles;
// under load V8 grows the young generation again as it needs. Its price, measured: the collection
// leaves the old generation's limit near the small live size, so the first minute of full load runs
// more full collections (2–3 % fewer requests/s over 20 s, BENCHMARKS.md), which a sidecar per pod
// that mostly idles can afford. It needs `gc`, which Node exposes with
// --expose-gc: the injector's NODE_OPTIONS set it; without it this does nothing.
//
// The same holds after every burst of traffic: under load V8 grows the young generation and the old
// generation's garbage, and an idle sidecar never collects again, so a pod that served a burst an
// hour ago still holds 60–90 MB it does not use. settleWhenIdle runs the same collection once the
// sidecar has served requests and then been quiet (nothing in flight, nothing admitted) for a while;
// it runs again only after more requests. Its price is paid by the next burst: the memory handed
// back has to be faulted in again, and on the benchmark VM (a nested guest, where a page fault is
// costly) the first ~500 requests after a hand-back took ~2× as long at one connection, the very
// first ones several ms (any major collection does it; a scavenge alone does not, but returns
// little). So the default quiet time is long (5 minutes): a skill that calls Claude every few
// minutes never pays it, and one that went quiet gives its memory back.

import { QuietClock, type Activity } from './live.js';
import type { Sidecar } from './sidecar.js';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface HeapSettled {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  ms: number;
}

/** One memory-reducing collection, when `gc` is exposed; undefined (nothing done) otherwise. */
export function settleHeap(gc: unknown = (globalThis as { gc?: unknown }).gc): HeapSettled | undefined {
  if (typeof gc !== 'function') return undefined;
  const rssBeforeBytes = process.memoryUsage.rss();
  const started = performance.now();
  (gc as GcFunction)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return { rssBeforeBytes, rssAfterBytes: process.memoryUsage.rss(), ms: performance.now() - started };
}

export interface IdleSettleOptions {
  /** Quiet this long (ms) after serving requests before handing memory back; 0 disables. */
  idleMs: number;
  onSettled?: (settled: HeapSettled) => void;
  /** How often to look (ms). Default: a quarter of idleMs, at most 5 s. */
  tickMs?: number;
  gc?: unknown;
  now?: () => number;
}

export interface IdleSettler {
  /** Look now (the timer calls this); returns what was handed back, if anything. */
  check(): HeapSettled | undefined;
  stop(): void;
}

/**
 * Hand memory back (settleHeap) once the sidecar has been quiet for `idleMs` after serving
 * requests: nothing in flight and nothing admitted meanwhile. Once per quiet spell; nothing when
 * `gc` is not exposed or idleMs is 0. The timer does not keep the process alive.
 */
export function settleWhenIdle(activity: Activity, opts: IdleSettleOptions): IdleSettler {
  const gc = 'gc' in opts ? opts.gc : (globalThis as { gc?: unknown }).gc;
  const now = opts.now ?? Date.now;
  const clock = new QuietClock(activity, now);
  let settledAt = clock.admitted;
  const check = (): HeapSettled | undefined => {
    if (clock.quietMs() < opts.idleMs || clock.admitted === settledAt) return undefined;
    settledAt = clock.admitted;
    const settled = settleHeap(gc);
    if (settled) opts.onSettled?.(settled);
    return settled;
  };
  if (typeof gc !== 'function' || opts.idleMs <= 0) return { check: () => undefined, stop: () => undefined };
  const timer = setInterval(check, opts.tickMs ?? Math.min(Math.max(opts.idleMs / 4, 1), 5000));
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/**
 * The container entrypoint's memory policy, logged: hand back start-up memory now (or say how to
 * let it), and each burst's once the sidecar has been quiet for config.idleSettleMs. Stop the
 * returned settler before closing the sidecar.
 */
export function returnMemory(sidecar: Pick<Sidecar, 'context'>): IdleSettler {
  const { config, log, live } = sidecar.context;
  const mb = (n: number) => Math.round(n / 1048576);
  const report = (msg: string) => (s: HeapSettled) => log.info({ rssBeforeMb: mb(s.rssBeforeBytes), rssAfterMb: mb(s.rssAfterBytes), ms: Math.round(s.ms) }, msg);
  const started = settleHeap();
  if (started) report('start-up memory returned')(started);
  else log.debug('start-up memory kept: run node with --expose-gc (the injector\'s NODE_OPTIONS do) to return it');
  return settleWhenIdle(live, { idleMs: config.idleSettleMs, onSettled: report('quiet: memory returned') });
}
