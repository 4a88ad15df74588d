// The sidecar's configuration: the idle hand-back setting and the masking key from the environment,
// their defaults, a config file's fields, and a clear error at start for a bad value.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configFromEnv, inspectableBatchBytes, readConfigFile, resembling, resolveConfig } from '../src/config.js';

describe('idle hand-back setting', () => {
  it('defaults to 5 minutes and reads SKILLGATE_IDLE_SETTLE_SECONDS (0: never)', () => {
    expect(resolveConfig({}).idleSettleMs).toBe(300_000);
    expect(resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: '5' })).idleSettleMs).toBe(5000);
    expect(resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: '0' })).idleSettleMs).toBe(0);
  });

  it('refuses a value that is not a duration, naming the field', () => {
    expect(() => resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: 'soon' })))
      .toThrow(new ConfigError('idleSettleMs', 'must be 0 (never) or a number of milliseconds (from SKILLGATE_IDLE_SETTLE_SECONDS: seconds), got NaN'));
    expect(() => resolveConfig({ idleSettleMs: -1 })).toThrow(/idleSettleMs: must be 0 \(never\)/);
  });
});

describe('masking key', () => {
  it('refuses a key shorter than 16 bytes at start, naming the setting', () => {
    expect(() => resolveConfig(configFromEnv({ SKILLGATE_MASKING_KEY: 'too-short-key' }))).toThrow(/maskingKey: must be at least 16 bytes \(SKILLGATE_MASKING_KEY/);
    expect(resolveConfig(configFromEnv({ SKILLGATE_MASKING_KEY: 'a-long-enough-installation-key' })).maskingKey).toBe('a-long-enough-installation-key');
  });
});

describe('the batch limit', () => {
  it('is what the heap can inspect: a sixteenth of its limit, at most the API\'s 256 MB', () => {
    const MiB = 1024 * 1024;
    expect(inspectableBatchBytes(355 * MiB)).toBe(22 * MiB); // the chart's default 512Mi
    expect(inspectableBatchBytes(4288 * MiB)).toBe(256 * MiB); // Node's own default on a big machine
    // The default follows the heap of the process it runs in: a sidecar under a 512Mi limit's flags.
    const script = `import { resolveConfig } from ${JSON.stringify(new URL('../src/config.js', import.meta.url).href)}; console.log(resolveConfig({}).limits.batchBodyBytes);`;
    const small = execFileSync(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=307', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(Number(small)).toBe(22 * MiB);
    expect(resolveConfig({ limits: { batchBodyBytes: 5 * MiB } }).limits.batchBodyBytes).toBe(5 * MiB);
  });
});

describe('a sidecar whose heap sets its batch limit', () => {
  it('refuses a larger batch saying why and what to do', () => {
    // A small heap (96 MB: a 6 MB batch limit) in a child process, a batch over it through a real sidecar.
    const script = `
      import http from 'node:http';
      import { resolveConfig, startSidecar } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      const s = await startSidecar(resolveConfig({ upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', logLevel: 'silent',
        listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } }));
      const body = JSON.stringify({ requests: [{ custom_id: 'a', params: { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x'.repeat(7 * 1048576) }] } }] });
      const answer = await new Promise((resolve, reject) => {
        const req = http.request(new URL('/v1/messages/batches', s.claudeUrl), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = ''; res.on('data', (c) => { text += c; }); res.on('end', () => resolve({ status: res.statusCode, message: JSON.parse(text).error.message }));
        });
        req.on('error', reject);
        req.end(body);
      });
      console.log(JSON.stringify(answer));
      await s.close();`;
    const out = execFileSync(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=48', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const answer = JSON.parse(out.trim().split('\n').at(-1)!) as { status: number; message: string };
    expect(answer.status).toBe(413);
    expect(answer.message).toMatch(/^Request body exceeds the 6 MB limit for this endpoint \(skillgate inspects every request of a batch, and this sidecar's memory limit allows batches up to that size: split the batch, or raise the sidecar's memory limit — injection\.sidecarResources in the chart\); send a smaller request\. \[SG_BODY_TOO_LARGE\]$/);
  });
});

describe('a config file', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sg-config-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const read = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return () => readConfigFile(file);
  };

  it('with a misspelt field does not start on the defaults: it names the field and the one it resembles', () => {
    // The review's case: the sidecar would otherwise send the skill to the default upstream, api.anthropic.com.
    const file = join(dir, 'typo.json');
    expect(read('typo.json', '{"upstreamUrll":"http://x"}')).toThrow(new ConfigError('--config', `${file}: unknown field upstreamUrll (did you mean upstreamUrl?)`));
  });

  it('is checked at every level, naming each unknown field with its section', () => {
    expect(read('nested.yaml', 'listen: {helth: 15021}\nidentity: {skill: a, team: b}\nlimits: {headerByte: 1024}\n'))
      .toThrow(/: unknown field listen\.helth \(did you mean listen\.health\?\); unknown field identity\.team; unknown field limits\.headerByte \(did you mean limits\.headerBytes\?\)$/);
    // A section's field written at the top, an environment variable's name, a field's start.
    expect(read('places.yaml', 'health: 15021\nSKILLGATE_POLICY_FILE: p.yaml\nredis: redis://r\n'))
      .toThrow(/unknown field health \(did you mean listen\.health\?\); unknown field SKILLGATE_POLICY_FILE \(did you mean policyFile\?\); unknown field redis \(did you mean redisUrl\?\)$/);
  });

  it('refuses a value of the wrong kind, naming the field and never the value', () => {
    expect(read('kinds.yaml', 'egressAllowHosts: tickets.example.com\nlisten: 15001\nmaskingKey: 1234567890123456789\n'))
      .toThrow(/: egressAllowHosts must be a list of strings, got a string; listen must be a mapping of host, claude, .*, got a number; maskingKey must be a string, got a number$/);
  });

  it('reads every field the sidecar has', () => {
    const all = {
      upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', upstreamApiKeyFile: '/k', policyFile: '/p.yaml', redisUrl: 'redis://r', recordDir: '/r',
      maskingKey: 'a masking key of 16+ bytes', egressAllowHosts: ['a.example.com'], dnsResolver: '10.0.0.1', resolvConfFile: '/etc/resolv.conf',
      refusalsPerSecond: 5, logLevel: 'warn', idleSettleMs: 0,
      listen: { host: '127.0.0.1', claude: 1, egress: 2, dns: 3, adminHost: '127.0.0.1', health: 4, metrics: 5 },
      limits: { messagesBodyBytes: 1, batchBodyBytes: 1, fileBodyBytes: 1, headerBytes: 1, idleTimeoutMs: 1, upstreamHeadersTimeoutMs: 1, recordBodyBytes: 1, egressHeadersTimeoutMs: 1, egressMaxConnections: 1 },
      identity: { namespace: 'n', serviceAccount: 's', pod: 'p', podUid: 'u', skill: 'k', owner: 'o@example.com' },
    };
    expect(read('all.json', JSON.stringify(all))()).toEqual(all);
  });
});

describe('the field a name resembles', () => {
  it('is suggested only when one is close', () => {
    const known = ['upstreamUrl', 'upstreamApiKey', 'upstreamApiKeyFile', 'policyFile', 'listen.health'];
    expect(resembling('upstream_url', known)).toBe('upstreamUrl');
    expect(resembling('upstreamApiKeyFiel', known)).toBe('upstreamApiKeyFile');
    expect(resembling('polciyFile', known)).toBe('policyFile');
    expect(resembling('colour', known)).toBeUndefined();
  });
});
