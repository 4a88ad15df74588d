// `skillgate dev` (what `make dev` runs): the bundled fake Claude API — or the real one with
// --upstream and a key file — behind a sidecar on the standard ports, with a local policy and the
// local session store. Prints exactly how to point a skill at it, with a curl line that works anywhere
// and an SDK line that works wherever the SDK is installed (it says how to install it).
import { resolve } from 'node:path';
import { startFakeClaude } from '@skillgate/fake-claude';
import { configFromEnv, resolveConfig, startSidecar, ConfigError } from '@skillgate/sidecar';
import { redisPrefix, sidecarPorts } from '@skillgate/sidecar/wiring';
import { CliError, untilSignal, type Command } from '../command.js';
import { DEFAULT_FAKE_CLAUDE_PORT } from './fake-claude.js';
import { redisLocation } from '@skillgate/resp';

export const devCommand: Command = {
  name: ['dev'],
  summary: 'Run fake Claude (unless --upstream) and a sidecar locally; print how to use them',
  usage: 'dev [--upstream URL --key-file F] [--policy F] [--record-dir D] [--fake-port N]',
  help: `Options:
  --upstream URL   forward to this Claude API instead of the bundled fake (e.g. https://api.anthropic.com)
  --key-file F     file with the upstream API key (required with --upstream, unless it is on this
                   machine: 127.0.0.1, ::1, localhost)
  --policy F       SkillPolicy file (YAML/JSON) the sidecar enforces
  --record-dir D   local session store (default .skillgate/records); REDIS_URL overrides it
  --fake-port N    port of the bundled fake Claude API (default ${DEFAULT_FAKE_CLAUDE_PORT})

The sidecar listens on the standard ports: 127.0.0.1:15001 (Claude API), 127.0.0.1:15002
(egress proxy), :15021 (health), :15090 (metrics). Stop with Ctrl-C.`,
  options: {
    upstream: { type: 'string' },
    'key-file': { type: 'string' },
    policy: { type: 'string' },
    'record-dir': { type: 'string' },
    'fake-port': { type: 'string' },
  },
  async run({ values }) {
    const upstreamArg = typeof values.upstream === 'string' ? values.upstream : undefined;
    const keyFile = typeof values['key-file'] === 'string' ? values['key-file'] : process.env.SKILLGATE_UPSTREAM_API_KEY_FILE;
    const fakePortArg = typeof values['fake-port'] === 'string' ? values['fake-port'] : undefined;
    // The command line is checked before anything starts: what is wrong with it, exit 2.
    if (upstreamArg !== undefined && !isHttpUrl(upstreamArg)) throw new CliError(`--upstream must be an http:// or https:// URL, got "${upstreamArg}"`, 2);
    if (upstreamArg !== undefined && fakePortArg !== undefined) throw new CliError('--fake-port is the bundled fake\'s port, which --upstream replaces: give one', 2);
    const fakePort = fakePortArg === undefined ? DEFAULT_FAKE_CLAUDE_PORT : Number(fakePortArg);
    if (fakePortArg !== undefined && (!/^\d+$/.test(fakePortArg) || fakePort > 65535)) throw new CliError(`--fake-port must be a TCP port (0-65535), got "${fakePortArg}"`, 2);
    // An upstream on this machine (a fake of your own, a recorded replay) needs no real key.
    if (upstreamArg && !keyFile && !onThisMachine(upstreamArg)) {
      throw new CliError('--upstream needs --key-file F (a file holding the upstream API key) unless the upstream is on this machine', 2);
    }
    const fake = upstreamArg ? undefined : await startFakeClaude({
      port: fakePort, host: '127.0.0.1', recordRequests: false, deltaDelayMs: 15,
    }).catch((err: Error) => {
      throw new CliError(`cannot start the fake Claude API: ${err.message} (is another 'skillgate dev' running? try --fake-port)`);
    });
    const env = configFromEnv(process.env);
    let sidecar;
    try {
      const config = resolveConfig({
        ...env,
        upstreamUrl: upstreamArg ?? fake!.url,
        ...(upstreamArg && keyFile ? { upstreamApiKeyFile: keyFile } : { upstreamApiKey: 'sk-ant-fake-dev-key' }),
        ...(typeof values.policy === 'string' ? { policyFile: resolve(values.policy) } : {}),
        recordDir: typeof values['record-dir'] === 'string' ? values['record-dir'] : env.recordDir ?? '.skillgate/records',
        identity: { namespace: 'dev', serviceAccount: 'dev', pod: 'dev', skill: 'dev-skill', owner: process.env.USER ? `${process.env.USER}@localhost` : 'developer@localhost', ...env.identity },
        listen: { adminHost: '127.0.0.1' },
      });
      sidecar = await startSidecar(config, await sidecarPorts(config, process.env));
    } catch (err) {
      await fake?.close();
      if (err instanceof ConfigError) throw new CliError(err.message, 2);
      throw new CliError(`cannot start the sidecar: ${(err as Error).message} (ports 15001/15002/15021/15090 and 15053 must be free)`);
    }
    // The prefix is said with the URL: `sessions list` without the same --prefix would find nothing.
    const records = sidecar.context.config.redisUrl ? `Redis ${redisLocation(sidecar.context.config.redisUrl)} (prefix ${redisPrefix(process.env)})` : resolve(sidecar.context.config.recordDir);
    process.stdout.write(devBanner({
      claudeUrl: sidecar.claudeUrl, upstream: fake ? `${fake.url} (bundled fake Claude API)` : upstreamArg!, egressUrl: sidecar.egressUrl,
      dnsPort: sidecar.dnsPort, healthUrl: sidecar.healthUrl, metricsUrl: sidecar.metricsUrl, records,
    }));
    await untilSignal();
    await sidecar.close();
    await fake?.close();
    return 0;
  },
};

