// Assembles a controller: config → logger, metrics, Kubernetes clients, Redis → the loops every
// replica runs (SkillLock, owner and skill-pod watches: the token exchange needs their view) → leader
// election (a coordination.k8s.io Lease) → the loops only the leader runs (publishing the lock feed,
// revocations, SkillLock counters, approvals, policy status, and whatever `reconcilers` adds) → the
// HTTP(S) server (token exchange, SCIM, JWKS, approval links) that every replica serves. Loops start
// in order and stop in reverse; leader loops are rebuilt each time this replica wins the Lease.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { POD_REGISTRATION_ACTOR, RecordKeyEndorser, WorkloadTokenIssuer } from '@skillgate/identity';
import { LockFeedPublisher } from '@skillgate/identity/lock-feed-publisher';
import { loadSigningKey } from './signing-key.js';
import { loadMaskingKey } from './masking-key.js';
import { publishJwk } from './jwks-configmap.js';
import { resolveControllerConfig, type ControllerConfig, type ControllerConfigInput } from './config.js';
import { createLogger, feedLog, type Logger } from './log.js';
import { ControllerMetrics } from './metrics.js';
import { kubeClients, type KubeClients } from './kube.js';
import { emit, type ControllerEvents } from './events.js';
import type { Reconciler } from './reconciler.js';
import { LockReconciler } from './locks/reconciler.js';
import { LockClient } from './locks/client.js';
import { LockAnnouncer } from './locks/announce.js';
import { LockStatsReconciler } from './locks/stats.js';
import { OwnerReconciler } from './owners/reconciler.js';
import { OwnerStore } from './owners/store.js';
import { OwnerLifecycle } from './owners/lifecycle.js';
import { PodOwnerWatcher } from './owners/pods.js';
import { scimHandler } from './owners/scim-server.js';
import { LeaseElector } from './leader/lease.js';
import { TokenExchange } from './token-exchange/exchange.js';
import { RedisIssuedTokens, type IssuedTokenIndex } from './token-exchange/issued.js';
import { KubePodSource, KubeTokenReviewer, type PodSource, type TokenReviewer } from './token-exchange/review.js';
import { SecretCredentialProvider, noCredential, type UpstreamCredentialProvider } from './credentials.js';
import { approvalLinkRoutes, recordDecision, DecisionRefused } from './approvals/index.js';
import { standardLoops, type LoopFactory } from './loops.js';
import { approvalsElsewhere, createApprovalServer, createControllerServer, createMetricsServer, listen } from './server.js';
import { fileServingCert, secretServingCert } from './serving-cert.js';
import { X509Certificate } from 'node:crypto';
import { webhookCertsConfigFromEnv, type WebhookCertsConfig } from './webhook-certs/index.js';
import type { Server } from 'node:http';
import type { SkillIdentity } from '@skillgate/api';

/** What loops get to build themselves. */
export interface ControllerContext {
  config: ControllerConfig;
  kube: KubeClients;
  log: Logger;
  metrics: ControllerMetrics;
  events: ControllerEvents;
  locks: LockReconciler;
  owners: OwnerReconciler;
  pods: PodOwnerWatcher;
  /** Shared command connection (issued tokens, counters, sidecar heartbeats). */
  redis: Redis;
  /** Signed approve/deny links, when configured. */
  approvalLinks?: { baseUrl: string; secret: Buffer };
  isLeader(): boolean;
}

export interface ControllerOptions {
  events?: ControllerEvents;
  logger?: Logger;
  kube?: KubeClients;
  /** Replace the upstream credential source (e.g. workload identity federation). */
  credentials?: UpstreamCredentialProvider;
  /** Leader-only loops, built once the shared context exists. Default: standardLoops(). */
  reconcilers?: LoopFactory[];
  /** Injectable for tests; default: the API server's TokenReview and pods. */
  reviewer?: TokenReviewer;
  pods?: PodSource;
  clock?: () => number;
  /** Stamp the SkillPolicy generation into tokens, when a policy reconciler knows it. */
  policyGeneration?: (identity: SkillIdentity) => number;
  /**
   * The webhook-certs configuration, for a replica to issue its own certificate when the Lease
   * holder does not (SKILLGATE_CONTROLLER_TLS_SECRET). Default: from the environment; null: none.
   */
  webhookCerts?: WebhookCertsConfig | null;
}

