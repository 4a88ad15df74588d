// List, then watch from the list's resourceVersion, the way client-go's informers keep a cache of a
// collection. When the watch ends (the server's timeout, an ERROR event such as 410 Gone for a
// version that is too old, a dropped connection) the collection is listed again and watched from
// the new version; while listing or re-opening the watch fails it retries with backoff (0.5 s,
// doubling to 10 s), so a watcher never stops for good on one bad moment of the API server.
// BOOKMARK events only advance the version. The owner, skill-pod and SkillLock loops share it.
import type { Watch } from '@kubernetes/client-node';
import { describeApiError } from './kube.js';
import type { Logger } from './log.js';

export type WatchPhase = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListWatchSpec<T> {
  /** What is watched, for log lines: "skill pod", "owner record", "SkillLock". */
  what: string;
  /** The collection's watch path, e.g. /api/v1/pods. */
  path: string;
  /** Query parameters of the watch besides resourceVersion and bookmarks (labelSelector...). */
  query?: Record<string, string>;
  /** List the collection, take in what it holds, and return the list's resourceVersion. */
  list(): Promise<string | undefined>;
  /** One change, in order. The version is already taken; errors are the caller's to handle. */
  event(phase: WatchPhase, obj: T): void;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export class ListWatch<T extends { metadata?: { resourceVersion?: string } }> {
  private resourceVersion: string | undefined;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private open = false;

  private readonly firstRetryMs: number;

  constructor(
    private readonly watch: Pick<Watch, 'watch'>,
    private readonly spec: ListWatchSpec<T>,
    private readonly log: Logger,
    opts: { firstRetryMs?: number } = {},
  ) {
    this.firstRetryMs = opts.firstRetryMs ?? FIRST_RETRY_MS;
  }

  /** Is a watch open (for readiness)? */
  get watching(): boolean {
    return this.open;
  }

  /** The first list and watch. Rejects when either fails: what that means at start-up is the caller's call. */
  async start(): Promise<void> {
    this.resourceVersion = await this.spec.list();
    await this.openWatch();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async openWatch(): Promise<void> {
    if (this.stopped) return;
    this.abort = await this.watch.watch(
      this.spec.path,
      { ...this.spec.query, allowWatchBookmarks: true, ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}) },
      (phase: string, obj: T) => {
        if (phase === 'ERROR') {
          this.abort?.abort(); // typically 410 Gone: list again
          return;
        }
        const version = obj?.metadata?.resourceVersion;
        if (version) this.resourceVersion = version;
        if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') this.spec.event(phase, obj);
      },
      (err: unknown) => {
        this.open = false;
        if (this.stopped) return;
        if (err) this.log.warn({ err: describeApiError(err) }, `${this.spec.what} watch ended; relisting`);
        this.relistAfter(this.firstRetryMs);
      },
    );
    this.open = true;
  }

  private relistAfter(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.spec.list()
        .then((version) => {
          this.resourceVersion = version;
          return this.openWatch();
        })
        .catch((err: unknown) => {
          this.log.warn({ err: describeApiError(err), retryMs: Math.min(delayMs * 2, MAX_RETRY_MS) }, `${this.spec.what} relist failed; retrying`);
          this.relistAfter(Math.min(delayMs * 2, MAX_RETRY_MS));
        });
    }, delayMs);
  }
}
