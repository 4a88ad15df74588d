// Everything a stage may use, built once per sidecar: config, logger, metrics and the ports.
import type { SidecarConfig } from './config.js';
import type { Logger } from './log.js';
import type { SidecarMetrics } from './metrics.js';
import type { CredentialSource, IdentitySource, LockGuard } from './ports/index.js';
import type { Guard } from './ports/guard.js';
import type { Journal } from './ports/journal.js';
import type { LiveExchanges } from './live.js';
import type { Upstream } from './upstream.js';

export interface SidecarContext {
  readonly config: SidecarConfig;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  readonly identity: IdentitySource;
  readonly locks: LockGuard;
  readonly credential: CredentialSource;
  readonly guard: Guard;
  readonly journal: Journal;
  readonly live: LiveExchanges;
  readonly upstream: Upstream;
}
