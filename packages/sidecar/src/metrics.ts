// The sidecar's Prometheus metrics (prom-client), one registry per sidecar instance so tests can
// run several in one process. Names follow CONTRACT.md: skillgate_ prefix, _total/_seconds/_bytes.
import { Counter, Gauge, Histogram, Registry } from './prom.js';
import { LatencyHistogram, PathCounter, type CounterChild, type HistogramChild } from './path-metrics.js';
import { registerProcessMetrics, type EventLoopDelay } from './process-metrics.js';
import type { RecorderStats } from '@skillgate/record/recorder';

const MODEL_ID = /^claude-[a-z0-9.-]{1,64}$/;
/**
 * Distinct model label values a sidecar keeps; later new ones count as 'other'. The skill chooses
 * the string, so a model earns a label of its own only once the upstream has answered 2xx for it.
 */
export const MAX_MODEL_LABELS = 64;
/** What became of a request held for approval (skillgate_sidecar_approvals_total's outcome label). */
export const APPROVAL_OUTCOMES = ['approved', 'denied', 'expired', 'cancelled'] as const;
export type ApprovalOutcome = typeof APPROVAL_OUTCOMES[number];
/** Hold-time buckets (seconds), up to the longest approval timeout a SkillPolicy may set (86400 s). */
const HOLD_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400];
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class SidecarMetrics {
  readonly registry = new Registry();
  // What every exchange observes uses path-metrics (cheap to observe; read out as prom-client would).
  readonly requests = new PathCounter('skillgate_sidecar_requests_total', 'Requests from the skill, by route, HTTP status and model (a model the Claude API has answered 2xx for; "other" before that, and past 64 models per sidecar).',
    ['route', 'status', 'model'], this.registry);
  readonly upstreamLatency = new LatencyHistogram('skillgate_sidecar_upstream_latency_seconds',
    'Time from sending upstream to upstream response headers.', ['route'], LATENCY_BUCKETS, this.registry);
  readonly addedLatency = new LatencyHistogram('skillgate_sidecar_added_latency_seconds',
    'Latency skillgate adds: from the request read (its whole body) to upstream dispatch, less any wait for a human approval, plus upstream headers to client headers.', ['route'], LATENCY_BUCKETS, this.registry);
  readonly streamsInFlight = new Gauge({
    name: 'skillgate_sidecar_streams_in_flight', help: 'SSE streams currently open to the skill.', registers: [this.registry],
  });
  readonly requestBytes = new PathCounter('skillgate_sidecar_request_bytes_total', 'Request body bytes received from the skill.', ['route'], this.registry);
  readonly responseBytes = new PathCounter('skillgate_sidecar_response_bytes_total', 'Response body bytes sent to the skill.', ['route'], this.registry);
  readonly refusals = new Counter({
    name: 'skillgate_sidecar_refusals_total', help: 'Requests skillgate answered itself with an error, by error code.',
    labelNames: ['code'] as const, registers: [this.registry],
  });
  readonly streamEnds = new Counter({
    name: 'skillgate_sidecar_stream_ends_total', help: 'Exchanges that ended other than normally, by outcome.',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly egress = new Counter({
    name: 'skillgate_sidecar_egress_total', help: 'Egress proxy attempts by decision.', labelNames: ['decision'] as const, registers: [this.registry],
  });
  readonly dns = new Counter({
    name: 'skillgate_sidecar_dns_queries_total', help: 'DNS queries of the skill by decision: allowed (forwarded), denied (NXDOMAIN for a name outside the allowlist, REFUSED for any name while the skill may not act; journaled), search (a search-list expansion of an allowed name, forwarded), malformed.',
    labelNames: ['decision'] as const, registers: [this.registry],
  });
  readonly findings = new Counter({
    name: 'skillgate_sidecar_masking_findings_total', help: 'Sensitive values found, by entity type and direction.',
    labelNames: ['entity', 'direction'] as const, registers: [this.registry],
  });

  readonly recordLatency = new LatencyHistogram('skillgate_sidecar_record_seconds',
    'Time for a request event to become durable (in Redis, or fsync\'d to the local spool) before the request is forwarded: what recording adds to each request.',
    [], LATENCY_BUCKETS, this.registry);

  readonly approvals = new Counter({
    name: 'skillgate_sidecar_approvals_total',
    help: 'Requests held for approval, by outcome: approved (released to the Claude API), denied (by an approver, by the SkillPolicy in force once approved, or because the sidecar could not hold it for a decision: its log says which), expired (no decision before the rule\'s timeout), cancelled (the skill went away or a lock cut the request while it waited).',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly approvalHold = new Histogram({
    name: 'skillgate_sidecar_approval_hold_seconds',
    help: 'How long requests were held for approval, from the hold to its outcome, by outcome (as skillgate_sidecar_approvals_total).',
    labelNames: ['outcome'] as const, buckets: HOLD_BUCKETS, registers: [this.registry],
  });

  /** Model ids the upstream has answered 2xx for: the only ones that are label values (bounded). */
  private readonly models = new Set<string>();
  // The per-route children, resolved together once.
  private readonly perRoute = new Map<string, { added: HistogramChild; upstream: HistogramChild; inBytes: CounterChild; outBytes: CounterChild }>();

  private route(route: string) {
    let r = this.perRoute.get(route);
    if (!r) {
      r = { added: this.addedLatency.labels(route), upstream: this.upstreamLatency.labels(route), inBytes: this.requestBytes.labels(route), outBytes: this.responseBytes.labels(route) };
      this.perRoute.set(route, r);
    }
    return r;
  }

  /**
   * Count a finished exchange. `answered` is the upstream's status (0: it never answered), when it
   * differs from what the skill got (a held stream answered 200 before the upstream was asked).
   */
  requestDone(route: string, status: number, rawModel: string, bytesIn: number, bytesOut: number, answered = status): void {
    // Hot path: a model already admitted (or none) is one Set lookup.
    const model = rawModel === '' || this.models.has(rawModel) ? rawModel : this.admitModel(rawModel, answered);
    this.requests.labels(route, String(status), model).inc();
    const r = this.route(route);
    if (bytesIn) r.inBytes.inc(bytesIn);
    if (bytesOut) r.outBytes.inc(bytesOut);
  }

  /**
   * The label for a model not admitted yet. The skill writes the string (any id, a secret even):
   * it becomes a label value only once the upstream has answered 2xx for it, so only models that
   * exist do, and only so many, so a skill sending made-up ids cannot crowd real ones out.
   */
  private admitModel(model: string, answered: number): string {
    if (answered < 200 || answered > 299 || this.models.size >= MAX_MODEL_LABELS || !MODEL_ID.test(model)) return 'other';
    this.models.add(model);
    return model;
  }

  /** Count a request held for approval once its hold ends, with how long it was held (seconds). */
  approvalDone(outcome: ApprovalOutcome, seconds: number): void {
    this.approvals.labels(outcome).inc();
    this.approvalHold.labels(outcome).observe(seconds);
  }

  /** Observe added and upstream latency (seconds) of an exchange. */
  latency(route: string, added: number, upstream: number): void {
    const r = this.route(route);
    r.added.observe(added);
    r.upstream.observe(upstream);
  }

  /**
   * The session recorder's counters and spool, read at scrape time: whether events are reaching the
   * store, piling up in the local spool (Redis away) or being refused (spool full: requests get 503).
   */
  watchRecorder(stats: () => RecorderStats): void {
    const registers = [this.registry];
    new Counter({
      name: 'skillgate_sidecar_record_events_total',
      help: 'Session events by what became of them: stored (in the record store), spooled (fsync\'d locally while the store was away), refused (neither: the request was answered 503).',
      labelNames: ['result'] as const, registers,
      collect() {
        const s = stats();
        this.reset();
        this.labels('stored').inc(s.appended - s.spooled);
        this.labels('spooled').inc(s.spooled);
        this.labels('refused').inc(s.refused);
      },
    });
    new Counter({
      name: 'skillgate_sidecar_record_spool_replayed_total', help: 'Spooled session entries replayed into the record store after it came back.', registers,
      collect() { this.reset(); this.inc(stats().replayed); },
    });
    new Counter({
      name: 'skillgate_sidecar_record_spool_quarantined_total',
      help: 'Session events the record store can never take, because another writer recorded the same session (a fork of its chain): spooled events, and events of exchanges already answered; kept aside instead, outside the chain: in conflicts.jsonl in the spool directory and in the record store, where `skillgate sessions verify` lists them. Alert on any.',
      registers,
      collect() { this.reset(); this.inc(stats().quarantined); },
    });
    new Gauge({
      name: 'skillgate_sidecar_record_spool_bytes', help: 'Bytes held in the local record spool, waiting for the record store.', registers,
      collect() { this.set(stats().spoolBytes); },
    });
    new Gauge({
      name: 'skillgate_sidecar_record_spooling', help: '1 while the record store is unreachable and events go to the local spool.', registers,
      collect() { this.set(stats().spooling ? 1 : 0); },
    });
    new Gauge({
      name: 'skillgate_sidecar_record_pending_events', help: 'Sealed session events not yet durable.', registers,
      collect() { this.set(stats().pending); },
    });
    new Gauge({
      name: 'skillgate_sidecar_record_sessions', help: 'Sessions whose chain head the sidecar holds in memory (bounded; older ones are read back from the store when they continue).', registers,
      collect() { this.set(stats().sessions); },
    });
  }

  /**
   * The lock feed, read at scrape time: how long it has been unusable (the sidecar refuses every
   * request past its bound) and how many published locks it could not read (skipped: a controller
   * newer than this sidecar, say — such a lock does not apply here until the pod is recreated).
   */
  watchLockFeed(feed: () => { lostForMs(): number; unreadable: ReadonlyMap<string, unknown> }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'skillgate_sidecar_lock_feed_lost_seconds', help: 'Seconds the lock feed has been unusable (0 when in sync); past SKILLGATE_LOCK_FEED_MAX_LOSS_MS every request is refused (SG_LOCK_FEED_LOST).', registers,
      collect() { this.set(feed().lostForMs() / 1000); },
    });
    new Gauge({
      name: 'skillgate_sidecar_lock_feed_unreadable_locks', help: 'Published locks this sidecar cannot read (skipped, named in its log): they do not apply here. Alert on any.', registers,
      collect() { this.set(feed().unreadable.size); },
    });
  }

  /** The event-loop delay histogram (with the process metrics), sampled while the sidecar is busy. */
  readonly eventLoopDelay: EventLoopDelay | undefined;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // Every outcome reads 0 from the start, so rate() and increase() see the first held request.
    for (const o of APPROVAL_OUTCOMES) {
      this.approvals.inc({ outcome: o }, 0);
      this.approvalHold.zero({ outcome: o });
    }
    this.eventLoopDelay = opts.defaultMetrics !== false ? registerProcessMetrics(this.registry, 'skillgate_sidecar_') : undefined;
  }
}
