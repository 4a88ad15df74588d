// After start-up, give back what loading the code left behind. Compiling the modules (ioredis, the
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
