// The controller's HTTP(S) surface: POST /token (RFC 8693 token exchange), /scim/v2/Users (SCIM),
// /.well-known/jwks.json (workload token verification keys), /metrics, /healthz, /readyz, plus
// routes plugged in by other concepts (signed approval links under /approvals/), which may instead
// get a listener of their own (createApprovalServer). Routing only; each endpoint's logic lives with
// its concept. Never logs a token or a credential.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { WorkloadTokenIssuer } from '@skillgate/identity';
import type { Logger } from './log.js';
import type { ControllerMetrics } from './metrics.js';
import { emit, type ControllerEvents } from './events.js';
import { BodyTooLargeError, readBody, sendJson } from './http.js';
import { OAuthError, parseTokenExchangeForm } from './token-exchange/oauth.js';
import type { TokenExchange } from './token-exchange/exchange.js';
import { SCIM_BASE } from './owners/scim-server.js';
import type { ReloadingCertificate } from './serving-cert.js';

export interface ServerDeps {
  exchange: TokenExchange;
  issuer: WorkloadTokenIssuer;
  scim: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void>;
  metrics: ControllerMetrics;
  log: Logger;
  events?: ControllerEvents;
  readiness: () => string[];
  /** Further routes (e.g. signed approval links); each returns false for paths it does not own. */
  routes?: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean>;
  /** The controller's certificate (loaded: waitForCertificate first); absent = plain HTTP. */
  tls?: ReloadingCertificate;
  /** The CA bundle sidecars verify this server with: in every /token answer, refusals included. */
  controllerCa?: () => string | undefined;
}


export function createControllerServer(deps: ServerDeps): http.Server {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const path = url.pathname;
    let work: Promise<void> | undefined;
    if (path === '/token') work = tokenEndpoint(deps, req, res);
    else if (path === SCIM_BASE || path.startsWith(`${SCIM_BASE}/`)) work = deps.scim(req, res, url);
    else if (path === '/.well-known/jwks.json' && req.method === 'GET') work = Promise.resolve(sendJson(res, 200, deps.issuer.jwks()));
    else work = opsEndpoint(deps, path, res);
    if (!work) {
      if (deps.routes?.some((route) => route(req, res))) return;
      work = Promise.resolve(sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${path}` }));
    }
    failSafely(deps, path, res, work);
  };
  return serve(handler, deps.tls);
}

/** /metrics, /healthz and /readyz (on the main listener and the metrics listener alike), or undefined for another path. */
function opsEndpoint(deps: Pick<ServerDeps, 'metrics' | 'readiness'>, path: string, res: http.ServerResponse): Promise<void> | undefined {
  if (path === '/metrics') {
    return deps.metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
    });
  }
  if (path === '/healthz') return Promise.resolve(sendJson(res, 200, { status: 'ok' }));
  if (path === '/readyz') {
    const problems = deps.readiness();
    return Promise.resolve(sendJson(res, problems.length ? 503 : 200, { status: problems.length ? 'not ready' : 'ready', problems }));
  }
  return undefined;
}

/** A failed endpoint answers 500 (or drops the connection once the head is out) and is logged. */
function failSafely(deps: Pick<ServerDeps, 'log'>, path: string, res: http.ServerResponse, work: Promise<void>): void {
  work.catch((err: Error) => {
    deps.log.error({ err: err.message, path }, 'request failed');
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'internal error; see the controller log' });
    else res.destroy();
  });
}

async function tokenEndpoint(deps: ServerDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const end = deps.metrics.exchangeSeconds.startTimer();
  try {
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST with an application/x-www-form-urlencoded body');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new OAuthError('invalid_request', 'content-type must be application/x-www-form-urlencoded');
    }
    let text: string;
    try {
      text = await readBody(req, 64 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw new OAuthError('invalid_request', err.message);
      throw err;
    }
    const request = parseTokenExchangeForm(new URLSearchParams(text));
    const { response, identity, jti, expiresAt } = await deps.exchange.exchange(request);
    deps.metrics.exchanges.labels('issued').inc();
    if (response.record_key_endorsement) deps.metrics.recordKeysEndorsed.inc();
    deps.log.info({ jti, namespace: identity.namespace, pod: identity.pod, skill: identity.skill, expiresIn: response.expires_in }, 'workload token issued');
    emit(deps.events ?? {}, 'tokenIssued', { identity, jti, expiresAt });
    sendJson(res, 200, withControllerCa(deps, response));
  } catch (err) {
    const e = err instanceof OAuthError ? err : new OAuthError('server_error', 'internal error while exchanging the token; see the controller log');
    if (!(err instanceof OAuthError)) deps.log.error({ err: (err as Error).message }, 'token exchange failed');
    deps.metrics.exchanges.labels(e.error).inc();
    const identity = (err as { identity?: import('@skillgate/api').SkillIdentity }).identity;
    deps.log.warn({ error: e.error, reason: e.description, ...(identity ? { namespace: identity.namespace, pod: identity.pod, skill: identity.skill } : {}) }, 'token exchange refused');
    emit(deps.events ?? {}, 'exchangeRefused', { error: e.error, description: e.description, ...(identity ? { identity } : {}) });
    sendJson(res, e.status, withControllerCa(deps, e.body()));
  } finally {
    end();
  }
}

/**
 * Every /token answer carries the CA bundle sidecars verify this server with (skillgate's
 * `controller_ca`), refusals too: a sidecar refused through a CA rotation (a locked skill, say) can
 * still verify this server once it is let in again.
 */
function withControllerCa<T extends object>(deps: Pick<ServerDeps, 'controllerCa'>, body: T): T & { controller_ca?: string } {
  const ca = deps.controllerCa?.();
  return ca ? { ...body, controller_ca: ca } : body;
}

/**
 * The listener for signed approval links alone (SKILLGATE_APPROVAL_LISTEN): what the authenticating
 * proxy reaches, and nothing else; /healthz for its probes.
 */
export function createApprovalServer(deps: {
  routes: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean>;
  tls?: ReloadingCertificate;
}): http.Server {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://controller').pathname;
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (deps.routes.some((route) => route(req, res))) return;
    sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${path}: this listener serves signed approval links only` });
  };
  return serve(handler, deps.tls);
}

