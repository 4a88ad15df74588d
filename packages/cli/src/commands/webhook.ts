// `skillgate webhook`: the admission webhook's container entrypoint, plus two helpers around it:
// `webhook manifests` prints the Mutating/ValidatingWebhookConfigurations, `webhook dev-cert`
// makes a CA and a serving certificate for running it outside a cluster. The webhook itself is
// @skillgate/webhook; this module only reads flags, files and the environment.
import fs from 'node:fs';
import path from 'node:path';
import {
  WebhookConfigError, createDevCertificates, parseWebhookConfig, parseWebhookConfigText, startWebhookServer,
  webhookConfigurations, webhookConfigurationsYaml, type WebhookEndpoint,
} from '@skillgate/webhook';
import { CliError, printData, type Command } from '../command.js';

type Values = Record<string, string | boolean | string[] | undefined>;
const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${flag} must be a TCP port (0-65535), got "${value}"`, 2);
  return n;
}

export const webhookCommand: Command = {
  name: ['webhook'],
  summary: 'Run the admission webhook (sidecar injection, pod and SkillPolicy validation)',
  usage: 'webhook [--config F] [--cert F --key F] [--port N] [--metrics-port N]',
  help: `Serves /mutate, /validate-pod, /validate-skillpolicy and /validate-skillapproval-status
(AdmissionReview v1) over HTTPS, plus /healthz, /readyz and /metrics. The certificate files are
reloaded when they change (Secret rotation). Outside a cluster: 'skillgate webhook dev-cert' makes a
certificate, 'skillgate webhook manifests' prints the webhook configurations to kubectl apply.

Options (environment in brackets):
  --config F          injection config, YAML or JSON [SKILLGATE_WEBHOOK_CONFIG_FILE]; absent: defaults
  --cert F, --key F   serving certificate and key [SKILLGATE_WEBHOOK_CERT_FILE, SKILLGATE_WEBHOOK_KEY_FILE]
                      (default /etc/skillgate/webhook-tls/tls.crt and tls.key)
  --port N            HTTPS port [SKILLGATE_WEBHOOK_PORT] (default 9443)
  --metrics-port N    also serve /metrics and /healthz over plain HTTP on this port
Log level: SKILLGATE_LOG_LEVEL (default info).`,
  options: {
    config: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    port: { type: 'string' },
    'metrics-port': { type: 'string' },
  },
  async run({ values }) {
    const env = process.env;
    // Ports are checked before any file is read or anything listens: a usage error, exit 2.
    const listenPort = port(str(values, 'port') ?? env.SKILLGATE_WEBHOOK_PORT, str(values, 'port') !== undefined ? '--port' : 'SKILLGATE_WEBHOOK_PORT') ?? 9443;
    const metricsPort = port(str(values, 'metrics-port'), '--metrics-port');
    const configFile = str(values, 'config') ?? env.SKILLGATE_WEBHOOK_CONFIG_FILE;
    let config;
    try {
      config = configFile ? parseWebhookConfigText(fs.readFileSync(configFile, 'utf8')) : parseWebhookConfig(undefined);
    } catch (err) {
      if (err instanceof WebhookConfigError) throw new CliError(`${configFile}: ${err.message}`);
      throw new CliError(`cannot read config ${configFile}: ${(err as Error).message}`);
    }
    const certFile = str(values, 'cert') ?? env.SKILLGATE_WEBHOOK_CERT_FILE ?? '/etc/skillgate/webhook-tls/tls.crt';
    const keyFile = str(values, 'key') ?? env.SKILLGATE_WEBHOOK_KEY_FILE ?? '/etc/skillgate/webhook-tls/tls.key';
    let server;
    try {
      server = await startWebhookServer({
        config, certFile, keyFile, logLevel: env.SKILLGATE_LOG_LEVEL ?? 'info',
        port: listenPort,
        ...(metricsPort !== undefined ? { metricsPort } : {}),
      });
    } catch (err) {
      throw new CliError(`webhook failed to start: ${(err as Error).message}`);
    }
    process.stderr.write(`skillgate webhook listening on ${server.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await server.close();
    return 0;
  },
};

