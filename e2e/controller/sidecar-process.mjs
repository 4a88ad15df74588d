#!/usr/bin/env node
// A sidecar process wired for a cluster exactly as `skillgate sidecar` wires it (sidecarPorts):
// workload token and upstream credential from the controller, locks from Redis, SkillPolicies
// watched through the API (KUBECONFIG), session records in Redis. Used by the e2e tests and
// bench/revocation to run many real sidecar processes. Prints one JSON line {"claudeUrl": ...} on
// stdout once ready; exits on SIGTERM. Reads the container's env (SKILLGATE_CONTROLLER_URL,
// SKILLGATE_TOKEN_FILE, REDIS_URL — or none, to take the one the controller hands over —,
// SKILLGATE_REDIS_PREFIX, SKILLGATE_UPSTREAM_URL, SKILLGATE_POD_*),
// and listens on free loopback ports. The sidecar is the one the image ships: the CLI bundle's
// chunks (packages/cli/bundle.mjs, written by `make build`).
import { configFromEnv, resolveConfig, returnMemory, startSidecar } from '../../packages/cli/bundle/sidecar.mjs';
import { sidecarPorts } from '../../packages/cli/bundle/sidecar-wiring.mjs';

if (!process.env.SKILLGATE_CONTROLLER_URL) {
  process.stderr.write('sidecar-process: SKILLGATE_CONTROLLER_URL is required\n');
  process.exit(2);
}
const config = resolveConfig({
  ...configFromEnv(process.env),
  logLevel: process.env.SKILLGATE_LOG_LEVEL ?? 'warn',
  listen: { host: '127.0.0.1', claude: 0, egress: 0, dns: 0, adminHost: '127.0.0.1', health: 0, metrics: 0 },
  recordDir: process.env.SKILLGATE_RECORD_DIR ?? `/tmp/skillgate-e2e-records-${process.pid}`,
});
const ports = await sidecarPorts(config, process.env);
const sidecar = await startSidecar(config, ports);
const memory = returnMemory(sidecar); // as the container entrypoint does (with --expose-gc in NODE_OPTIONS)
process.stdout.write(`${JSON.stringify({ claudeUrl: sidecar.claudeUrl, refusal: ports.identity?.refusal()?.message ?? null })}\n`);
const stop = async () => {
  memory.stop();
  await sidecar.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
