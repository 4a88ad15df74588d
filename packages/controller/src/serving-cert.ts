// The controller's own serving certificate, kept current in its live listeners: from a Secret
// (SKILLGATE_CONTROLLER_TLS_SECRET; the webhook-certs loop or cert-manager writes it), read through
// the API by every replica and waited for at start-up (a first install has none for a moment; where
// the webhook-certs loop keeps it, a replica that waits and does not lead issues it itself, for the
// Lease holder may be an older version mid-upgrade), or from an operator's files (renewed in place).
// Either is looked at again every `pollMs` and swapped in when it changed; a half-written pair keeps
// the current one. A Secret's `ca.crt` is the CA bundle the token exchange hands to sidecars, so
// that a sidecar learns a new CA before it signs the certificate it will meet here. Never logs key
// material.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { KubeClients } from './kube.js';
import { describeApiError, statusOf } from './kube.js';
import type { Logger } from './log.js';
import { WebhookCertReconciler } from './webhook-certs/reconciler.js';
import type { WebhookCertsConfig } from './webhook-certs/config.js';

export interface ServingCertificate {
  cert: string;
  key: string;
  /** PEM bundle of the CAs sidecars must trust (active, next, previous). */
  ca: string;
}

export interface ReloadingCertificateOptions {
  /** Where the certificate is read from, for logs (a Secret's namespace/name, a file's path). */
  where: string;
  /** The certificate now, or undefined while there is none or its pair does not match (mid-write). */
  read: () => Promise<ServingCertificate | undefined>;
  log: Logger;
  /** How often to look for a renewed certificate (default 30 s; renewals happen weeks ahead). */
  pollMs?: number;
  /** How often to look while none exists yet (default 1 s). */
  waitPollMs?: number;
  /**
   * Makes the certificate when waiting has not brought it; resolves whether it wrote one. During an
   * upgrade the Lease holder may still be a replica of the version before, which never makes it,
   * and rolling pods keep it leading (secretServingCert below).
   */
  bootstrap?: () => Promise<boolean>;
  /** Wait this long for the Lease holder before bootstrapping, and between attempts (default 5 s). */
  bootstrapAfterMs?: number;
  /** Told the certificate (PEM) each time one is loaded. */
  onCertificate?: (certPem: string) => void;
}

const decode = (v: string | undefined): string | undefined => (v ? Buffer.from(v, 'base64').toString('utf8') : undefined);

/** A pair that forms a key and its certificate, as a ServingCertificate; undefined otherwise. */
function usablePair(cert: string | undefined, key: string | undefined, ca: string): ServingCertificate | undefined {
  if (!cert || !key) return undefined;
  try {
    tls.createSecureContext({ cert, key });
  } catch {
    return undefined;
  }
  return { cert, key, ca };
}

export class ReloadingCertificate {
  private current: ServingCertificate | undefined;
  private readonly servers = new Set<https.Server>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: ReloadingCertificateOptions) {}

  /** The certificate in use (undefined until `waitForCertificate` resolved). */
  certificate(): ServingCertificate | undefined {
    return this.current;
  }

  /** The CA bundle to hand to sidecars with their tokens (none for an operator's files). */
  caBundle(): string | undefined {
    return this.current?.ca || undefined;
  }

  /** Resolves with the first usable certificate; polls until one exists (or `stop`). */
  async waitForCertificate(): Promise<ServingCertificate> {
    const from = this.opts.where;
    let said = false;
    const started = Date.now();
    let lastBootstrap = started;
    let warned = false;
    while (!this.stopped) {
      const found = await this.opts.read().catch((err: unknown) => {
        this.opts.log.warn({ from, err: describeApiError(err) }, 'cannot read the controller\'s serving certificate; retrying');
        return undefined;
      });
      if (found) {
        this.current = found;
        this.opts.onCertificate?.(found.cert);
        this.opts.log.info({ from, notAfter: new X509Certificate(found.cert).validTo }, 'serving over HTTPS');
        return found;
      }
      if (!said) {
        said = true;
        this.opts.log.info({ from }, 'waiting for the controller\'s serving certificate');
      }
      const every = this.opts.bootstrapAfterMs ?? 5000;
      if (this.opts.bootstrap && Date.now() - lastBootstrap >= every) {
        const wrote = await this.opts.bootstrap().catch((err: unknown) => {
          this.opts.log.warn({ from, err: describeApiError(err) }, 'could not issue the controller\'s certificate; waiting and trying again');
          return false;
        });
        // The wait runs from the end of an attempt: a slow attempt never shortens the pause after it.
        lastBootstrap = Date.now();
        if (wrote) this.opts.log.info({ from }, 'the Lease holder had not issued the controller\'s certificate: issued it from this replica');
        continue;
      }
      if (!this.opts.bootstrap && !warned && Date.now() - started > 30_000) {
        warned = true;
        this.opts.log.warn({ from }, 'still no serving certificate after 30 s: it is written by the Lease holder\'s webhook-certs loop (SKILLGATE_MANAGE_WEBHOOK_CERTS=true with SKILLGATE_CONTROLLER_CERT_SECRET and SKILLGATE_CONTROLLER_SERVICE) or by cert-manager (the chart\'s Certificate <release>-controller: kubectl describe certificate)');
      }
      await new Promise((r) => setTimeout(r, this.opts.waitPollMs ?? 1000));
    }
    throw new Error('stopped while waiting for the controller\'s serving certificate');
  }

  /** Keeps `server`'s certificate current from now on. */
  serve(server: https.Server): void {
    this.servers.add(server);
    server.on('close', () => this.servers.delete(server));
    if (!this.timer && !this.stopped) this.schedule();
  }

  /** One look now: swaps the certificate in when its source holds a different usable one. */
  async refresh(): Promise<boolean> {
    let found: ServingCertificate | undefined;
    try {
      found = await this.opts.read();
    } catch (err) {
      this.opts.log.warn({ from: this.opts.where, err: describeApiError(err) }, 'cannot read the controller\'s serving certificate; keeping the current one');
      return false;
    }
    if (!found || (found.cert === this.current?.cert && found.key === this.current?.key && found.ca === this.current?.ca)) return false;
    const certChanged = found.cert !== this.current?.cert || found.key !== this.current?.key;
    this.current = found;
    if (certChanged) {
      for (const s of this.servers) s.setSecureContext({ cert: found.cert, key: found.key, minVersion: 'TLSv1.2' });
      this.opts.onCertificate?.(found.cert);
      this.opts.log.info({ from: this.opts.where, notAfter: new X509Certificate(found.cert).validTo }, 'serving certificate reloaded');
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => { if (!this.stopped) this.schedule(); });
    }, this.opts.pollMs ?? 30_000);
    this.timer.unref();
  }
}

