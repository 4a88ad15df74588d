// Prometheus metrics of the recorder (prom-client): what was archived (events kept aside after
// chain conflicts apart), what was reclaimed from crashed consumers, and how far behind the streams
// the group is.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class RecorderMetrics {
  readonly registry: Registry;
  readonly archived: Counter;
  readonly checkpoints: Counter;
  readonly keptAside: Counter;
  readonly claimed: Counter;
  readonly lag: Gauge;
  readonly deferred: Gauge;

  constructor(opts: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = opts.registry ?? new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'skillgate_recorder_' });
    this.archived = new Counter({ name: 'skillgate_recorder_events_archived_total', help: 'Session events written durably to the archive and acknowledged', registers: [this.registry] });
    this.checkpoints = new Counter({ name: 'skillgate_recorder_checkpoints_archived_total', help: 'Signed checkpoints written to the archive', registers: [this.registry] });
    this.keptAside = new Counter({ name: 'skillgate_recorder_kept_aside_archived_total', help: 'Events writers kept aside outside their sessions\' chains after chain conflicts (two writers met in a session), written to the archive. Any is worth a look: skillgate sessions verify lists them', registers: [this.registry] });
    this.claimed = new Counter({ name: 'skillgate_recorder_entries_claimed_total', help: 'Stream entries reclaimed (XAUTOCLAIM) from consumers that stopped acknowledging', registers: [this.registry] });
    this.lag = new Gauge({ name: 'skillgate_recorder_lag_entries', help: 'Entries in the stream not yet delivered to the consumer group (XINFO GROUPS lag). Group-wide: every replica reports the same value, so aggregate with max by (stream) before summing streams, never sum across replicas', labelNames: ['stream'], registers: [this.registry] });
    this.deferred = new Gauge({ name: 'skillgate_recorder_deferred_entries', help: 'Entries held back (not acknowledged) until earlier events of their session are archived', registers: [this.registry] });
  }
}