/**
 * /metrics, /healthz and /readyz on plain HTTP (SKILLGATE_METRICS_LISTEN): what Prometheus and
 * probes need, nothing secret, no certificate to trust.
 */
export function createMetricsServer(deps: Pick<ServerDeps, 'metrics' | 'readiness' | 'log'>): http.Server {
  return http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://controller').pathname;
    const work = opsEndpoint(deps, path, res)
      ?? Promise.resolve(sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${path}: this listener serves /metrics, /healthz and /readyz` }));
    failSafely(deps, path, res, work);
  });
}

/** HTTPS with the controller's certificate when it has one (kept current from then on), else HTTP. */
function serve(handler: http.RequestListener, tls: ReloadingCertificate | undefined): http.Server {
  if (!tls) return http.createServer(handler);
  const current = tls.certificate();
  if (!current) throw new Error('the controller\'s serving certificate is not loaded yet (waitForCertificate first)');
  const server = https.createServer({ cert: current.cert, key: current.key, minVersion: 'TLSv1.2' }, handler);
  tls.serve(server);
  return server;
}

/** On the main listener when links have their own: say where they are instead of serving them. */
export function approvalsElsewhere(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (!(req.url ?? '').startsWith('/approvals/')) return false;
  sendJson(res, 404, { error: 'not_found', error_description: 'approval links are served on the approvals listener (SKILLGATE_APPROVAL_LISTEN), through the authenticating proxy' });
  return true;
}

export function listen(server: http.Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`${server instanceof https.Server ? 'https' : 'http'}://${h === '0.0.0.0' ? '127.0.0.1' : h}:${a.port}`);
    });
  });
}
