// The webhook-certificate reconciler (self-signed mode, when cert-manager is not used): one pass
// observes the Secrets and webhook configurations, asks the pure plan what they should hold, and
// writes only the differences, in the order that keeps the API server able to call the webhook:
// CA Secret, then every caBundle (trust first), then the serving Secret the webhook pods mount
// (the webhook reloads it when the kubelet updates the volume), then the controller's own serving
// Secret when it is managed too (every replica reloads it through the API). Passes repeat when the plan says
// something falls due and at least every `checkIntervalMs`, so a caBundle reset by hand is
// repaired. Every change is a log line, a Kubernetes Event on the serving Secret and a metric.
// It must never log key material, and never throw out of its timer: a failed pass is retried.
import { Counter, Gauge, type Registry } from 'prom-client';
import { createCertificateAuthority, issueServingCertificate } from '@skillgate/webhook';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';
import { describeApiError, type KubeClients } from '../kube.js';
import type { WebhookCertsConfig } from './config.js';
import { planCertificates, type CertChangeReason, type CertificateIssuer, type CertPlan } from './plan.js';
import { WebhookCertStore, WriteConflict, type ObservedCerts } from './store.js';
import type { V1OwnerReference } from '@kubernetes/client-node';

const DAY = 86_400_000;

/** Issues with @skillgate/webhook's node:crypto CA (ECDSA P-256); each CA gets a distinct name. */
export const webhookCertificateIssuer: CertificateIssuer = {
  issueCa: (now, validityMs) => createCertificateAuthority(`skillgate-webhook-ca-${new Date(now).toISOString().replace(/[-:.]/g, '')}`, { now: new Date(now), days: validityMs / DAY }),
  issueServing: (ca, hosts, now, validityMs) => {
    const { certPem, keyPem } = issueServingCertificate(ca, hosts, { now: new Date(now), days: validityMs / DAY });
    return { certPem, keyPem };
  },
};

export interface WebhookCertReconcilerDeps {
  kube: KubeClients;
  config: WebhookCertsConfig;
  log: Logger;
  /** Registry to put the skillgate_controller_webhook_certificate_* metrics in. */
  registry?: Registry;
  clock?: () => number;
  issuer?: CertificateIssuer;
}

/** A change one pass made: the plan's, or a caBundle rewrite. */
export interface WebhookCertChange {
  reason: CertChangeReason | 'CABundlePatched';
  message: string;
}

/** What one pass did. */
export interface WebhookCertPass {
  changes: WebhookCertChange[];
  /** Webhook configurations whose caBundle was rewritten. */
  patched: string[];
  /** Configured webhook configurations that do not exist. */
  missing: string[];
  wroteCaSecret: boolean;
  wroteServingSecret: boolean;
  wroteControllerSecret: boolean;
  bundle: string;
  servingNotAfter: number;
  caNotAfter: number;
  nextCheckAt: number;
}

class WebhookCertMetrics {
  readonly expiry: Gauge;
  readonly changes: Counter;
  readonly failures: Counter;
  constructor(registry: Registry | undefined) {
    // A new leader builds the loop again on the same registry: reuse the metrics already there.
    const metric = <M>(name: string, make: (registers: Registry[]) => M): M =>
      (registry?.getSingleMetric(name) as M | undefined) ?? make(registry ? [registry] : []);
    this.expiry = metric('skillgate_controller_webhook_certificate_expiry_timestamp_seconds', (registers) => new Gauge({ name: 'skillgate_controller_webhook_certificate_expiry_timestamp_seconds', help: 'notAfter of the webhook serving certificate and of the signing CA (Unix seconds).', labelNames: ['certificate'], registers }));
    this.changes = metric('skillgate_controller_webhook_certificate_changes_total', (registers) => new Counter({ name: 'skillgate_controller_webhook_certificate_changes_total', help: 'Webhook TLS changes made by the controller, by reason (CAIssued, CARotationStarted, CAPromoted, ServingCertificateRotated, CABundlePatched, ...).', labelNames: ['reason'], registers }));
    this.failures = metric('skillgate_controller_webhook_certificate_reconcile_failures_total', (registers) => new Counter({ name: 'skillgate_controller_webhook_certificate_reconcile_failures_total', help: 'Webhook certificate passes that failed and will be retried.', registers }));
  }
}

export class WebhookCertReconciler implements Reconciler {
  readonly name = 'webhook-certs';
  private readonly store: WebhookCertStore;
  private readonly clock: () => number;
  private readonly issuer: CertificateIssuer;
  private readonly metrics: WebhookCertMetrics;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private stopped = false;
  private lastMissing = '';

  constructor(private readonly deps: WebhookCertReconcilerDeps) {
    this.store = new WebhookCertStore(deps.kube, deps.config);
    this.clock = deps.clock ?? Date.now;
    this.issuer = deps.issuer ?? webhookCertificateIssuer;
    this.metrics = new WebhookCertMetrics(deps.registry);
  }

  /** Runs the first pass (a failure is logged and retried, never thrown) and schedules the next. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.pass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }

  /**
   * Certificate trouble never makes the controller unready: token exchange must keep working while
   * the webhook certificate is repaired. Problems surface as Warning events, logs and metrics.
   */
  readiness(): string[] {
    return [];
  }

  /** One pass now (serialised with the timer's passes). Throws what the pass threw. */
  reconcile(): Promise<WebhookCertPass> {
    const run = this.running.catch(() => undefined).then(() => this.reconcileOnce());
    this.running = run;
    return run;
  }

