// `skillgate controller`: the controller's container entrypoint. Configuration from the environment
// (see @skillgate/controller config.ts) with a few flags for local runs; runs until SIGTERM/SIGINT.
import { startController, controllerConfigFromEnv, parseSecretRef } from '@skillgate/controller';
import { CliError, type Command } from '../command.js';

export const controllerCommand: Command = {
  name: ['controller'],
  summary: 'run the skillgate controller (token exchange, SCIM, locks)',
  usage: 'controller [--listen HOST:PORT] [--namespace NS] [--kubeconfig F] [--scim-token-file F] [--upstream-secret [NS/]NAME[/KEY]]',
  help: `Serves POST /token (RFC 8693 token exchange), /scim/v2/Users, /.well-known/jwks.json, /metrics,
/healthz and /readyz, and runs the SkillLock and owner reconcilers, publishing locks to Redis.

Environment: REDIS_URL (required), SKILLGATE_CONTROLLER_LISTEN, SKILLGATE_CONTROLLER_TLS_CERT_FILE,
SKILLGATE_CONTROLLER_TLS_KEY_FILE, SKILLGATE_NAMESPACE, SKILLGATE_SCIM_TOKEN_FILE,
SKILLGATE_SIGNING_KEY_FILE, SKILLGATE_ISSUER, SKILLGATE_TOKEN_TTL_SECONDS, SKILLGATE_UPSTREAM_SECRET,
SKILLGATE_REDIS_PREFIX, SKILLGATE_LOG_LEVEL, KUBECONFIG. Flags override the environment.`,
  options: {
    listen: { type: 'string' },
    namespace: { type: 'string' },
    kubeconfig: { type: 'string' },
    'scim-token-file': { type: 'string' },
    'upstream-secret': { type: 'string' },
    'redis-url': { type: 'string' },
  },
  async run({ values }) {
    const input = controllerConfigFromEnv(process.env);
    const v = values as Record<string, string | undefined>;
    if (v.listen) input.listen = v.listen;
    if (v.namespace) input.namespace = v.namespace;
    if (v.kubeconfig) input.kubeconfig = v.kubeconfig;
    if (v['scim-token-file']) input.scimTokenFile = v['scim-token-file'];
    if (v['redis-url']) input.redisUrl = v['redis-url'];
    if (v['upstream-secret']) input.upstreamSecret = parseSecretRef(v['upstream-secret'], input.namespace ?? 'skillgate');
    let controller;
    try {
      controller = await startController(input);
    } catch (err) {
      throw new CliError(`controller failed to start: ${(err as Error).message}`);
    }
    process.stderr.write(`skillgate controller listening on ${controller.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await controller.close();
    return 0;
  },
};