export const webhookManifestsCommand: Command = {
  name: ['webhook', 'manifests'],
  summary: 'Print the Mutating/ValidatingWebhookConfigurations for kubectl apply',
  usage: 'webhook manifests (--url URL | --service NS/NAME[:PORT]) [--ca-file F] [--system-namespace NS] [--output yaml|json]',
  help: `Injection and pod validation select namespaces labelled skillgate.dev/inject=enabled, never
kube-system or the system namespace, and fail closed. Without --ca-file, caBundle is left empty for
cert-manager or the controller to fill.

Example (webhook running locally with a dev certificate):
  skillgate webhook dev-cert --out /tmp/wh
  skillgate webhook manifests --url https://127.0.0.1:9443 --ca-file /tmp/wh/ca.crt | kubectl apply -f -`,
  options: {
    url: { type: 'string' },
    service: { type: 'string' },
    'ca-file': { type: 'string' },
    'system-namespace': { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run({ values }) {
    const url = str(values, 'url');
    const service = str(values, 'service');
    if (!url === !service) throw new CliError('give exactly one of --url or --service', 2);
    let endpoint: WebhookEndpoint;
    if (url) {
      if (!url.startsWith('https://')) throw new CliError('--url must start with https:// (the API server only calls webhooks over TLS)', 2);
      endpoint = { url };
    } else {
      const m = /^([a-z0-9-]+)\/([a-z0-9-]+)(?::(\d+))?$/.exec(service!);
      if (!m) throw new CliError(`--service must look like NAMESPACE/NAME[:PORT], got "${service}"`, 2);
      endpoint = { service: { namespace: m[1]!, name: m[2]!, ...(m[3] ? { port: Number(m[3]) } : {}) } };
    }
    const caFile = str(values, 'ca-file');
    let caPem: string | undefined;
    if (caFile) {
      try { caPem = fs.readFileSync(caFile, 'utf8'); } catch (err) { throw new CliError(`cannot read --ca-file: ${(err as Error).message}`); }
    }
    const opts = { endpoint, systemNamespace: str(values, 'system-namespace') ?? 'skillgate-system', ...(caPem ? { caPem } : {}) };
    const output = str(values, 'output') ?? 'yaml';
    if (output === 'json') printData(values, webhookConfigurations(opts), () => '');
    else if (output === 'yaml') process.stdout.write(webhookConfigurationsYaml(opts));
    else throw new CliError(`--output must be yaml or json, got "${output}"`, 2);
    return 0;
  },
};

export const webhookDevCertCommand: Command = {
  name: ['webhook', 'dev-cert'],
  summary: 'Make a CA and a webhook serving certificate (for running the webhook outside a cluster)',
  usage: 'webhook dev-cert --out DIR [--host H]... [--days N] [--output json]',
  help: `Writes DIR/ca.crt, DIR/tls.crt and DIR/tls.key (ECDSA P-256). Hosts default to 127.0.0.1 and
localhost. Put ca.crt in the webhook configurations' caBundle (see 'skillgate webhook manifests').`,
  options: {
    out: { type: 'string' },
    host: { type: 'string', multiple: true },
    days: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run({ values }) {
    const out = str(values, 'out');
    if (!out) throw new CliError('--out DIR is required', 2);
    const hosts = (values.host as string[] | undefined) ?? ['127.0.0.1', 'localhost'];
    const days = values.days === undefined ? 90 : Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CliError('--days must be an integer from 1 to 3650', 2);
    const { ca, serving } = createDevCertificates(hosts, { days });
    fs.mkdirSync(out, { recursive: true });
    const files = { ca: path.join(out, 'ca.crt'), cert: path.join(out, 'tls.crt'), key: path.join(out, 'tls.key') };
    fs.writeFileSync(files.ca, ca.certPem);
    fs.writeFileSync(files.cert, serving.certPem);
    fs.writeFileSync(files.key, serving.keyPem, { mode: 0o600 });
    printData(values, { ...files, hosts, notAfter: serving.notAfter.toISOString() },
      () => `wrote ${files.ca}, ${files.cert}, ${files.key} for ${hosts.join(', ')} (valid until ${serving.notAfter.toISOString()})`);
    return 0;
  },
};

export const webhookCommands: Command[] = [webhookCommand, webhookManifestsCommand, webhookDevCertCommand];