  private async pass(): Promise<void> {
    let delay: number;
    try {
      const result = await this.reconcile();
      this.failures = 0;
      delay = Math.min(this.deps.config.checkIntervalMs, Math.max(1000, result.nextCheckAt - this.clock()));
    } catch (err) {
      this.failures++;
      this.metrics.failures.inc();
      const conflict = err instanceof WriteConflict;
      delay = conflict ? 1000 : Math.min(this.deps.config.checkIntervalMs, 1000 * 2 ** Math.min(this.failures, 8));
      this.deps.log[conflict ? 'info' : 'error']({ err: conflict ? (err as Error).message : describeApiError(err), retryInMs: delay }, 'webhook certificate pass failed; retrying');
    }
    this.schedule(delay);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.pass(), Math.min(delayMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  /**
   * The controller's certificate alone, for a replica that waits for it and cannot lead (mid-upgrade
   * the Lease holder may be a version that never issues it): signed by the active CA the Secrets
   * hold, written only when no CA change is due — those stay the Lease holder's, so this never
   * races its rotation. Returns whether it wrote the certificate.
   */
  async issueControllerCertificate(): Promise<boolean> {
    const { config } = this.deps;
    if (!config.controller) return false;
    const observed = await this.store.observe();
    if (!observed.state.active) return false;
    const plan = this.plan(observed, this.clock());
    if (plan.changes.some((c) => c.reason.startsWith('CA'))) return false;
    return this.writeControllerSecret(observed, plan, WebhookCertStore.ownerOf(observed.configurations));
  }

  private plan(observed: ObservedCerts, now: number): CertPlan {
    const { config } = this.deps;
    return planCertificates(observed.state, {
      now, hosts: config.hosts, policy: config.policy, issuer: this.issuer, trustedEverywhere: observed.trustedEverywhere,
      ...(config.controller ? { controllerHosts: config.controller.hosts } : {}),
    });
  }

  private writeControllerSecret(observed: ObservedCerts, plan: CertPlan, owner: V1OwnerReference | undefined): Promise<boolean> {
    return this.store.writeControllerSecret(observed.controllerSecret, plan.state, plan.bundle, { serving: plan.controllerServingNotAfter ?? 0, ca: plan.caNotAfter }, owner);
  }

  private async reconcileOnce(): Promise<WebhookCertPass> {
    const { config, log } = this.deps;
    const now = this.clock();
    const observed = await this.store.observe();
    const missingKey = observed.missing.join(',');
    if (missingKey && missingKey !== this.lastMissing) {
      const message = `Webhook configuration(s) ${missingKey} not found: caBundle cannot be set there, and a CA rotation waits until every configuration exists.`;
      log.warn({ missing: observed.missing }, message);
      await this.event('Warning', 'WebhookConfigurationNotFound', message, observed.servingSecret, now);
    }
    this.lastMissing = missingKey;

    const plan = this.plan(observed, now);
    const owner = WebhookCertStore.ownerOf(observed.configurations);
    // Trust before use: CA Secret, then the caBundles, then the certificate the webhook serves.
    const wroteCaSecret = await this.store.writeCaSecret(observed.caSecret, plan.state, owner);
    const patched = await this.store.patchCaBundles(observed.configurations, plan.bundle);
    const wroteServingSecret = await this.store.writeServingSecret(
      observed.servingSecret, plan.state, plan.bundle, { serving: plan.servingNotAfter, ca: plan.caNotAfter }, owner,
    );
    // The controller's certificate last: its CA was in the bundle sidecars get with their tokens
    // for longer than they take to come back for one (the policy's promotion delay).
    const wroteControllerSecret = await this.writeControllerSecret(observed, plan, owner);

    const changes: WebhookCertChange[] = [...plan.changes];
    if (patched.length) changes.push({ reason: 'CABundlePatched', message: `Set caBundle in ${patched.join(', ')}.` });
    const servingSecret = wroteServingSecret ? await this.store.readSecret(config.secret).catch(() => observed.servingSecret) : observed.servingSecret;
    for (const change of changes) {
      this.metrics.changes.labels(change.reason).inc();
      log.info({ reason: change.reason, secret: `${config.secret.namespace}/${config.secret.name}` }, change.message);
      await this.event('Normal', change.reason, change.message, servingSecret, now);
    }
    if (!changes.length) log.debug({ servingNotAfter: new Date(plan.servingNotAfter).toISOString() }, 'webhook certificates in order');
    this.metrics.expiry.labels('serving').set(Math.floor(plan.servingNotAfter / 1000));
    this.metrics.expiry.labels('ca').set(Math.floor(plan.caNotAfter / 1000));
    if (plan.controllerServingNotAfter) this.metrics.expiry.labels('controller').set(Math.floor(plan.controllerServingNotAfter / 1000));
    return {
      changes, patched, missing: observed.missing, wroteCaSecret, wroteServingSecret, wroteControllerSecret,
      bundle: plan.bundle, servingNotAfter: plan.servingNotAfter, caNotAfter: plan.caNotAfter, nextCheckAt: plan.nextCheckAt,
    };
  }

  private async event(type: 'Normal' | 'Warning', reason: string, message: string, secret: Parameters<WebhookCertStore['event']>[3], now: number): Promise<void> {
    try {
      await this.store.event(type, reason, message, secret, now);
    } catch (err) {
      this.deps.log.debug({ err: describeApiError(err), reason }, 'could not record event');
    }
  }
}
