// Hooks through which the controller reports what it did, so session recording (and anything else)
// can turn every issued or refused token, revocation, lock and owner change into an event without
// the controller depending on how events are stored. Hooks must not throw or block; they receive
// no secrets (never a token, only its jti).
import type { SkillIdentity } from '@skillgate/api';
import type { Lock, OwnerTransition } from '@skillgate/identity';

export interface ControllerEvents {
  tokenIssued?(e: { identity: SkillIdentity; jti: string; expiresAt: number }): void;
  exchangeRefused?(e: { error: string; description: string; identity?: SkillIdentity }): void;
  tokensRevoked?(e: { owner: string; jtis: string[]; reason: string }): void;
  lockPublished?(e: { lock: Lock; version: number }): void;
  lockLifted?(e: { name: string; version: number; why: 'deleted' | 'expired' }): void;
  ownerChanged?(e: { email: string; transition: OwnerTransition; by: string; reason?: string }): void;
  /** Someone (SCIM) asked to reinstate an owner it may not: a responder offboarded them. */
  reinstatementRefused?(e: { email: string; by: string; why: string }): void;
  /** A pod's owner annotation changed; the tokens issued to it (naming the old owner) were revoked. */
  skillReassigned?(e: { namespace: string; pod: string; skill: string; from?: string; to?: string; jtis: string[] }): void;
  /** This replica became or stopped being the leader. */
  leadershipChanged?(e: { identity: string; leading: boolean }): void;
}

/** Call a hook, swallowing (but reporting) any fault so it never breaks the caller. */
export function emit<K extends keyof ControllerEvents>(
  events: ControllerEvents, name: K, payload: Parameters<NonNullable<ControllerEvents[K]>>[0], onFault?: (err: unknown) => void,
): void {
  const hook = events[name] as ((p: typeof payload) => void) | undefined;
  if (!hook) return;
  try {
    hook(payload);
  } catch (err) {
    onFault?.(err);
  }
}
