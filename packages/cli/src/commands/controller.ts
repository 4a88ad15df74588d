// `skillgate controller`: the controller's container entrypoint. Configuration from the environment
// (see @skillgate/controller config.ts) with a few flags for local runs; runs until SIGTERM/SIGINT.
// One process runs everything: token exchange, SCIM and approval links on every replica; the lock
// feed, revocations, SkillLock counters, approvals and policy status on the elected leader.
import { startController, controllerConfigFromEnv, parseSecretRef, standardLoops, type LoopFactory } from '@skillgate/controller';
import { CliError, type Command } from '../command.js';

/** Leader loops this command runs, in start order. Append a loop factory to add one. */
function leaderLoops(): LoopFactory[] {
  return [
    ...standardLoops(),
  ];
}

export const controllerCommand: Command = {
  name: ['controller'],
  summary: 'Run the skillgate controller (token exchange, SCIM, locks, approvals, policy status)',
  usage: 'controller [--listen HOST:PORT] [--namespace NS] [--kubeconfig F] [--scim-token-file F] [--upstream-secret [NS/]NAME[/KEY]] [--redis-url|--redis URL]',
  help: `Every replica serves POST /token (RFC 8693 token exchange), /scim/v2/Users, /.well-known/jwks.json,
/approvals/{ns}/{name}/{approve|deny} (signed links, or on SKILLGATE_APPROVAL_LISTEN), /metrics,
/healthz and /readyz, and watches SkillLocks, owner records and skill pods. The replica holding the
Lease (leader election) also publishes the lock feed to Redis, revokes tokens, copies SkillLock
counters, runs the approval reconciler (notifications) and writes SkillPolicy status.

Flags, each overriding the variable it names: --listen (SKILLGATE_CONTROLLER_LISTEN), --namespace
(SKILLGATE_NAMESPACE), --kubeconfig (KUBECONFIG), --scim-token-file (SKILLGATE_SCIM_TOKEN_FILE),
--upstream-secret (SKILLGATE_UPSTREAM_SECRET), --redis-url or --redis (REDIS_URL).

Environment:
  REDIS_URL                            Redis for the lock feed, issued tokens, counters (required)
  SKILLGATE_SIDECAR_REDIS_URL          Redis URL handed to sidecars with their workload token (the
                                       chart's redis.existingSecret), so a password never sits in the
                                       injection ConfigMap or a pod spec; absent: sidecars use the
                                       REDIS_URL the injector gave them
  SKILLGATE_REDIS_PREFIX               key prefix shared with the sidecars (default skillgate:)
  SKILLGATE_CONTROLLER_LISTEN          HOST:PORT to serve on (default 0.0.0.0:8443)
  SKILLGATE_METRICS_LISTEN             HOST:PORT of a plain-HTTP listener for /metrics, /healthz and
                                       /readyz alone (the chart: 0.0.0.0:9090); /metrics stays on the
                                       main listener too
  SKILLGATE_CONTROLLER_TLS_CERT_FILE   serve HTTPS with this certificate ...
  SKILLGATE_CONTROLLER_TLS_KEY_FILE    ... and key (both or neither)
  SKILLGATE_CONTROLLER_TLS_SECRET      [NS/]NAME of a kubernetes.io/tls Secret to serve HTTPS with instead,
                                       read through the API and reloaded when it changes (the one
                                       SKILLGATE_CONTROLLER_CERT_SECRET below keeps); its ca.crt goes
                                       to sidecars with every token
  SKILLGATE_MANAGE_WEBHOOK_CERTS       true: the Lease holder keeps the webhook's TLS (a CA and a
                                       serving certificate, rotated; SKILLGATE_WEBHOOK_CERT_SECRET,
                                       SKILLGATE_WEBHOOK_CONFIGS, SKILLGATE_WEBHOOK_SERVICE, ...)
  SKILLGATE_CONTROLLER_CERT_SECRET     ... and with SKILLGATE_CONTROLLER_SERVICE (NAME or NS/NAME), the
                                       controller's own certificate from the same CA, in this Secret
                                       (SKILLGATE_CONTROLLER_CERT_HOSTS: more names or IPs for it);
                                       a new CA then signs only after twice the token lifetime
  SKILLGATE_NAMESPACE                  namespace of owner records, the Lease and (by default) the
                                       upstream Secret (default POD_NAMESPACE, else skillgate)
  KUBECONFIG                           kubeconfig outside a cluster (in cluster: the pod's account)
  SKILLGATE_SCIM_TOKEN_FILE            bearer secret the IdP presents to SCIM (absent = SCIM off)
  SKILLGATE_SIGNING_KEY_FILE           PKCS#8 PEM ES256 key for workload tokens and record-key
                                       endorsements (its JWKS verifies session records)
  SKILLGATE_SIGNING_KEY_SECRET         [NS/]NAME of a Secret to keep that key in instead, created with
                                       a new key by the first replica (the chart's default); neither:
                                       an ephemeral key per process
  SKILLGATE_MASKING_KEY_FILE           the installation masking key (at least 16 bytes), handed to every
                                       sidecar with its workload token (the HMAC key of the record's
                                       fingerprints: keep it secret)
  SKILLGATE_MASKING_KEY_SECRET         [NS/]NAME of a Secret to keep that key in instead, created with 32
                                       random bytes by the first replica (the chart's default); neither:
                                       sidecars get no key and refuse to serve
  SKILLGATE_JWKS_CONFIGMAP             [NS/]NAME of a ConfigMap to keep every signing key's public half
                                       in (rotations add, never remove): responders verify records
                                       with --trust-jwks kube:NS/NAME
  SKILLGATE_ISSUER                     iss of workload tokens
  SKILLGATE_TOKEN_TTL_SECONDS          workload token lifetime (default 600, max 3600)
  SKILLGATE_REQUIRE_KNOWN_OWNERS       true|false (default false): tokens only for skills whose owner
                                       SCIM provisioned or a responder vouched for (skillgate owners
                                       add), not owners only a pod's annotation names
  SKILLGATE_UPSTREAM_SECRET            [NS/]NAME[/KEY] of the Secret with the upstream API key
  SKILLGATE_LOCK_HEARTBEAT_MS          lock feed heartbeat (default 2000)
  SKILLGATE_LOCK_STATS_INTERVAL_MS     how often SkillLock counters are copied to status (default 5000)
  SKILLGATE_APPROVAL_WEBHOOK_URL       Slack-compatible webhook for approval notifications
  SKILLGATE_APPROVAL_LINK_BASE_URL     public URL of the controller for signed approve/deny links ...
  SKILLGATE_APPROVAL_LINK_SECRET_FILE  ... and the file with their HMAC secret (both or neither)
  SKILLGATE_APPROVAL_USER_HEADER       header with the approver from the authenticating proxy
                                       (default x-forwarded-user)
  SKILLGATE_APPROVAL_LISTEN            host:port of a listener for the signed links alone (the chart:
                                       0.0.0.0:8444, reachable by the authenticating proxy only);
                                       the main listener then refuses /approvals/
  SKILLGATE_LEADER_ELECTION            true|false (default true; false = this replica always leads)
  SKILLGATE_LEASE_NAME                 Lease name (default skillgate-controller)
  SKILLGATE_LEASE_DURATION_SECONDS     Lease duration (default 15)
  SKILLGATE_LEASE_RETRY_MS             acquire/renew period (default min(2000, duration/4))
  SKILLGATE_CONTROLLER_ID / POD_NAME   this replica's identity in the Lease (default host-pid-random)
  SKILLGATE_LOG_LEVEL                  pino level (default info)`,
  options: {
    listen: { type: 'string' },
    namespace: { type: 'string' },
    kubeconfig: { type: 'string' },
    'scim-token-file': { type: 'string' },
    'upstream-secret': { type: 'string' },
    'redis-url': { type: 'string' },
    redis: { type: 'string' }, // the other commands' spelling
  },
  async run({ values }) {
    let input;
    try {
      input = controllerConfigFromEnv(process.env);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const v = values as Record<string, string | undefined>;
    if (v.listen) input.listen = v.listen;
    if (v.namespace) input.namespace = v.namespace;
    if (v.kubeconfig) input.kubeconfig = v.kubeconfig;
    if (v['scim-token-file']) input.scimTokenFile = v['scim-token-file'];
    if (v['redis-url'] && v.redis && v['redis-url'] !== v.redis) throw new CliError('--redis-url and --redis are the same flag: give one', 2);
    if (v['redis-url'] ?? v.redis) input.redisUrl = v['redis-url'] ?? v.redis;
    if (v['upstream-secret']) input.upstreamSecret = parseSecretRef(v['upstream-secret'], input.namespace ?? 'skillgate');
    let controller;
    try {
      controller = await startController(input, { reconcilers: leaderLoops() });
    } catch (err) {
      throw new CliError(`controller failed to start: ${(err as Error).message}`);
    }
    process.stderr.write(`skillgate controller listening on ${controller.url}${controller.isLeader() ? ' (leader)' : ''}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await controller.close();
    return 0;
  },
};
