// Assembles a sidecar: config → context (logger, metrics, ports) → the listeners (Claude API,
// egress proxy, DNS guard, health, metrics). The ports default to local implementations; the
// cluster wiring (controller tokens, Redis locks and records, SkillPolicy feed) passes its own.
// Whenever the skill's standing may have changed — the lock set changed, the workload token was
// refused, revoked or expired, the lock feed was lost past its bound — one sweep of the live
// registry cuts the Claude exchanges and egress connections the skill may no longer hold open.
import { readFileSync } from 'node:fs';
import { http } from './node-http.js';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { resolveConfig, type SidecarConfig, type SidecarConfigInput } from './config.js';
import { createLogger, type Logger } from './log.js';
import { SidecarMetrics } from './metrics.js';
import { noLocks, type CredentialSource, type IdentitySource, type LockGuard } from './ports/index.js';
import { allowAll, type Guard } from './ports/guard.js';
import { logJournal, type Journal } from './ports/journal.js';
import { keyFileCredential, staticIdentity } from './ports/local.js';
import { LiveExchanges } from './live.js';
import { Upstream } from './upstream.js';
import type { SidecarContext } from './context.js';
import { claudeHandler, createClaudeServer } from './claude-server.js';
import { createEgressServer } from './egress/proxy.js';
import { EgressAllowlist, parseAuthority } from './egress/allowlist.js';
import { DnsGuard, parseResolvConf, type Resolver } from './egress/dns.js';
import { ALLOWED_COUNTED, BudgetedEgressJournal } from './egress/budgeted-journal.js';
import { createHealthServer, createMetricsServer } from './admin-server.js';
import { keepTickObjectShape } from './tick-shape.js';
import { sweepRefusal } from './standing.js';

export interface SidecarPorts {
  identity?: IdentitySource;
  locks?: LockGuard;
  credential?: CredentialSource;
  guard?: Guard;
  /** Builds the journal once the logger exists. */
  journal?: (log: Logger) => Journal;
  /** Extra egress allowlist patterns, e.g. from the SkillPolicy (re-read on every attempt). */
  egressAllowHosts?: () => readonly string[];
  /** Extra readiness problems (empty = ready). */
  readiness?: () => string[];
  logger?: Logger;
  metrics?: SidecarMetrics;
  /** Releases what the wiring opened (feeds, Redis clients), after the listeners close. */
  onClose?: () => Promise<void>;
}

export interface Sidecar {
  claudeUrl: string;
  egressUrl: string;
  /** The DNS guard's port on the listen host (UDP and TCP). */
  dnsPort: number;
  healthUrl: string;
  metricsUrl: string;
  context: SidecarContext;
  /**
   * Cut the live exchanges and egress connections the skill may no longer hold open (all of them
   * when it has lost its standing, else those a lock now matches); returns how many.
   */
  sweepLive(): number;
  close(): Promise<void>;
}

