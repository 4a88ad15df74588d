// `skillgate sidecar`: the sidecar container's entrypoint. Configuration comes from --config (JSON
// or YAML) overlaid by the environment of CONTRACT.md; a bad value stops it at start with the field
// and the reason. Runs until SIGTERM/SIGINT, then closes listeners and flushes the journal.
import { configFromEnv, readConfigFile, resolveConfig, returnMemory, startSidecar, ConfigError, type SidecarConfigInput } from '@skillgate/sidecar';
import { sidecarPorts } from '@skillgate/sidecar/wiring';
import { CliError, untilSignal, type Command } from '../command.js';

export const sidecarCommand: Command = {
  name: ['sidecar'],
  summary: 'Run the egress sidecar (container entrypoint)',
  usage: 'sidecar [--config FILE]',
  help: `Listens on 127.0.0.1:15001 (Claude API for the skill), 127.0.0.1:15002 (egress proxy),
127.0.0.1:15053 (DNS guard, UDP and TCP), :15021 (/healthz, /readyz) and :15090 (/metrics).

Options:
  --config FILE   JSON or YAML file with the same fields as the environment below

Environment:
  SKILLGATE_UPSTREAM_URL            upstream Claude API (default https://api.anthropic.com)
  SKILLGATE_UPSTREAM_API_KEY_FILE   file holding the upstream API key (mounted only into the sidecar)
  REDIS_URL                         record sessions to Redis Streams (unset: the local file store;
                                    in cluster mode, the URL the controller hands over with the
                                    first token: start-up waits for it)
  SKILLGATE_RECORD_DIR              local store directory (default .skillgate/records)
  SKILLGATE_POLICY_FILE             SkillPolicy file for local mode
  SKILLGATE_MASKING_KEY             installation key for masking fingerprints (at least 16 bytes; unset:
                                    the development key locally, the controller's in a cluster)
  SKILLGATE_RECORD_SPOOL_DIR        where events wait while Redis is away (default beside the record dir)
  SKILLGATE_EGRESS_ALLOW            extra egress hosts, comma separated (also the names the DNS guard
                                    on 127.0.0.1:15053 resolves, besides the upstream's)
  SKILLGATE_DNS_RESOLVER            where the DNS guard sends allowed names (IPv4[:port]; default the
                                    first IPv4 nameserver of /etc/resolv.conf)
  SKILLGATE_REFUSALS_PER_SECOND     egress attempts recorded one by one a second, the refused (DNS
                                    names, connections) and, on a budget of their own, the allowed
                                    (default 200 each; past it, a flood is recorded as a count)
  SKILLGATE_LOG_LEVEL               pino level (default info)
  SKILLGATE_IDLE_SETTLE_SECONDS     hand memory back after serving requests and then being quiet this
                                    long (default 300; 0 never; needs --expose-gc, see below)
  SKILLGATE_SKILL, SKILLGATE_OWNER, SKILLGATE_POD_NAMESPACE, SKILLGATE_POD_NAME, SKILLGATE_POD_UID,
  SKILLGATE_SERVICE_ACCOUNT         the skill identity (set by the injector from the pod)
  SKILLGATE_POD_LABELS_FILE         the pod's labels (downward API), for SkillPolicy selectors

Cluster mode (set by the injector):
  SKILLGATE_CONTROLLER_URL          token exchange endpoint; turns on workload tokens, Redis locks,
                                    SkillPolicy watch and SkillApproval holds
  SKILLGATE_TOKEN_FILE              projected ServiceAccount token (audience skillgate)
  SKILLGATE_CONTROLLER_CA           CA of the controller's serving certificate (PEM; or _CA_FILE);
                                    the bundle the controller hands over replaces it from then on
  SKILLGATE_CONTROLLER_CA_CACHE     where that handed-over bundle is kept; read first at start
  SKILLGATE_REDIS_PREFIX            key prefix shared with the controller (default skillgate:)
  SKILLGATE_LOCK_FEED_MAX_LOSS_MS   fail closed after losing the lock feed this long (default 30000, at least 4000)
  SKILLGATE_RECORD_SPOOL_BYTES      local spool bound for Redis outages (0 disables: refuse instead)
  SKILLGATE_RECORD_SIGNING_KEY_FILE Ed25519 key for signed checkpoints

Node options: with --expose-gc (the injector's NODE_OPTIONS set it) the sidecar hands back the
memory its start-up grew, once it has started (~20 MB less resident while it idles), and what a
burst of traffic grew once the sidecar has been quiet for SKILLGATE_IDLE_SETTLE_SECONDS (60-90 MB
after a load test); the next burst's first requests are slower while it takes memory back.`,
  options: { config: { type: 'string', short: 'c' } },
  async run({ values }) {
    let input: SidecarConfigInput;
    try {
      const base = typeof values.config === 'string' ? readConfigFile(values.config) : {};
      input = configFromEnv(process.env, base);
      const config = resolveConfig(input);
      const ports = await sidecarPorts(config, process.env);
      const sidecar = await startSidecar(config, ports);
      const memory = returnMemory(sidecar);
      await untilSignal();
      memory.stop();
      await sidecar.close();
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message, 2);
      throw err;
    }
  },
};
