// The webhook's HTTPS server: a thin shell around the pure decisions in admission.ts. Serves
// /mutate, /validate-pod, /validate-skillpolicy, /validate-skillapproval-status (AdmissionReview v1), /healthz, /readyz and
// Prometheus /metrics; reloads its certificate when the files change (Secret rotation) without
// dropping the listener. It must never log object contents (pods carry env values) and never
// answer an admission request it could not parse with "allowed".
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AdmissionRequestError, decide, parseAdmissionReview, type WebhookPath } from './admission.js';
import { parseControllerCaPem, type WebhookConfig } from './config.js';
import type { LinkDecisionTrust } from './validate-approval.js';

export interface WebhookServerOptions {
  config: WebhookConfig;
  certFile: string;
  keyFile: string;
  /** HTTPS port (default 9443; 0 picks a free one). */
  port?: number;
  host?: string;
  /** Optional plain-HTTP port for /metrics and /healthz (Prometheus without TLS); absent: none. */
  metricsPort?: number;
  logger?: Logger;
  /** Level of the default logger when no logger is given (default info). */
  logLevel?: string;
  /** How often to re-check the certificate files besides file-system events (ms; default 60 s). */
  certPollMs?: number;
  /** Largest AdmissionReview body accepted (default 3 MiB, the API server's own request limit). */
  maxBodyBytes?: number;
  /**
   * Who may record signed-link approval decisions (the controller's ServiceAccount username) and
   * the link secret that proves them. Absent: read from the environment (linkDecisionTrustFromEnv);
   * null: none, so only callers' own decisions are admitted.
   */
  linkDecisions?: LinkDecisionTrust | null;
}

/** A link-decision setting that is half configured or unreadable; the webhook refuses to start. */
export class LinkDecisionConfigError extends Error {
  constructor(reason: string) {
    super(`webhook signed-link decisions: ${reason}`);
    this.name = 'LinkDecisionConfigError';
  }
}

/**
 * The signed-link trust from SKILLGATE_APPROVAL_LINK_WRITER (e.g.
 * system:serviceaccount:skillgate-system:skillgate-controller) and SKILLGATE_APPROVAL_LINK_SECRET_FILE
 * (the controller's link secret, the same file bytes). Neither set: undefined. One without the
 * other, an unreadable file or a secret under 16 characters: LinkDecisionConfigError.
 */
