// Signed approve/deny links for chat notifications. A link token is HMAC-SHA256 over
// (namespace, name, action, expiry) with the controller's link secret, so a link can only act on
// the one approval and action it names, and only until it expires (never later than the approval).
// The link itself does not say WHO approves: the POST that acts must carry the approver's identity
// from the authenticating proxy in front of the controller (trusted header, e.g. oauth2-proxy's
// X-Forwarded-User / X-Forwarded-Groups); without it the action is refused. Never logs tokens.
// The decision is written under the controller's own ServiceAccount, marked `via: signed-link`
// with a `proof`: an HMAC with the same secret over (namespace, name, action, user, groups,
// reason, link expiry). The validating webhook holds the secret too and admits such a decision
// only from the controller's ServiceAccount and only when the proof verifies (docs/approvals.md).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type LinkAction = 'approve' | 'deny';

export interface LinkClaims { namespace: string; name: string; action: LinkAction; exp: number }

export function signLink(secret: string | Buffer, claims: LinkClaims): string {
  const payload = Buffer.from(JSON.stringify([claims.namespace, claims.name, claims.action, claims.exp])).toString('base64url');
  const mac = createHmac('sha256', secret).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

/** The claims of a valid, unexpired token for exactly this approval and action; otherwise a reason. */
export function verifyLink(secret: string | Buffer, token: string, want: Omit<LinkClaims, 'exp'>, nowMs: number): { ok: true; claims: LinkClaims } | { ok: false; reason: string } {
  const dot = token.indexOf('.');
  if (dot <= 0) return { ok: false, reason: 'malformed link token' };
  const payload = token.slice(0, dot);
  // Canonical base64url text, not decoded bytes: padding-bit variants of the last character are forgeries.
  const mac = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(createHmac('sha256', secret).update(payload).digest('base64url'));
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { ok: false, reason: 'link token signature is invalid' };
  let parts: unknown;
  try { parts = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')); } catch { return { ok: false, reason: 'malformed link token' }; }
  if (!Array.isArray(parts) || parts.length !== 4) return { ok: false, reason: 'malformed link token' };
  const [namespace, name, action, exp] = parts as [string, string, LinkAction, number];
  if (namespace !== want.namespace || name !== want.name || action !== want.action) return { ok: false, reason: 'link token is for another approval or action' };
  if (!(typeof exp === 'number' && exp * 1000 > nowMs)) return { ok: false, reason: 'link token has expired' };
  return { ok: true, claims: { namespace, name, action, exp } };
}

/** The marker of a decision recorded through a signed link (the webhook checks its proof). */
export const SIGNED_LINK = 'signed-link';

/** What a link decision's proof covers; groups compare as a set. */
export interface LinkDecisionClaims {
  namespace: string;
  name: string;
  action: LinkAction;
  user: string;
  groups: readonly string[];
  reason: string;
  /** Unix seconds: the link's expiry. */
  exp: number;
}

const PROOF_DOMAIN = 'skillgate.dev/link-decision/v1';

/**
 * `v1.<exp>.<base64url HMAC-SHA256>` over the decision. The webhook verifies it the same way
 * (packages/webhook/src/validate-approval.ts); both packages pin the format with one test vector.
 */
export function signLinkDecision(secret: string | Buffer, c: LinkDecisionClaims): string {
  const canonical = JSON.stringify([PROOF_DOMAIN, c.namespace, c.name, c.action, c.user, [...c.groups].sort(), c.reason, c.exp]);
  return `v1.${c.exp}.${createHmac('sha256', secret).update(canonical).digest('base64url')}`;
}

/** A decision made through a link, as handed to `decide`: who, and the proof for the webhook. */
export interface LinkDecision {
  user: string;
  groups: string[];
  decision: LinkAction;
  reason: string;
  via: typeof SIGNED_LINK;
  proof: string;
}

export function linkUrls(baseUrl: string, secret: string | Buffer, namespace: string, name: string, expiresAt: string): Record<LinkAction, string> {
  const exp = Math.floor(Date.parse(expiresAt) / 1000);
  const url = (action: LinkAction) =>
    `${baseUrl.replace(/\/$/, '')}/approvals/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${action}?token=${signLink(secret, { namespace, name, action, exp })}`;
  return { approve: url('approve'), deny: url('deny') };
}

export interface LinkRoutesDeps {
  secret: string | Buffer;
  /** Header carrying the authenticated approver (set by the proxy in front); default x-forwarded-user. */
  userHeader?: string;
  groupsHeader?: string;
  /** Record a decision (same path as the CLI: appended to status.decisions, with via and proof). */
  decide(namespace: string, name: string, decision: LinkDecision): Promise<{ phase?: string; problem?: string }>;
  now?: () => number;
}

const ROUTE = /^\/approvals\/([a-z0-9-]+)\/([a-z0-9.-]+)\/(approve|deny)$/;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; form-action 'self'" });
  res.end(html);
}

/**
 * Serves GET /approvals/{ns}/{name}/{approve|deny}?token=… (a confirmation page: a GET never acts,
 * so link unfurlers and scanners cannot approve) and POST to the same URL (acts). Returns false
 * when the path is not one of these routes, so the controller server can try its other routes.
 */
export function approvalLinkRoutes(deps: LinkRoutesDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const now = deps.now ?? Date.now;
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const m = ROUTE.exec(url.pathname);
    if (!m) return false;
    const [, namespace, name, action] = m as unknown as [string, string, string, LinkAction];
    const token = url.searchParams.get('token') ?? '';
    const check = verifyLink(deps.secret, token, { namespace, name, action }, now());
    if (!check.ok) { page(res, 403, 'Link refused', `<p>${escapeHtml(check.reason)}. Use <code>skillgate approvals ${action} ${escapeHtml(name)} -n ${escapeHtml(namespace)}</code> instead.</p>`); return true; }
    if (req.method === 'GET') {
      page(res, 200, `${action === 'approve' ? 'Approve' : 'Deny'} ${namespace}/${name}?`,
        `<form method="post"><label>Reason <input name="reason" required></label> <button type="submit">${action}</button></form>`);
      return true;
    }
    if (req.method !== 'POST') { page(res, 405, 'Method not allowed', ''); return true; }
    const user = String(req.headers[deps.userHeader ?? 'x-forwarded-user'] ?? '').trim();
    const groups = String(req.headers[deps.groupsHeader ?? 'x-forwarded-groups'] ?? '').split(',').map((g) => g.trim()).filter(Boolean);
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { raw += c; if (raw.length > 8192) req.destroy(); });
    req.on('end', () => {
      if (!user) { page(res, 401, 'Who are you?', '<p>The controller did not receive an authenticated user from its proxy; this link cannot act anonymously.</p>'); return; }
      const reason = (new URLSearchParams(raw).get('reason')?.trim() || `via link (${action})`).slice(0, 1024);
      const proof = signLinkDecision(deps.secret, { namespace, name, action, user, groups, reason, exp: check.claims.exp });
      deps.decide(namespace, name, { user, groups, decision: action, reason, via: SIGNED_LINK, proof }).then(
        (r) => r.problem
          ? page(res, 409, 'Decision not counted', `<p>${escapeHtml(r.problem)}</p>`)
          : page(res, 200, 'Decision recorded', `<p>${escapeHtml(user)}: ${action} ${escapeHtml(namespace)}/${escapeHtml(name)}${r.phase ? ` — now ${escapeHtml(r.phase)}` : ''}.</p>`),
        (err: unknown) => page(res, 502, 'Could not record the decision', `<p>${escapeHtml((err as Error).message ?? String(err))}</p>`),
      );
    });
    return true;
  };
}
