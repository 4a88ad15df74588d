// @skillgate/sidecar — the egress sidecar: the skill's Claude API endpoint and egress proxy, a
// pipeline of named stages (see pipeline.ts), with ports for identity, locks, policy, approvals
// and recording.
export { startSidecar, type Sidecar, type SidecarPorts } from './sidecar.js';
export { resolveConfig, readConfigFile, configFromEnv, ConfigError, type SidecarConfig, type SidecarConfigInput } from './config.js';
export type { Exchange } from './exchange.js';
export type { SidecarContext } from './context.js';
export type { IdentitySource, LockGuard, LockHit, LockSubject, CredentialSource } from './ports/index.js';
export type { Guard, Verdict, ResponseFilter } from './ports/guard.js';
export type { Journal, EgressAttempt } from './ports/journal.js';
export { EgressAllowlist, parseAuthority } from './egress/allowlist.js';
export { readSni } from './egress/sni.js';
export { createLogger, type Logger } from './log.js';
export { SidecarMetrics } from './metrics.js';
export { returnMemory, settleHeap, settleWhenIdle, type HeapSettled, type IdleSettler } from './heap.js';