/** Reads the pair (and ca.crt) a Secret holds through the API; none while it does not exist. */
export function secretCertificateReader(kube: Pick<KubeClients, 'core'>, secret: { namespace: string; name: string }): () => Promise<ServingCertificate | undefined> {
  return async () => {
    let found;
    try {
      found = await kube.core.readNamespacedSecret(secret);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    return usablePair(decode(found.data?.['tls.crt']), decode(found.data?.['tls.key']), decode(found.data?.['ca.crt']) ?? '');
  };
}

/**
 * An operator's certificate files (controller.tls.existingSecret, mounted), renewed in place by
 * cert-manager or by hand. Their CA reaches sidecars through the injection config, not from here.
 */
export function fileServingCert(deps: { certFile: string; keyFile: string; log: Logger; onCertificate?: (certPem: string) => void; pollMs?: number }): ReloadingCertificate {
  return new ReloadingCertificate({
    where: deps.certFile, log: deps.log.child({ loop: 'serving-cert' }),
    read: async () => usablePair(readFileSync(deps.certFile, 'utf8'), readFileSync(deps.keyFile, 'utf8'), ''),
    ...(deps.onCertificate ? { onCertificate: deps.onCertificate } : {}),
    ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
  });
}

/**
 * The controller's certificate kept in `secret`. When this controller's webhook-certs configuration
 * keeps that same Secret, a replica that waits for it and does not lead issues it itself (the Lease
 * holder may be an older version, mid-upgrade); a different Secret there is warned about.
 */
export function secretServingCert(deps: {
  kube: KubeClients;
  onCertificate?: (certPem: string) => void;
  secret: { namespace: string; name: string };
  webhookCerts: WebhookCertsConfig | undefined;
  leading: () => boolean;
  log: Logger;
  clock: () => number;
}): ReloadingCertificate {
  const { kube, secret, webhookCerts: certs, log } = deps;
  const keeps = certs?.controller?.secret;
  const sameSecret = keeps !== undefined && keeps.namespace === secret.namespace && keeps.name === secret.name;
  if (keeps && !sameSecret) {
    log.warn({ serves: secret, issues: keeps }, 'SKILLGATE_CONTROLLER_TLS_SECRET and SKILLGATE_CONTROLLER_CERT_SECRET name different Secrets: this controller serves a certificate its webhook-certs loop does not keep');
  }
  return new ReloadingCertificate({
    where: `${secret.namespace}/${secret.name}`, read: secretCertificateReader(kube, secret), log: log.child({ loop: 'serving-cert' }),
    ...(deps.onCertificate ? { onCertificate: deps.onCertificate } : {}),
    ...(sameSecret && certs ? {
      bootstrap: async () => !deps.leading() && new WebhookCertReconciler({ kube, config: certs, log: log.child({ loop: 'webhook-certs' }), clock: deps.clock }).issueControllerCertificate(),
    } : {}),
  });
}
