// The webhook TLS lifecycle as one pure decision: given what the Secrets hold now, the clock, the
// hosts the webhook Service answers to and which CAs every webhook configuration already trusts,
// return the state the Secrets should hold, the caBundle every webhook configuration should carry,
// what changed (for events and logs) and when to look again.
//
// CA rotation keeps the API server able to call the webhook at every moment:
//   1. the active CA is due (2/3 of its lifetime): a *next* CA is made and added to the bundle;
//   2. once every webhook configuration carries it (observed, not assumed), it is *trusted*;
//   3. `caPromoteAfterMs` later it becomes the active CA and signs a new serving certificate; the
//      old CA stays in the bundle as *previous* for `caRetireAfterMs` (webhook pods still serve the
//      old certificate until the kubelet refreshes their Secret volume);
//   4. then the previous CA leaves the bundle.
// Serving certificates are simply re-issued when due, when their CA no longer signs, or when they do
// not cover the hosts. With `controllerHosts` the same CA also signs the controller's serving
// certificate (the token exchange's HTTPS): sidecars trust the same bundle, learnt when injected and
// again with every token, so the policy's promotion delay must outlast their refresh (config.ts). Key generation is the only side effect, behind the injected issuer. This
// module must never decide anything from wall-clock time: `now` comes in.
import { inspectCertificate, keyMatches, renewalTime, signedBy, type CertificateFacts } from './certificate.js';

export interface CaKeyPair {
  certPem: string;
  keyPem: string;
}

export interface ServingKeyPair {
  certPem: string;
  keyPem: string;
}

/** Everything the two Secrets hold (the CA Secret and the webhook's serving Secret). */
export interface CertState {
  /** The CA that signs serving certificates. */
  active?: CaKeyPair;
  /** A CA on its way in: trusted (once distributed), not signing yet. */
  next?: CaKeyPair & { trustedSince?: number };
  /** The CA on its way out: still trusted until `retireAt`, no longer signing. */
  previous?: { certPem: string; retireAt: number };
  serving?: ServingKeyPair;
  /** The controller's serving certificate (token exchange), when the plan is asked for one. */
  controllerServing?: ServingKeyPair;
}

export interface RotationPolicy {
  caValidityMs: number;
  servingValidityMs: number;
  /** Renew a certificate this far into its lifetime (0 < f < 1). */
  renewAtFraction: number;
  /** How long a next CA must be in every caBundle before it signs. */
  caPromoteAfterMs: number;
  /** How long the previous CA stays in the caBundle after a new CA took over. */
  caRetireAfterMs: number;
}

const DAY = 86_400_000;

export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  caValidityMs: 365 * DAY,
  servingValidityMs: 90 * DAY,
  renewAtFraction: 2 / 3,
  caPromoteAfterMs: 2 * 60_000,
  caRetireAfterMs: 60 * 60_000,
};

/** Makes key pairs; the only part of planning that is not deterministic. */
export interface CertificateIssuer {
  issueCa(now: number, validityMs: number): CaKeyPair;
  issueServing(ca: CaKeyPair, hosts: string[], now: number, validityMs: number): ServingKeyPair;
}

export type CertChangeReason =
  | 'CAIssued' | 'CARotationStarted' | 'CATrusted' | 'CAPromoted' | 'CARetired'
  | 'ServingCertificateIssued' | 'ServingCertificateRotated'
  | 'ControllerCertificateIssued' | 'ControllerCertificateRotated';

export interface CertChange {
  reason: CertChangeReason;
  /** One sentence for the user: what happened and why. No key material. */
  message: string;
}

export interface PlanInput {
  now: number;
  hosts: string[];
  policy: RotationPolicy;
  issuer: CertificateIssuer;
  /** Fingerprints of CAs present in the caBundle of every webhook entry of every configuration. */
  trustedEverywhere: ReadonlySet<string>;
  /** DNS names of the controller's Service: plan its serving certificate too. Absent: none. */
  controllerHosts?: string[];
}

export interface CertPlan {
  state: CertState;
  changes: CertChange[];
  /** PEM bundle for caBundle and the Secret's ca.crt: active, then next, then previous. */
  bundle: string;
  caNotAfter: number;
  servingNotAfter: number;
  controllerServingNotAfter?: number;
  /** When the plan may change next (renewal due, promotion, retirement). */
  nextCheckAt: number;
}

/** While a next CA waits to be seen in every caBundle, look again this soon. */
export const PENDING_TRUST_RECHECK_MS = 10_000;

const iso = (t: number): string => new Date(t).toISOString();

function caProblem(pair: CaKeyPair | undefined, now: number): string | undefined {
  if (!pair) return 'none exists';
  const facts = inspectCertificate(pair.certPem);
  if (!facts) return 'the stored CA certificate does not parse';
  if (!facts.x509.ca) return 'the stored CA certificate is not a CA';
  if (!keyMatches(facts, pair.keyPem)) return 'the stored CA key does not match its certificate';
  if (now >= facts.notAfter) return `it expired at ${iso(facts.notAfter)}`;
  return undefined;
}

function servingProblem(serving: ServingKeyPair | undefined, ca: CertificateFacts, hosts: string[], now: number, fraction: number): string | undefined {
  if (!serving) return 'none exists yet';
  const facts = inspectCertificate(serving.certPem);
  if (!facts) return 'tls.crt does not parse';
  if (!keyMatches(facts, serving.keyPem)) return 'tls.key does not match tls.crt';
  if (!signedBy(facts, ca)) return 'it was signed by a CA that no longer signs';
  const missing = hosts.filter((h) => !facts.hosts.includes(h));
  if (missing.length) return `it does not cover ${missing.join(', ')}`;
  const due = renewalTime(facts, fraction);
  if (now >= due) return `it was due for renewal at ${iso(due)} (expires ${iso(facts.notAfter)})`;
  return undefined;
}

