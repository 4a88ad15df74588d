// The controller's own serving certificate when it is kept in a Secret (SKILLGATE_CONTROLLER_TLS_SECRET;
// the webhook-certs loop or cert-manager writes it): read through the API by every replica, waited
// for at start-up (a first install has none for a moment; where the webhook-certs loop keeps it, a
// replica that waits and does not lead issues it itself, for the Lease holder may be an older
// version mid-upgrade), looked at again every `pollMs`, and put into the live listeners when it
// changed. Its `ca.crt` is the CA bundle the token exchange hands to sidecars, so that a sidecar
// learns a new CA before it signs the certificate it will meet here. Never logs key material.
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

export interface SecretServingCertOptions {
  kube: Pick<KubeClients, 'core'>;
  secret: { namespace: string; name: string };
  log: Logger;
  /** How often to look for a rotated certificate (default 30 s; the plan renews weeks ahead). */
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

export class SecretServingCert {
  private current: ServingCertificate | undefined;
  private readonly servers = new Set<https.Server>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: SecretServingCertOptions) {}

  /** The certificate in use (undefined until `waitForCertificate` resolved). */
  certificate(): ServingCertificate | undefined {
    return this.current;
  }

  /** The CA bundle to hand to sidecars with their tokens. */
  caBundle(): string | undefined {
    return this.current?.ca || undefined;
  }

  /** Resolves with the first usable certificate; polls until one exists (or `stop`). */
  async waitForCertificate(): Promise<ServingCertificate> {
    const where = `${this.opts.secret.namespace}/${this.opts.secret.name}`;
    let said = false;
    const started = Date.now();
    let lastBootstrap = started;
    let warned = false;
    while (!this.stopped) {
      const found = await this.read().catch((err: unknown) => {
        this.opts.log.warn({ secret: where, err: describeApiError(err) }, 'cannot read the controller\'s serving certificate; retrying');
        return undefined;
      });
      if (found) {
        this.current = found;
        this.opts.onCertificate?.(found.cert);
        this.opts.log.info({ secret: where, notAfter: new X509Certificate(found.cert).validTo }, 'serving the token exchange over HTTPS with the installation CA\'s certificate');
        return found;
      }
      if (!said) {
        said = true;
        this.opts.log.info({ secret: where }, 'waiting for the controller\'s serving certificate (the Lease holder issues it)');
      }
      const every = this.opts.bootstrapAfterMs ?? 5000;
      if (this.opts.bootstrap && Date.now() - lastBootstrap >= every) {
        lastBootstrap = Date.now();
        const wrote = await this.opts.bootstrap().catch((err: unknown) => {
          this.opts.log.warn({ secret: where, err: describeApiError(err) }, 'could not issue the controller\'s certificate; waiting and trying again');
          return false;
        });
        if (wrote) this.opts.log.info({ secret: where }, 'the Lease holder had not issued the controller\'s certificate: issued it from this replica');
        continue;
      }
      if (!this.opts.bootstrap && !warned && Date.now() - started > 30_000) {
        warned = true;
        this.opts.log.warn({ secret: where }, 'still no serving certificate after 30 s: it is written by the Lease holder\'s webhook-certs loop (SKILLGATE_MANAGE_WEBHOOK_CERTS=true with SKILLGATE_CONTROLLER_CERT_SECRET and SKILLGATE_CONTROLLER_SERVICE) or by cert-manager (the chart\'s Certificate <release>-controller: kubectl describe certificate)');
      }
      await new Promise((r) => setTimeout(r, this.opts.waitPollMs ?? 1000));
    }
    throw new Error('stopped while waiting for the controller\'s serving certificate');
  }

  /** Keeps `server`'s certificate current from now on. */
  serve(server: https.Server): void {
    this.servers.add(server);
    if (!this.timer && !this.stopped) this.schedule();
  }

  /** One look now: swaps the certificate in when the Secret holds a different usable one. */
  async refresh(): Promise<boolean> {
    let found: ServingCertificate | undefined;
    try {
      found = await this.read();
    } catch (err) {
      this.opts.log.warn({ err: describeApiError(err) }, 'cannot read the controller\'s serving certificate; keeping the current one');
      return false;
    }
    if (!found || (found.cert === this.current?.cert && found.key === this.current?.key && found.ca === this.current?.ca)) return false;
    const certChanged = found.cert !== this.current?.cert || found.key !== this.current?.key;
    this.current = found;
    if (certChanged) {
      for (const s of this.servers) s.setSecureContext({ cert: found.cert, key: found.key, minVersion: 'TLSv1.2' });
      this.opts.onCertificate?.(found.cert);
      this.opts.log.info({ notAfter: new X509Certificate(found.cert).validTo }, 'serving certificate reloaded');
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

  /** The Secret's pair, when it is there and forms a usable pair (mid-write it may not: wait). */
  private async read(): Promise<ServingCertificate | undefined> {
    let secret;
    try {
      secret = await this.opts.kube.core.readNamespacedSecret(this.opts.secret);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    const cert = decode(secret.data?.['tls.crt']);
    const key = decode(secret.data?.['tls.key']);
    if (!cert || !key) return undefined;
    try {
      tls.createSecureContext({ cert, key });
    } catch {
      return undefined;
    }
    return { cert, key, ca: decode(secret.data?.['ca.crt']) ?? '' };
  }
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
}): SecretServingCert {
  const { kube, secret, webhookCerts: certs, log } = deps;
  const keeps = certs?.controller?.secret;
  const sameSecret = keeps !== undefined && keeps.namespace === secret.namespace && keeps.name === secret.name;
  if (keeps && !sameSecret) {
    log.warn({ serves: secret, issues: keeps }, 'SKILLGATE_CONTROLLER_TLS_SECRET and SKILLGATE_CONTROLLER_CERT_SECRET name different Secrets: this controller serves a certificate its webhook-certs loop does not keep');
  }
  return new SecretServingCert({
    kube, secret, log: log.child({ loop: 'serving-cert' }),
    ...(deps.onCertificate ? { onCertificate: deps.onCertificate } : {}),
    ...(sameSecret && certs ? {
      bootstrap: async () => !deps.leading() && new WebhookCertReconciler({ kube, config: certs, log: log.child({ loop: 'webhook-certs' }), clock: deps.clock }).issueControllerCertificate(),
    } : {}),
  });
}