export function linkDecisionTrustFromEnv(env: NodeJS.ProcessEnv): LinkDecisionTrust | undefined {
  const writer = env.SKILLGATE_APPROVAL_LINK_WRITER?.trim();
  const file = env.SKILLGATE_APPROVAL_LINK_SECRET_FILE?.trim();
  if (!writer && !file) return undefined;
  if (!writer || !file) throw new LinkDecisionConfigError('SKILLGATE_APPROVAL_LINK_WRITER and SKILLGATE_APPROVAL_LINK_SECRET_FILE go together');
  let secret: Buffer;
  try {
    secret = fs.readFileSync(file);
  } catch (err) {
    throw new LinkDecisionConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (secret.toString('utf8').trim().length < 16) throw new LinkDecisionConfigError('the link secret must be at least 16 characters');
  return { writer, secret };
}

const PATHS: Record<string, WebhookPath> = {
  '/mutate': 'mutate',
  '/validate-pod': 'validate-pod',
  '/validate-skillpolicy': 'validate-skillpolicy',
  '/validate-skillapproval-status': 'validate-skillapproval-status',
};

class WebhookMetrics {
  readonly registry = new Registry();
  readonly latency = new Histogram({
    name: 'skillgate_webhook_admission_duration_seconds',
    help: 'Time to answer one AdmissionReview, from request end to response written.',
    labelNames: ['webhook'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly admissions = new Counter({
    name: 'skillgate_webhook_admissions_total',
    help: 'AdmissionReviews answered, by webhook and result (patched, unchanged, allowed, denied, invalid).',
    labelNames: ['webhook', 'result'],
    registers: [this.registry],
  });
  readonly certReloads = new Counter({
    name: 'skillgate_webhook_certificate_reloads_total',
    help: 'Serving certificate reloads after the files changed, by result.',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly certExpiry = new Gauge({
    name: 'skillgate_webhook_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate in use (Unix seconds).',
    registers: [this.registry],
  });
  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'skillgate_webhook_' });
  }
}

export interface WebhookServerEvents {
  'certificate-reloaded': [{ notAfter: Date }];
  'certificate-error': [Error];
}

export class WebhookServer extends EventEmitter<WebhookServerEvents> {
  readonly metrics = new WebhookMetrics();
  private readonly log: Logger;
  private readonly https: https.Server;
  private metricsServer: http.Server | undefined;
  private watchers: fs.FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private certPem = '';
  private keyPem = '';
  /** The injection config, with controllerCaPem read from controllerCaFile when that is set. */
  private config: WebhookConfig;
  private readonly linkDecisions: LinkDecisionTrust | undefined;

  constructor(private readonly opts: WebhookServerOptions) {
    super();
    this.log = opts.logger ?? pino({ name: 'skillgate-webhook', level: opts.logLevel ?? 'info' });
    this.linkDecisions = opts.linkDecisions === undefined ? linkDecisionTrustFromEnv(process.env) : opts.linkDecisions ?? undefined;
    this.config = opts.config;
    if (opts.config.controllerCaFile) {
      // Not there or not a CA bundle at start: fail now, not with every pod admitted.
      this.config = { ...opts.config, controllerCaPem: parseControllerCaPem(fs.readFileSync(opts.config.controllerCaFile, 'utf8')) };
    }
    const { cert, key } = this.readCertificate();
    this.https = https.createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => this.serve(req, res));
    this.https.keepAliveTimeout = 65_000; // the API server keeps connections to webhooks open
  }

  get port(): number {
    return (this.https.address() as AddressInfo).port;
  }

  get url(): string {
    const host = this.opts.host && this.opts.host !== '0.0.0.0' ? this.opts.host : '127.0.0.1';
    return `https://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get metricsUrl(): string | undefined {
    return this.metricsServer ? `http://127.0.0.1:${(this.metricsServer.address() as AddressInfo).port}` : undefined;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.https.once('error', reject);
      this.https.listen(this.opts.port ?? 9443, this.opts.host ?? '0.0.0.0', () => { this.https.off('error', reject); resolve(); });
    });
    if (this.opts.metricsPort !== undefined) {
      const m = http.createServer((req, res) => this.serveOps(req, res) || this.reply(res, 404, 'not found\n'));
      this.metricsServer = m;
      await new Promise<void>((resolve, reject) => {
        m.once('error', reject);
        m.listen(this.opts.metricsPort, this.opts.host ?? '0.0.0.0', () => { m.off('error', reject); resolve(); });
      });
    }
    this.watchCertificate();
    this.log.info({ url: this.url, metrics: this.metricsUrl, linkDecisionWriter: this.linkDecisions?.writer }, 'skillgate webhook listening');
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.poll);
    clearTimeout(this.reloadTimer);
    this.https.closeAllConnections();
    await Promise.all([
      new Promise<void>((r) => this.https.close(() => r())),
      this.metricsServer ? new Promise<void>((r) => { this.metricsServer!.closeAllConnections(); this.metricsServer!.close(() => r()); }) : undefined,
    ]);
  }

  /** Re-reads controllerCaFile; new pods get the bundle it holds now. Keeps the last good one. */
  private reloadControllerCa(): void {
    const file = this.opts.config.controllerCaFile;
    if (!file) return;
    let pem: string;
    try {
      pem = parseControllerCaPem(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      this.log.warn({ file, err: (err as Error).message }, 'the controller\'s CA file is unreadable or not a CA bundle; injecting the last good one');
      return;
    }
    if (pem === this.config.controllerCaPem) return;
    this.config = { ...this.config, controllerCaPem: pem };
    this.log.info({ file, certificates: pem.split('-----BEGIN CERTIFICATE-----').length - 1 }, 'controller CA bundle reloaded: new pods trust it');
  }

  /** Re-reads the certificate files; swaps the TLS context when they changed and form a valid pair. */
  reloadCertificate(): boolean {
    this.reloadControllerCa();
    let pair: { cert: string; key: string };
    try {
      pair = this.readCertificate();
    } catch (err) {
      // Mid-rotation the cert and key may briefly not match: keep serving the old pair.
      this.metrics.certReloads.inc({ result: 'failure' });
      this.log.warn({ err: (err as Error).message }, 'certificate files unreadable or not a matching pair; keeping the current certificate');
      this.emit('certificate-error', err as Error);
      return false;
    }
    if (pair.cert === this.certPem && pair.key === this.keyPem) return false;
    this.https.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
    this.certPem = pair.cert;
    this.keyPem = pair.key;
    const notAfter = this.recordExpiry();
    this.metrics.certReloads.inc({ result: 'success' });
    this.log.info({ notAfter }, 'serving certificate reloaded');
    this.emit('certificate-reloaded', { notAfter });
    return true;
  }

  private readCertificate(): { cert: string; key: string } {
    const cert = fs.readFileSync(this.opts.certFile, 'utf8');
    const key = fs.readFileSync(this.opts.keyFile, 'utf8');
    tls.createSecureContext({ cert, key }); // throws when they do not form a pair
    if (!this.certPem) {
      this.certPem = cert;
      this.keyPem = key;
      this.recordExpiry();
    }
    return { cert, key };
  }

  private recordExpiry(): Date {
    const notAfter = new Date(new X509Certificate(this.certPem).validTo);
    this.metrics.certExpiry.set(Math.floor(notAfter.getTime() / 1000));
    return notAfter;
  }

  private watchCertificate(): void {
    const schedule = () => {
      clearTimeout(this.reloadTimer);
      // Kubernetes swaps Secret volumes through a symlink; let both files land before reading.
      this.reloadTimer = setTimeout(() => this.reloadCertificate(), 50);
    };
    for (const dir of new Set([path.dirname(this.opts.certFile), path.dirname(this.opts.keyFile)])) {
      try {
        this.watchers.push(fs.watch(dir, schedule));
      } catch (err) {
        this.log.warn({ dir, err: (err as Error).message }, 'cannot watch certificate directory; relying on polling');
      }
    }
    this.poll = setInterval(() => this.reloadCertificate(), this.opts.certPollMs ?? 60_000);
    this.poll.unref();
  }

  private reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** /healthz, /readyz, /metrics. Returns true when it answered. */
  private serveOps(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return false;
    if (url === '/healthz' || url === '/readyz') {
      this.reply(res, 200, 'ok\n');
      return true;
    }
    if (url === '/metrics') {
      this.metrics.registry.metrics().then(
        (text) => this.reply(res, 200, text, this.metrics.registry.contentType),
        (err: Error) => this.reply(res, 500, `${err.message}\n`),
      );
      return true;
    }
    return false;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.serveOps(req, res)) return;
    const url = (req.url ?? '/').split('?')[0] ?? '/';
    const webhook = PATHS[url];
    if (!webhook) return this.reply(res, 404, `no such webhook path ${url}; use /mutate, /validate-pod, /validate-skillpolicy or /validate-skillapproval-status\n`);
    if (req.method !== 'POST') return this.reply(res, 405, 'admission webhooks take POST\n');
    const max = this.opts.maxBodyBytes ?? 3 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        this.reply(res, 413, `AdmissionReview larger than ${max} bytes\n`);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const start = process.hrtime.bigint();
      let body: string;
      let outcome: { result: string; uid?: string; status?: number } = { result: 'invalid' };
      try {
        const request = parseAdmissionReview(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        const d = decide(webhook, request, this.config, { now: Date.now(), ...(this.linkDecisions ? { linkDecisions: this.linkDecisions } : {}) });
        body = JSON.stringify(d.review);
        outcome = { result: d.result, uid: request.uid };
        const fields = {
          uid: request.uid, webhook, op: request.operation, kind: request.kind.kind, namespace: request.namespace, name: request.name,
          user: request.userInfo?.username, result: d.result, reason: d.reason, dryRun: request.dryRun,
        };
        if (d.result === 'denied') this.log.info({ ...fields, message: d.review.response?.status?.message }, 'admission denied');
        else this.log.info(fields, 'admission answered');
      } catch (err) {
        const message = err instanceof AdmissionRequestError || err instanceof SyntaxError ? err.message : 'internal error';
        if (!(err instanceof AdmissionRequestError || err instanceof SyntaxError)) this.log.error({ err }, 'admission failed');
        else this.log.warn({ webhook, err: message }, 'bad AdmissionReview');
        this.metrics.admissions.inc({ webhook, result: 'invalid' });
        return this.reply(res, err instanceof AdmissionRequestError || err instanceof SyntaxError ? 400 : 500, `${message}\n`);
      }
      this.reply(res, 200, body, 'application/json');
      this.metrics.admissions.inc({ webhook, result: outcome.result });
      this.metrics.latency.observe({ webhook }, Number(process.hrtime.bigint() - start) / 1e9);
    });
  }
}

/** Starts the webhook server (resolves once listening). */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  return new WebhookServer(opts).listen();
}
