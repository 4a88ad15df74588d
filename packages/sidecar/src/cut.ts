// How an exchange is cut short (the skill left, a lock hit, a denial while held). Cheaper than an
// AbortController per request: the controller (and its EventTarget) is made only when a stage asks
// for a signal — e.g. a request held for approval — and the upstream request is destroyed directly
// instead of through http.request's `signal` option (which costs a stream-finished listener).
import type { ClientRequest } from 'node:http';

export class Cut {
  /** Why the exchange was cut; undefined while it runs. */
  reason: unknown = undefined;
  /** The upstream request in flight, destroyed on cut. */
  upstream: ClientRequest | undefined = undefined;
  private controller: AbortController | undefined = undefined;

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** An AbortSignal for code that needs one (created on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.reason = reason ?? new Error('aborted');
    this.upstream?.destroy();
    this.controller?.abort(this.reason);
  }
}
