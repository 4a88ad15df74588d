// Assembles a controller: config → logger, metrics, Kubernetes clients → the reconcilers (locks,
// owners, and whatever else is passed in: approvals, policy status, ...) → the HTTP(S) server with the
// token exchange and SCIM endpoints. To add a loop, pass it in `reconcilers` (or a factory that gets
// the shared context); startController starts them in order and stops them in reverse.
import { readFileSync } from 'node:fs';
import { IssuedTokens, LockFeedPublisher, WorkloadTokenIssuer, generateSigningKey, signingKeyFromPem } from '@skillgate/identity';
import { resolveControllerConfig, type ControllerConfig, type ControllerConfigInput } from './config.js';
import { createLogger, feedLog, type Logger } from './log.js';
import { ControllerMetrics } from './metrics.js';
import { kubeClients, type KubeClients } from './kube.js';
import type { ControllerEvents } from './events.js';
import type { Reconciler } from './reconciler.js';
import { LockReconciler } from './locks/reconciler.js';
import { LockClient } from './locks/client.js';
import { OwnerReconciler } from './owners/reconciler.js';
import { OwnerStore } from './owners/store.js';
import { OwnerLifecycle } from './owners/lifecycle.js';
import { scimHandler } from './owners/scim-server.js';
import { TokenExchange } from './token-exchange/exchange.js';
import { KubePodSource, KubeTokenReviewer, type PodSource, type TokenReviewer } from './token-exchange/review.js';
import { SecretCredentialProvider, noCredential, type UpstreamCredentialProvider } from './credentials.js';
import { createControllerServer, listen } from './server.js';
import type { Server } from 'node:http';
import type { SkillIdentity } from '@skillgate/api';

/** What extra reconcilers get to build themselves. */
export interface ControllerContext {
  config: ControllerConfig;
  kube: KubeClients;
  log: Logger;
  metrics: ControllerMetrics;
  events: ControllerEvents;
  locks: LockReconciler;
  owners: OwnerReconciler;
}

export interface ControllerOptions {
  events?: ControllerEvents;
  logger?: Logger;
  kube?: KubeClients;
  /** Replace the upstream credential source (e.g. workload identity federation). */
  credentials?: UpstreamCredentialProvider;
  /** Further loops (approvals, policy status, ...), built once the shared context exists. */
  reconcilers?: Array<(ctx: ControllerContext) => Reconciler>;
  /** Injectable for tests; default: the API server's TokenReview and pods. */
  reviewer?: TokenReviewer;
  pods?: PodSource;
  clock?: () => number;
  /** Stamp the SkillPolicy generation into tokens, when a policy reconciler knows it. */
  policyGeneration?: (identity: SkillIdentity) => number;
}

export interface Controller {
  url: string;
  context: ControllerContext;
  issuer: WorkloadTokenIssuer;
  lifecycle: OwnerLifecycle;
  close(): Promise<void>;
}

export async function startController(input: ControllerConfigInput | ControllerConfig, opts: ControllerOptions = {}): Promise<Controller> {
  const config = resolveControllerConfig(input);
  const log = opts.logger ?? createLogger(config.logLevel);
  const metrics = new ControllerMetrics();
  const kube = opts.kube ?? kubeClients(config.kubeconfig);
  const events = opts.events ?? {};
  const clock = opts.clock ?? Date.now;

  const key = config.signingKeyFile ? await signingKeyFromPem(readFileSync(config.signingKeyFile, 'utf8')) : await generateSigningKey();
  if (!config.signingKeyFile) log.warn('no signing key file configured: using an ephemeral key (tokens stop verifying after a restart)');
  const issuer = new WorkloadTokenIssuer(key, config.issuer, clock);
  const issued = new IssuedTokens();

  const publisher = new LockFeedPublisher({ redisUrl: config.redisUrl, prefix: config.redisPrefix, clock, log: feedLog(log.child({ loop: 'lock-feed' })) });
  const locks = new LockReconciler({ kube, publisher, log: log.child({ loop: 'skilllocks' }), metrics, events, clock, heartbeatMs: config.heartbeatMs });
  const owners = new OwnerReconciler({ kube, namespace: config.namespace, issued, locks, log: log.child({ loop: 'owners' }), metrics, events, clock });
  const context: ControllerContext = { config, kube, log, metrics, events, locks, owners };
  const reconcilers: Reconciler[] = [locks, owners, ...(opts.reconcilers ?? []).map((make) => make(context))];

  const credentials = opts.credentials ?? (config.upstreamSecret ? new SecretCredentialProvider(kube, config.upstreamSecret) : noCredential);
  const exchange = new TokenExchange({
    reviewer: opts.reviewer ?? new KubeTokenReviewer(kube),
    pods: opts.pods ?? new KubePodSource(kube),
    issuer,
    issued,
    ownerActive: (email) => owners.isActive(email),
    locks: () => locks.inForce,
    credentials,
    ...(opts.policyGeneration ? { policyGeneration: opts.policyGeneration } : {}),
    clock,
    ttlSeconds: config.tokenTtlSeconds,
  });
  const lifecycle = new OwnerLifecycle(new OwnerStore(kube, config.namespace), new LockClient(kube), clock);
  let scimSecret: { value: string | undefined; at: number } = { value: undefined, at: 0 };
  const bearerSecret = (): string | undefined => {
    if (!config.scimTokenFile) return undefined;
    if (Date.now() - scimSecret.at > 10_000) {
      try {
        scimSecret = { value: readFileSync(config.scimTokenFile, 'utf8').trim() || undefined, at: Date.now() };
      } catch {
        scimSecret = { value: scimSecret.value, at: Date.now() };
      }
    }
    return scimSecret.value;
  };
  const started: Reconciler[] = [];
  let server: Server | undefined;
  const close = async (): Promise<void> => {
    if (server) await new Promise<void>((r) => { server!.closeAllConnections(); server!.close(() => r()); });
    for (const r of started.reverse()) await r.stop().catch((err: Error) => log.warn({ err: err.message, loop: r.name }, 'stop failed'));
    log.flush();
  };
  try {
    for (const r of reconcilers) {
      await r.start();
      started.push(r);
      log.info({ loop: r.name }, 'reconciler started');
    }
    server = createControllerServer({
      exchange, issuer, metrics, log, events,
      scim: scimHandler({ store: new OwnerStore(kube, config.namespace), lifecycle, bearerSecret, log: log.child({ endpoint: 'scim' }), metrics }),
      readiness: () => reconcilers.flatMap((r) => r.readiness?.() ?? []),
      ...(config.tls ? { tls: config.tls } : {}),
    });
    const url = await listen(server, config.listen.host, config.listen.port);
    log.info({ url, namespace: config.namespace, issuer: config.issuer }, 'controller listening');
    return { url, context, issuer, lifecycle, close };
  } catch (err) {
    await close();
    throw err;
  }
}
