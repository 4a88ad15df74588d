// Keeps one of Node's own process.nextTick objects alive for the life of the process, so that V8
// keeps the hidden classes (maps) every tick object is built with.
//
// Why: Node's nextTick builds each tick as an object literal whose members have computed (symbol)
// keys, so V8 adds them one by one through map transitions, and an inline cache at each member
// remembers the map it saw. Transitions are held weakly: a full collection that runs while no
// tick object is alive (the sidecar's memory hand-back after start-up, the hand-back after each
// burst, and under load a full collection every few seconds) drops the intermediate maps, the next
// tick builds new ones, and after a few such collections those caches have seen more maps than
// they keep and go megamorphic, for good: every tick then defines its members through the V8
// runtime. Streams, sockets and HTTP call nextTick a dozen times per request. Measured in the full
// sidecar after load (a nextTick microbenchmark run inside it): 450–530 ns per tick against 135 ns
// in a fresh process, and with one tick object kept 115–225 ns; in the CPU profile under load,
// nextTick's own time went from ~9 to ~3 µs per request (BENCHMARKS.md). A live object on that
// chain of maps keeps the chain, and the caches stay monomorphic (test/tick-shape.test.ts reads
// the caches' states through V8's natives syntax, with and without the keeper).
//
// The tick object is Node's own (its exact members are private to Node): it is the resource of the
// callback's execution context, which async_hooks.executionAsyncResource() returns inside it.
import { executionAsyncResource } from 'node:async_hooks';

let kept: object | undefined;

/** Keep one nextTick object alive (once per process; the capture happens on the next tick). */
export function keepTickObjectShape(): void {
  if (kept) return;
  process.nextTick(() => {
    kept ??= executionAsyncResource();
  });
}

/** The tick object kept, once captured (for tests). */
export function keptTickObject(): object | undefined {
  return kept;
}
