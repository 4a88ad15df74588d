// Prometheus metrics of the controller (names start with skillgate_controller_). One registry per
// controller instance so tests can run several side by side.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly exchanges = new Counter({ name: 'skillgate_controller_token_exchanges_total', help: 'Token exchanges by result (issued or the OAuth error).', labelNames: ['result'], registers: [this.registry] });
  readonly recordKeysEndorsed = new Counter({ name: 'skillgate_controller_record_keys_endorsed_total', help: 'Sidecar record keys endorsed in token exchanges (the record\'s trust anchor).', registers: [this.registry] });
  readonly exchangeSeconds = new Histogram({ name: 'skillgate_controller_token_exchange_seconds', help: 'Time to answer a token exchange.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
  readonly revocations = new Counter({ name: 'skillgate_controller_tokens_revoked_total', help: 'Workload tokens revoked.', registers: [this.registry] });
  readonly locks = new Gauge({ name: 'skillgate_controller_locks', help: 'Locks in force, by target kind. Every replica watches the SkillLocks and reports them (the leader also its token revocations), so aggregate with max by (kind), never sum across replicas.', labelNames: ['kind'], registers: [this.registry] });
  readonly lockPublishes = new Counter({ name: 'skillgate_controller_lock_feed_publishes_total', help: 'Changes published to the lock feed.', labelNames: ['op'], registers: [this.registry] });
  readonly lockFeedVersion = new Gauge({ name: 'skillgate_controller_lock_feed_version', help: 'Current version of the published lock set.', registers: [this.registry] });
  readonly scimRequests = new Counter({ name: 'skillgate_controller_scim_requests_total', help: 'SCIM requests by method and status.', labelNames: ['method', 'status'], registers: [this.registry] });
  readonly servingCertificateExpiry = new Gauge({ name: 'skillgate_controller_serving_certificate_expiry_timestamp_seconds', help: 'notAfter of the certificate the token exchange serves (Unix seconds), whatever issued it.', registers: [this.registry] });
  readonly uninjectedPods = new Gauge({ name: 'skillgate_controller_uninjected_pods', help: 'Pods of namespaces labelled skillgate.dev/inject=enabled that run without the skillgate sidecar, by namespace and reason (not_injected: created before the label, restart them; opted_out: an allowed injection exception). Set by the leader.', labelNames: ['namespace', 'reason'], registers: [this.registry] });
  readonly ownerTransitions = new Counter({ name: 'skillgate_controller_owner_transitions_total', help: 'Owners offboarded or reinstated.', labelNames: ['transition'], registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'skillgate_controller_' });
  }
}