/**
 * What `skillgate dev` prints once it runs: where everything listens, and lines to try it with. The
 * curl line works from anywhere; the SDK line imports @anthropic-ai/sdk, which Node resolves from the
 * directory it runs in, so it says to install the SDK there first (README, "make dev", says so too).
 */
export function devBanner(at: { claudeUrl: string; upstream: string; egressUrl: string; dnsPort: number; healthUrl: string; metricsUrl: string; records: string }): string {
  const base = at.claudeUrl;
  return `
skillgate dev is running.
  upstream           ${at.upstream}
  Claude API         ${base}          <- point your skill here
  egress proxy       ${at.egressUrl}
  DNS guard          127.0.0.1:${at.dnsPort} (UDP and TCP; in a pod the skill's DNS is redirected here)
  health / metrics   ${at.healthUrl}/readyz   ${at.metricsUrl}/metrics
  records            ${at.records}

Point a skill at it (the skill needs no real key; any value works):
  export ANTHROPIC_BASE_URL=${base} ANTHROPIC_API_KEY=any

Try it:
  curl -s ${base}/v1/messages -H 'x-api-key: any' -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \\
    -d '{"model":"claude-sonnet-5-5","max_tokens":64,"messages":[{"role":"user","content":"Hello through skillgate"}]}'

  ${SDK_STEP}
  ANTHROPIC_BASE_URL=${base} ANTHROPIC_API_KEY=any node --input-type=module -e \\
    "import A from '@anthropic-ai/sdk'; const m = await new A().messages.create({model:'claude-sonnet-5-5',max_tokens:64,messages:[{role:'user',content:'hi'}]}); console.log(m.content[0].text)"

Stop with Ctrl-C.
`;
}

/** What the SDK line needs first (the README's "make dev" paragraph names the same step). */
export const SDK_STEP = 'With the Anthropic SDK, from a directory where it is installed (npm i @anthropic-ai/sdk):';

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Whether a URL names this machine (a loopback address or localhost). */
export function onThisMachine(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