export interface Controller {
  url: string;
  /** The approval links' own listener, when configured (approvals.listen). */
  approvalsUrl?: string;
  /** The plain-HTTP metrics listener, when configured (metricsListen). */
  metricsUrl?: string;
  context: ControllerContext;
  issuer: WorkloadTokenIssuer;
  lifecycle: OwnerLifecycle;
  isLeader(): boolean;
  close(): Promise<void>;
}

export async function startController(input: ControllerConfigInput | ControllerConfig, opts: ControllerOptions = {}): Promise<Controller> {
  const config = resolveControllerConfig(input);
  const log = (opts.logger ?? createLogger(config.logLevel)).child({ replica: config.leaderElection.identity });
  const metrics = new ControllerMetrics();
  const kube = opts.kube ?? kubeClients(config.kubeconfig);
  const events = opts.events ?? {};
  const clock = opts.clock ?? Date.now;
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(50 * 2 ** Math.min(n, 5), 1000) });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error'));

  const key = await loadSigningKey(config, kube, log);
  const maskingKey = await loadMaskingKey(config, kube, log);
  if (config.jwksConfigMap) {
    // Not fatal: the JWKS endpoint serves the key all the same; the next start tries again.
    const where = `${config.jwksConfigMap.namespace}/${config.jwksConfigMap.name}`;
    await publishJwk(kube, config.jwksConfigMap, key.publicJwk)
      .then((r) => log.info({ configMap: where, kid: key.kid, result: r }, 'signing key published in the JWKS ConfigMap'))
      .catch((err: Error) => log.warn({ err: err.message }, 'signing key not published in the JWKS ConfigMap'));
  }
  let leading = false;
  // The token exchange's certificate (an operator's files, or a Secret the installation CA or
  // cert-manager keeps): loaded before the listeners open (below), refreshed while they run, a
  // Secret's CA bundle handed to sidecars.
  const servingExpiry = (certPem: string): void => {
    metrics.servingCertificateExpiry.set(Math.floor(Date.parse(new X509Certificate(certPem).validTo) / 1000));
  };
  const servingCert = config.tls ? fileServingCert({ ...config.tls, log, onCertificate: servingExpiry })
    : config.tlsSecret ? secretServingCert({
      kube, secret: config.tlsSecret, log, clock, leading: () => leading, onCertificate: servingExpiry,
      webhookCerts: opts.webhookCerts === undefined ? webhookCertsConfigFromEnv(process.env) : opts.webhookCerts ?? undefined,
    }) : undefined;
  const issuer = new WorkloadTokenIssuer(key, config.issuer, clock);
  const issued: IssuedTokenIndex = new RedisIssuedTokens(redis, config.redisPrefix);

  const locks = new LockReconciler({
    kube, log: log.child({ loop: 'skilllocks' }), metrics, events, clock, heartbeatMs: config.heartbeatMs, redis, prefix: config.redisPrefix,
    publisher: () => new LockFeedPublisher({ redisUrl: config.redisUrl, prefix: config.redisPrefix, clock, log: feedLog(log.child({ loop: 'lock-feed' })) }),
  });
  const store = new OwnerStore(kube, config.namespace);
  const announcer = new LockAnnouncer(locks, redis, config.redisUrl, config.redisPrefix, log.child({ loop: 'lock-announce' }));
  const lifecycle = new OwnerLifecycle(store, new LockClient(kube), clock, (lock) => announcer.announce(lock));
  // owners and pods refer to each other: the pod watcher asks the registry, the registry asks for pods.
  let owners: OwnerReconciler;
  const pods = new PodOwnerWatcher({
    kube, log: log.child({ loop: 'skill-pods' }),
    leading: () => leading,
    knownOwner: (email) => owners.knows(email),
    registerOwner: async (email, seenOn) => {
      if (!(await lifecycle.register(email, `${POD_REGISTRATION_ACTOR}${seenOn.namespace}/${seenOn.pod}`))) return;
      const pod = `${seenOn.namespace}/${seenOn.pod}`;
      if (config.requireKnownOwners) log.warn({ pod }, 'owner first seen on a pod: registered, not vouched for; its skills get no workload token until SCIM provisions the owner or a responder runs skillgate owners add');
      else log.info({ pod }, 'owner first seen on a pod: registered as active');
    },
    reassigned: async (r) => {
      const tokens = await issued.ofPod(r.namespace, r.pod, clock());
      const jtis = await owners.revoke(tokens, `workload token revoked: skill ${r.skill} was reassigned from ${r.from ?? 'no owner'} to ${r.to ?? 'no owner'}; the sidecar re-exchanges for a token naming the new owner`);
      emit(events, 'skillReassigned', { namespace: r.namespace, pod: r.pod, skill: r.skill, ...(r.from ? { from: r.from } : {}), ...(r.to ? { to: r.to } : {}), jtis });
    },
  });
  owners = new OwnerReconciler({ kube, namespace: config.namespace, issued, locks, podsOf: (o) => pods.podsOf(o), log: log.child({ loop: 'owners' }), metrics, events, clock });

  const approvalLinks = config.approvals.linkBaseUrl && config.approvals.linkSecretFile
    ? { baseUrl: config.approvals.linkBaseUrl, secret: readFileSync(config.approvals.linkSecretFile) }
    : undefined;
  if (approvalLinks && approvalLinks.secret.toString('utf8').trim().length < 16) {
    throw new Error('invalid controller config: approvals.linkSecretFile: the link secret must be at least 16 characters');
  }
  const context: ControllerContext = { config, kube, log, metrics, events, locks, owners, pods, redis, ...(approvalLinks ? { approvalLinks } : {}), isLeader: () => leading };
  const factories: LoopFactory[] = [
    (ctx) => new LockStatsReconciler({ kube: ctx.kube, redis: ctx.redis, prefix: ctx.config.redisPrefix, objects: () => ctx.locks.objects(), log: ctx.log.child({ loop: 'skilllock-counters' }), intervalMs: ctx.config.lockStatsIntervalMs }),
    ...(opts.reconcilers ?? standardLoops()),
  ];
  const everyReplica: Reconciler[] = [locks, owners, pods];
  let leaderLoops: Reconciler[] = [];

  const startLeading = async (): Promise<void> => {
    leading = true;
    emit(events, 'leadershipChanged', { identity: config.leaderElection.identity, leading: true });
    // Taking over needs Redis (the lock feed) and the API server. Until it has succeeded this
    // replica holds the lease without doing the leader's work (no lock publisher, no revocations):
    // retry, backing off, for as long as it leads.
    for (let attempt = 1; ; attempt++) {
      try {
        await locks.lead();
        await owners.lead();
        await pods.lead();
        break;
      } catch (err) {
        if (!leading) return;
        const waitMs = Math.min(500 * 2 ** (attempt - 1), 10_000);
        log.error({ err: (err as Error).message, attempt, retryInMs: waitMs }, 'taking over as leader failed; retrying');
        await new Promise((r) => setTimeout(r, waitMs).unref());
        if (!leading) return;
      }
    }
    for (const make of factories) {
      if (!leading) return;
      const loop = make(context);
      await loop.start();
      leaderLoops.push(loop);
      log.info({ loop: loop.name }, 'leader loop started');
    }
  };
  const stopLeading = async (): Promise<void> => {
    leading = false;
    const running = leaderLoops.reverse();
    leaderLoops = [];
    for (const loop of running) await loop.stop().catch((err: Error) => log.warn({ err: err.message, loop: loop.name }, 'stop failed'));
    owners.follow();
    await locks.follow();
    emit(events, 'leadershipChanged', { identity: config.leaderElection.identity, leading: false });
  };
  const elector = config.leaderElection.enabled
    ? new LeaseElector({
      kube, namespace: config.namespace, name: config.leaderElection.leaseName, identity: config.leaderElection.identity,
      leaseDurationSeconds: config.leaderElection.leaseDurationSeconds, retryPeriodMs: config.leaderElection.retryPeriodMs,
      log: log.child({ loop: 'leader-election' }), clock, onStartedLeading: startLeading, onStoppedLeading: stopLeading,
    })
    : undefined;

  const credentials = opts.credentials ?? (config.upstreamSecret ? new SecretCredentialProvider(kube, config.upstreamSecret) : noCredential);
  const exchange = new TokenExchange({
    reviewer: opts.reviewer ?? new KubeTokenReviewer(kube),
    pods: opts.pods ?? new KubePodSource(kube),
    issuer,
    endorser: new RecordKeyEndorser(key, config.issuer, clock),
    issued,
    onIndexFault: (err) => log.warn({ err: err.message }, 'issued-token index not written (Redis?): this token cannot be revoked by jti'),
    ownerActive: (email) => owners.isActive(email),
    ...(config.requireKnownOwners ? { ownerVouched: (email: string) => owners.registry.isVouched(email) } : {}),
    locks: () => locks.inForce,
    credentials,
    systemNamespace: config.namespace,
    ...(maskingKey ? { maskingKey } : {}),
    ...(config.sidecarRedisUrl ? { sidecarRedisUrl: config.sidecarRedisUrl } : {}),
    ...(opts.policyGeneration ? { policyGeneration: opts.policyGeneration } : {}),
    clock,
    ttlSeconds: config.tokenTtlSeconds,
  });
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
  let approvalServer: Server | undefined;
  let metricsServer: Server | undefined;
  let announcing = false;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= shutdown());
  const shutdown = async (): Promise<void> => {
    servingCert?.stop();
    for (const s of [server, approvalServer, metricsServer]) {
      if (s) await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
    }
    if (elector) await elector.stop();
    else if (leading) await stopLeading();
    for (const r of started.reverse()) await r.stop().catch((err: Error) => log.warn({ err: err.message, loop: r.name }, 'stop failed'));
    if (announcing) await announcer.stop();
    redis.disconnect();
    log.flush();
  };
  try {
    await redis.connect();
    for (const r of everyReplica) {
      await r.start();
      started.push(r);
      log.info({ loop: r.name }, 'reconciler started');
    }
    await announcer.start();
    announcing = true;
    if (elector) await elector.start();
    else await startLeading();
    // On a first install the leader's loops (started above) or cert-manager make it meanwhile.
    if (servingCert) await servingCert.waitForCertificate();
    const decide = approvalLinks
      ? approvalLinkRoutes({
        secret: approvalLinks.secret,
        userHeader: config.approvals.userHeader,
        decide: async (namespace, name, d) => {
          try {
            const a = await recordDecision(kube.custom, namespace, name, d);
            return a.status?.phase ? { phase: a.status.phase } : {};
          } catch (err) {
            if (err instanceof DecisionRefused) return { problem: err.message };
            throw err;
          }
        },
      })
      : undefined;
    const ownListener = decide && config.approvals.listen;
    const readiness = (): string[] => [...everyReplica, ...leaderLoops].flatMap((r) => r.readiness?.() ?? []);
    server = createControllerServer({
      exchange, issuer, metrics, log, events,
      scim: scimHandler({ store, lifecycle, bearerSecret, log: log.child({ endpoint: 'scim' }), metrics, events }),
      readiness,
      ...(servingCert ? { controllerCa: () => servingCert.caBundle() } : {}),
      ...(decide ? { routes: [ownListener ? approvalsElsewhere : decide] } : {}),
      ...(servingCert ? { tls: servingCert } : {}),
    });
    const url = await listen(server, config.listen.host, config.listen.port);
    let metricsUrl: string | undefined;
    if (config.metricsListen) {
      metricsServer = createMetricsServer({ metrics, log, readiness });
      metricsUrl = await listen(metricsServer, config.metricsListen.host, config.metricsListen.port);
    }
    let approvalsUrl: string | undefined;
    if (decide && ownListener) {
      approvalServer = createApprovalServer({ routes: [decide], ...(servingCert ? { tls: servingCert } : {}) });
      approvalsUrl = await listen(approvalServer, ownListener.host, ownListener.port);
    }
    log.info({ url, ...(approvalsUrl ? { approvals: approvalsUrl } : {}), ...(metricsUrl ? { metrics: metricsUrl } : {}), namespace: config.namespace, issuer: config.issuer, leaderElection: config.leaderElection.enabled }, 'controller listening');
    return { url, ...(approvalsUrl ? { approvalsUrl } : {}), ...(metricsUrl ? { metricsUrl } : {}), context, issuer, lifecycle, isLeader: () => leading, close };
  } catch (err) {
    await close();
    throw err;
  }
}
