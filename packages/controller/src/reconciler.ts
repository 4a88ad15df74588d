// A reconciler is one controller loop for one resource (cert-manager style): it starts, keeps its
// resource's world converged idempotently, reports readiness, and stops. The controller assembly
// runs a list of them, so approvals, policy status and webhook certificates plug in the same way.
export interface Reconciler {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Problems that make the controller not ready (empty = ready). */
  readiness?(): string[];
}
