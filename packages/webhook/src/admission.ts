// AdmissionReview v1 in and out: narrows the API server's request once, hands the pod or policy to
// the pure decision functions, and builds the response (uid echo, base64 JSON patch, warnings,
// a status message that says what to change). No sockets here; the server is a thin shell around it.
import type { SkillPolicy } from '@skillgate/api';
import type { WebhookConfig } from './config.js';
import { injectPod, type InjectReason } from './inject.js';
import { LABEL_INJECT } from '@skillgate/api';
import type { NamespaceInfo, Pod } from './pod.js';
import { validatePod } from './validate-pod.js';
import { validateSkillPolicy } from './validate-policy.js';
import { validateApprovalStatusUpdate, type ApprovalStatusView, type LinkDecisionTrust } from './validate-approval.js';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string; groups?: string[] };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview<T> {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: T;
}

export type WebhookPath = 'mutate' | 'validate-pod' | 'validate-skillpolicy' | 'validate-skillapproval-status';

/** The outcome, for logs and metrics: what happened without any object content. */
export type AdmissionResult = 'patched' | 'unchanged' | 'allowed' | 'denied' | 'invalid';

export interface Decision {
  review: AdmissionReview<AdmissionResponse>;
  result: AdmissionResult;
  /** Injection reason (mutate) for logs. */
  reason?: InjectReason;
}

/** A request body that is not an AdmissionReview v1 the webhook can answer. */
export class AdmissionRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionRequestError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Narrows a parsed body to an AdmissionReview v1 request (the edge check; inside we trust the types). */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (!isObject(body) || body.kind !== 'AdmissionReview') throw new AdmissionRequestError('body is not an AdmissionReview');
  if (body.apiVersion !== 'admission.k8s.io/v1') throw new AdmissionRequestError(`AdmissionReview ${String(body.apiVersion)} is not supported; register the webhook with admissionReviewVersions: [v1]`);
  const r = body.request;
  if (!isObject(r) || typeof r.uid !== 'string' || typeof r.operation !== 'string' || !isObject(r.kind) || !isObject(r.resource)) {
    throw new AdmissionRequestError('AdmissionReview.request lacks uid, kind, resource or operation');
  }
  return r as unknown as AdmissionRequest;
}

const respond = (uid: string, fields: Omit<AdmissionResponse, 'uid'>): AdmissionReview<AdmissionResponse> => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...fields },
});

const deny = (uid: string, message: string, warnings: string[] = []): Decision => ({
  review: respond(uid, { allowed: false, status: { code: 403, reason: 'Forbidden', message }, ...(warnings.length ? { warnings } : {}) }),
  result: 'denied',
});

function isPod(o: unknown): o is Pod {
  return isObject(o) && isObject(o.metadata) && isObject(o.spec) && Array.isArray(o.spec.containers);
}

/**
 * The namespace of a pod under review. The webhook configurations' namespaceSelector only sends
 * requests from namespaces labelled skillgate.dev/inject=enabled, so reaching this endpoint means
 * the label is set; the webhook needs no API access to look it up.
 */
const selectedNamespace = (req: AdmissionRequest): NamespaceInfo => ({ name: req.namespace ?? '', labels: { [LABEL_INJECT]: 'enabled' } });

/** What the webhook knows besides its config: whom it trusts for signed-link decisions, and the time. */
export interface DecideContext {
  /** The controller's ServiceAccount and link secret; absent: no signed-link decisions are admitted. */
  linkDecisions?: LinkDecisionTrust;
  /** Milliseconds since the epoch (default Date.now()). */
  now?: number;
}

/** Answers one AdmissionReview for `path`. Pure (given ctx.now). */
export function decide(path: WebhookPath, req: AdmissionRequest, config: WebhookConfig, ctx: DecideContext = {}): Decision {
  const { uid } = req;
  if (path === 'mutate') {
    if (req.operation !== 'CREATE' || req.resource.resource !== 'pods' || req.subResource) {
      return { review: respond(uid, { allowed: true }), result: 'unchanged' };
    }
    if (!isPod(req.object)) return deny(uid, 'skillgate: the request object is not a Pod');
    const { patch, reason, warnings } = injectPod(req.object, selectedNamespace(req), config);
    if (!patch.length) return { review: respond(uid, { allowed: true }), result: 'unchanged', reason };
    return {
      review: respond(uid, {
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
        ...(warnings.length ? { warnings } : {}),
      }),
      result: 'patched',
      reason,
    };
  }
  if (path === 'validate-pod') {
    if ((req.operation !== 'CREATE' && req.operation !== 'UPDATE') || req.resource.resource !== 'pods') {
      return { review: respond(uid, { allowed: true }), result: 'allowed' };
    }
    if (!isPod(req.object)) return deny(uid, 'skillgate: the request object is not a Pod');
    const oldPod = req.operation === 'UPDATE' && isPod(req.oldObject) ? req.oldObject : undefined;
    const v = validatePod(req.object, selectedNamespace(req), config, { operation: req.operation, ...(oldPod ? { oldPod } : {}), subResource: req.subResource ?? '' });
    if (!v.allowed) return deny(uid, `skillgate: ${v.violations.join('; ')}`, v.warnings);
    return { review: respond(uid, { allowed: true, ...(v.warnings.length ? { warnings: v.warnings } : {}) }), result: 'allowed' };
  }
  if (path === 'validate-skillapproval-status') {
    if (req.operation !== 'UPDATE' || req.subResource !== 'status') return { review: respond(uid, { allowed: true }), result: 'allowed' };
    const o = req.object;
    if (!isObject(o) || o.kind !== 'SkillApproval') return deny(uid, 'skillgate: the request object is not a SkillApproval');
    const caller = { username: req.userInfo?.username ?? '', groups: req.userInfo?.groups ?? [] };
    // The approval's namespace and name as the API server routed the request, not as the body says.
    const next = o as ApprovalStatusView;
    const view: ApprovalStatusView = { ...next, metadata: { ...next.metadata, namespace: req.namespace ?? next.metadata?.namespace ?? '', name: req.name ?? next.metadata?.name ?? '' } };
    const v = validateApprovalStatusUpdate(isObject(req.oldObject) ? req.oldObject as ApprovalStatusView : undefined, view, caller,
      { now: ctx.now ?? Date.now(), ...(ctx.linkDecisions ? { links: ctx.linkDecisions } : {}) });
    if (!v.allowed) return deny(uid, `skillgate: SkillApproval ${req.namespace ?? ''}/${req.name ?? ''}: ${v.violations.join('; ')}`);
    return { review: respond(uid, { allowed: true }), result: 'allowed' };
  }
  // validate-skillpolicy
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { review: respond(uid, { allowed: true }), result: 'allowed' };
  const o = req.object;
  if (!isObject(o) || o.kind !== 'SkillPolicy') return deny(uid, 'skillgate: the request object is not a SkillPolicy');
  const v = validateSkillPolicy(o as unknown as SkillPolicy);
  if (!v.allowed) return deny(uid, `skillgate: SkillPolicy ${String((o.metadata as { name?: string } | undefined)?.name ?? '')} rejected: ${v.violations.join('; ')}`, v.warnings);
  return { review: respond(uid, { allowed: true, ...(v.warnings.length ? { warnings: v.warnings } : {}) }), result: 'allowed' };
}
