// The exchanges in flight, so that a lock placed while a stream is open can find and cut it, and the
// skill's open egress connections (tunnels, forwarded requests), so that the same sweep cuts those;
// a sweep cuts them all when the skill loses its standing (token refused, revoked or expired, lock
// feed lost), whatever their subject.
// The registry only holds references; each kill is its owner's (the pipeline's, the egress proxy's).
// Only Claude exchanges count as the sidecar's activity: a long-lived tunnel must not keep an idle
// sidecar from handing memory back.
//
// A doubly linked list rather than a Set. Measured on the bare sidecar under load: with a Set here,
// exchanges outlived their end (they survived two scavenges and were promoted: 4 ms scavenges every
// ~20 ms, ~5.5 KB promoted per request, a full collection every ~0.3 s); with the list they die
// young (0.7 ms scavenges, nothing promoted) and the sidecar serves ~15-30 % more requests/s
// (BENCHMARKS.md). A Set churning alone in a micro-benchmark does not show it, so the cause is an
// interaction with the rest of the request path that we did not pin down; unlinking clears the node,
// so nothing here can outlive its exchange.
import type { LockSubject, Refusal } from './ports/index.js';

/** How busy the sidecar is, as heap.ts and the event-loop delay (process-metrics.ts) watch it. */
export interface Activity {
  /** Exchanges admitted so far. */
  readonly admitted: number;
  /** Exchanges in flight now. */
  readonly size: number;
}

/**
 * How long an Activity has been quiet — nothing in flight, nothing admitted — as of each look: the
 * one bookkeeping behind handing memory back (heap.ts) and sampling the event-loop delay
 * (process-metrics.ts), both of which look on a timer rather than on every exchange.
 */
export class QuietClock {
  private seen: number;
  private since: number;

  constructor(private readonly activity: Activity, private readonly now: () => number) {
    this.seen = activity.admitted;
    this.since = now();
  }

  /** Admissions as of the last look. */
  get admitted(): number {
    return this.seen;
  }

  /** Milliseconds quiet, looking now: 0 when there was work since the last look, or is now. */
  quietMs(): number {
    const a = this.activity;
    if (a.size > 0 || a.admitted !== this.seen) {
      this.seen = a.admitted;
      this.since = this.now();
      return 0;
    }
    return this.now() - this.since;
  }
}

export interface LiveEntry {
  subject: LockSubject;
  /** Cut it, telling the skill `refusal.error` where it can (and counting for `refusal.hit`'s lock). */
  kill(refusal: Refusal): void;
}

interface Node {
  entry: LiveEntry | undefined;
  prev: Node | undefined;
  next: Node | undefined;
  /** A Claude exchange (counted in `size`), not an egress connection. */
  exchange: boolean;
}

export class LiveExchanges implements Activity {
  /** Sentinel: head.next is the newest entry. */
  private readonly head: Node = { entry: undefined, prev: undefined, next: undefined, exchange: false };
  private count = 0;
  /** Exchanges admitted since start-up (how heap.ts tells a quiet sidecar from a busy one). */
  admitted = 0;

  /** @param onBusy called when an exchange is admitted while none is in flight. */
  constructor(private readonly onBusy?: (live: LiveExchanges) => void) {}

  /** Register a live exchange; the function returned removes it (once; later calls do nothing). */
  add(entry: LiveEntry): () => void {
    this.admitted++;
    if (this.count === 0) this.onBusy?.(this);
    this.count++;
    return this.link({ entry, prev: this.head, next: this.head.next, exchange: true });
  }

  /**
   * Register an open egress connection, for sweeps only (not counted in `size` or
   * `admitted`); the function returned removes it (once; later calls do nothing).
   */
  addConnection(entry: LiveEntry): () => void {
    return this.link({ entry, prev: this.head, next: this.head.next, exchange: false });
  }

  /** Claude exchanges in flight. */
  get size(): number {
    return this.count;
  }

  /** Kill every live exchange and egress connection the matcher refuses; returns how many were cut. */
  sweep(match: (subject: LockSubject) => Refusal | undefined): number {
    const cuts: Array<[LiveEntry, Refusal]> = [];
    for (let node = this.head.next; node; ) {
      const next = node.next;
      const refusal = match(node.entry!.subject);
      if (refusal) {
        cuts.push([node.entry!, refusal]);
        this.unlink(node);
      }
      node = next;
    }
    // Kill after the walk: a kill may end other exchanges (and unlink their nodes) synchronously.
    for (const [entry, refusal] of cuts) entry.kill(refusal);
    return cuts.length;
  }

  private link(node: Node): () => void {
    if (node.next) node.next.prev = node;
    this.head.next = node;
    return () => this.unlink(node);
  }

  private unlink(node: Node): void {
    if (!node.prev) return; // already removed
    node.prev.next = node.next;
    if (node.next) node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
    node.entry = undefined;
    if (node.exchange) this.count--;
  }
}