export function planCertificates(observed: CertState, input: PlanInput): CertPlan {
  const { now, policy, issuer } = input;
  const changes: CertChange[] = [];
  let active = observed.active;
  let next = observed.next ? { ...observed.next } : undefined;
  let previous = observed.previous;
  let serving = observed.serving;
  let controllerServing = input.controllerHosts?.length ? observed.controllerServing : undefined;

  if (next && caProblem(next, now)) next = undefined;

  // 1. A usable active CA.
  const activeProblem = caProblem(active, now);
  if (activeProblem) {
    if (next) {
      active = { certPem: next.certPem, keyPem: next.keyPem };
      next = undefined;
      changes.push({ reason: 'CAPromoted', message: `The active CA is unusable (${activeProblem}); promoted the next CA early.` });
    } else {
      active = issuer.issueCa(now, policy.caValidityMs);
      previous = undefined;
      changes.push({ reason: 'CAIssued', message: `No usable CA (${activeProblem}); issued a new CA valid until ${iso(now + policy.caValidityMs)}.` });
    }
  }
  let activeFacts = inspectCertificate(active!.certPem)!;

  // 2. Start a CA rotation when the active CA is due.
  const caDue = renewalTime(activeFacts, policy.renewAtFraction);
  if (!next && now >= caDue) {
    next = issuer.issueCa(now, policy.caValidityMs);
    changes.push({
      reason: 'CARotationStarted',
      message: `The CA (expires ${iso(activeFacts.notAfter)}) was due for renewal at ${iso(caDue)}; added a new CA to every caBundle, it signs once every webhook configuration has trusted it for ${Math.round(policy.caPromoteAfterMs / 1000)}s.`,
    });
  }

  // 3. The next CA counts as trusted from the first time every caBundle is seen carrying it.
  if (next && next.trustedSince === undefined) {
    const nextFacts = inspectCertificate(next.certPem)!;
    if (input.trustedEverywhere.has(nextFacts.fingerprint)) {
      next.trustedSince = now;
      changes.push({ reason: 'CATrusted', message: 'Every webhook configuration now trusts the next CA.' });
    }
  }

  // 4. Promote it after the overlap.
  if (next && next.trustedSince !== undefined && now >= next.trustedSince + policy.caPromoteAfterMs) {
    previous = { certPem: active!.certPem, retireAt: now + policy.caRetireAfterMs };
    active = { certPem: next.certPem, keyPem: next.keyPem };
    next = undefined;
    activeFacts = inspectCertificate(active.certPem)!;
    changes.push({ reason: 'CAPromoted', message: `The new CA (expires ${iso(activeFacts.notAfter)}) now signs; the old CA stays trusted until ${iso(previous.retireAt)}.` });
  }

  // 5. Retire the previous CA.
  if (previous) {
    const prevFacts = inspectCertificate(previous.certPem);
    if (!prevFacts || now >= previous.retireAt || now >= prevFacts.notAfter) {
      previous = undefined;
      changes.push({ reason: 'CARetired', message: 'The previous CA left every caBundle.' });
    }
  }

  // 6. Serving certificates signed by the active CA, covering their hosts, not yet due: the
  //    webhook's, and the controller's when asked for.
  const servingFor = (pair: ServingKeyPair | undefined, hosts: string[], what: string, reasons: [CertChangeReason, CertChangeReason]): ServingKeyPair => {
    const problem = servingProblem(pair, activeFacts, hosts, now, policy.renewAtFraction);
    if (!problem) return pair!;
    const validity = Math.min(policy.servingValidityMs, activeFacts.notAfter - now);
    changes.push({
      reason: pair ? reasons[1] : reasons[0],
      message: `${pair ? 'Rotated' : 'Issued'} the ${what} for ${hosts.join(', ')} because ${problem}; valid until ${iso(now + validity)}.`,
    });
    return issuer.issueServing(active!, hosts, now, validity);
  };
  serving = servingFor(serving, input.hosts, 'webhook serving certificate', ['ServingCertificateIssued', 'ServingCertificateRotated']);
  const servingFacts = inspectCertificate(serving.certPem)!;
  if (input.controllerHosts?.length) {
    controllerServing = servingFor(controllerServing, input.controllerHosts, 'controller\'s serving certificate (token exchange)', ['ControllerCertificateIssued', 'ControllerCertificateRotated']);
  }
  const controllerFacts = controllerServing ? inspectCertificate(controllerServing.certPem)! : undefined;

  const bundle = [active!.certPem, next?.certPem, previous?.certPem].filter((p): p is string => !!p).map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
  const checks = [renewalTime(servingFacts, policy.renewAtFraction)];
  if (controllerFacts) checks.push(renewalTime(controllerFacts, policy.renewAtFraction));
  if (!next) checks.push(renewalTime(activeFacts, policy.renewAtFraction));
  else checks.push(next.trustedSince === undefined ? now + PENDING_TRUST_RECHECK_MS : next.trustedSince + policy.caPromoteAfterMs);
  if (previous) checks.push(previous.retireAt);

  const state: CertState = {
    active: active!,
    ...(next ? { next } : {}),
    ...(previous ? { previous } : {}),
    serving,
    ...(controllerServing ? { controllerServing } : {}),
  };
  return {
    state, changes, bundle, caNotAfter: activeFacts.notAfter, servingNotAfter: servingFacts.notAfter,
    ...(controllerFacts ? { controllerServingNotAfter: controllerFacts.notAfter } : {}),
    nextCheckAt: Math.max(now, Math.min(...checks)),
  };
}