export async function startSidecar(input: SidecarConfigInput | SidecarConfig = {}, ports: SidecarPorts = {}): Promise<Sidecar> {
  const config = 'upstreamUrl' in input && input.upstreamUrl instanceof URL && 'limits' in input && input.limits && 'recordBodyBytes' in input.limits
    ? (input as SidecarConfig)
    : resolveConfig(input as SidecarConfigInput);
  const log = ports.logger ?? createLogger(config.logLevel);
  keepTickObjectShape();
  const locks = ports.locks ?? noLocks;
  const metrics = ports.metrics ?? new SidecarMetrics();
  const context: SidecarContext = {
    config,
    log,
    metrics,
    identity: ports.identity ?? staticIdentity(config.identity),
    locks,
    credential: ports.credential ?? keyFileCredential(config.upstreamApiKey, config.upstreamApiKeyFile),
    guard: ports.guard ?? allowAll,
    journal: ports.journal ? ports.journal(log) : logJournal(log),
    // The event-loop delay is sampled while exchanges come (process-metrics.ts).
    live: new LiveExchanges((live) => metrics.eventLoopDelay?.busy(live)),
    upstream: new Upstream(config.upstreamUrl),
  };
  const sweepLive = (): number => context.live.sweep(sweepRefusal(context));
  const sweepOn = (what: string) => (): void => {
    const killed = sweepLive();
    if (killed) log.warn({ killed, cause: what }, 'cut live exchanges and egress connections the skill may no longer hold open');
  };
  locks.onChange(sweepOn('lock set changed'));
  locks.onStandingLost?.(sweepOn('lock feed lost'));
  context.identity.onStandingLost?.(sweepOn('workload token refused, revoked or expired'));

  const upstream = parseAuthority(config.upstreamUrl.host, config.upstreamUrl.protocol === 'https:' ? 443 : 80)!;
  let allowCache: { key: string; list: EgressAllowlist } | undefined;
  const allowlist = (): EgressAllowlist => {
    const patterns = [...config.egressAllowHosts, ...(ports.egressAllowHosts?.() ?? [])];
    const key = patterns.join('\n');
    if (allowCache?.key !== key) allowCache = { key, list: new EgressAllowlist(patterns) };
    return allowCache.list;
  };

  const claude = claudeHandler(context);
  const refusals = new BudgetedEgressJournal(context, config.refusalsPerSecond);
  // What is let through is recorded within the same budget a second as refusals (a journal of its
  // own): the proxy's connections, and names resolved under a wildcard of the allowlist, whose
  // labels carry what the skill writes there.
  const allowed = new BudgetedEgressJournal(context, config.refusalsPerSecond, Date.now, ALLOWED_COUNTED);
  const servers: Array<[net.Server, string, number]> = [
    [createClaudeServer(context, claude), config.listen.host, config.listen.claude],
    [createEgressServer(context, { allowlist, upstream, claude, refusals, allowed }), config.listen.host, config.listen.egress],
    [createHealthServer(context, ports.readiness ?? (() => [])), config.listen.adminHost, config.listen.health],
    [createMetricsServer(context), config.listen.adminHost, config.listen.metrics],
  ];
  const dns = new DnsGuard(context, { allowlist, upstreamHost: upstream.host, refusals, allowed, ...dnsResolution(config, log) });
  const urls: string[] = [];
  let dnsPort: number;
  try {
    for (const [server, host, port] of servers) urls.push(await listen(server, host, port));
    dnsPort = await dns.listen(config.listen.host, config.listen.dns);
  } catch (err) {
    await Promise.all([...servers.map(([s]) => closeServer(s)), dns.close()]);
    throw err;
  }
  log.info({ claude: urls[0], egress: urls[1], dns: `${config.listen.host}:${dnsPort}`, health: urls[2], metrics: urls[3], upstream: config.upstreamUrl.origin }, 'sidecar listening');

  return {
    claudeUrl: urls[0]!, egressUrl: urls[1]!, dnsPort, healthUrl: urls[2]!, metricsUrl: urls[3]!,
    context,
    sweepLive,
    async close() {
      await Promise.all([...servers.map(([s]) => closeServer(s)), dns.close()]);
      refusals.close();
      allowed.close();
      metrics.eventLoopDelay?.stop();
      context.upstream.close();
      await context.journal.close();
      await ports.onClose?.();
      log.flush();
    },
  };
}

/** The DNS guard's resolver and search list: SKILLGATE_DNS_RESOLVER, else the pod's resolv.conf. */
function dnsResolution(config: SidecarConfig, log: Logger): { resolver: Resolver | undefined; searchDomains: string[] } {
  let conf: ReturnType<typeof parseResolvConf> = { searchDomains: [] };
  try {
    conf = parseResolvConf(readFileSync(config.resolvConfFile, 'utf8'));
  } catch (err) {
    log.warn({ file: config.resolvConfFile, err: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot read the resolver configuration: the DNS guard has no search list');
  }
  const resolver = config.dnsResolver ?? conf.resolver;
  if (!resolver) log.warn({ file: config.resolvConfFile }, 'no IPv4 nameserver to forward allowed DNS names to (SKILLGATE_DNS_RESOLVER): they get SERVFAIL');
  return { resolver, searchDomains: conf.searchDomains };
}

function listen(server: net.Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve(`http://${h === '0.0.0.0' ? '127.0.0.1' : h}:${addr.port}`);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (server instanceof http.Server) server.closeAllConnections();
    server.close(() => resolve());
    if (!server.listening) resolve();
  });
}
