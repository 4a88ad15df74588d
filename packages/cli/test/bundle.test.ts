// The shipped CLI bundle (packages/cli/bundle.mjs, written by `make build`): it runs, and
// `skillgate sidecar` from it serves the Claude API in full (policy, masking, Redis recording) while
// loading no file but the bundle's own — the property that keeps a sidecar's memory down (a module
// read from node_modules at run time brings back the path resolution the bundle avoids) —, no
// ioredis (its Redis client is @skillgate/resp), and, on a plain-TCP Redis and a plain-HTTP
// upstream, not node:tls either; on a rediss:// Redis it records over TLS. Real sockets, real Redis
// (keys under a unique prefix, deleted after; over TLS through a TLS-terminating proxy in front of
// it), fake Claude upstream.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startFakeClaude, type FakeClaude } from '@skillgate/fake-claude';
import { createDevCertificates } from '@skillgate/webhook/dev-cert';
import { sidecarNodeOptions } from '@skillgate/webhook/inject';

const BUNDLE = fileURLToPath(new URL('../../bundle/', import.meta.url));
const MAIN = join(BUNDLE, 'skillgate.mjs');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`no CLI bundle at ${MAIN}: run \`make build\` (tsc, then packages/cli/bundle.mjs)`);
});

type BundleOutputs = Record<string, { entryPoint?: string; imports: Array<{ path: string }>; inputs: Record<string, unknown> }>;
const bundleOutputs = (): BundleOutputs => (JSON.parse(readFileSync(join(BUNDLE, 'meta.json'), 'utf8')) as { outputs: BundleOutputs }).outputs;

describe('the CLI bundle', () => {
  it('runs the CLI: overview and a command help', () => {
    const overview = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    expect(overview.status).toBe(0);
    expect(overview.stdout).toMatch(/Usage: skillgate <command>/);
    expect(overview.stdout).toMatch(/sidecar/);
    const help = spawnSync(process.execPath, [MAIN, 'sidecar', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/SKILLGATE_UPSTREAM_API_KEY_FILE/);
  });

  it('packs the sidecar with its dependencies, without the phone formatter it does not use, and without ioredis', () => {
    const outputs = bundleOutputs();
    // The phone metadata is data beside the chunk that reads it, not a JavaScript literal in it.
    const readers = Object.entries(outputs).filter(([, o]) => Object.keys(o.inputs).some((i) => i.startsWith('phone-metadata:')));
    expect(readers).toHaveLength(1);
    const root = join(BUNDLE, '../../..'); // the metafile's paths are relative to the repository
    expect(existsSync(join(root, dirname(readers[0]![0]), 'phone-metadata.max.json'))).toBe(true);
    expect(Object.values(outputs).flatMap((o) => Object.keys(o.inputs)).some((i) => /metadata\.max\.json/.test(i))).toBe(false);
    const byPath = new Map(Object.entries(outputs).map(([p, o]) => [p, o]));
    // Every input reachable from the wiring entry (static and dynamic imports).
    const seen = new Set<string>();
    const inputs = new Set<string>();
    const visit = (p: string): void => {
      if (seen.has(p) || !byPath.has(p)) return;
      seen.add(p);
      const o = byPath.get(p)!;
      for (const i of Object.keys(o.inputs)) inputs.add(i);
      for (const imp of o.imports) visit(imp.path);
    };
    const wiring = Object.keys(outputs).find((p) => p.endsWith('bundle/sidecar-wiring.mjs'))!;
    expect(wiring).toBeDefined();
    visit(wiring);
    const has = (re: RegExp) => [...inputs].some((i) => re.test(i));
    expect(has(/packages\/resp\//)).toBe(true);
    // The sidecar's Redis client is @skillgate/resp, on every path (the lock feed's too): ioredis
    // (~1.5 MB resident with its clients) is the controller's and the recorder's.
    expect(has(/node_modules\/ioredis\//)).toBe(false);
    expect(has(/packages\/identity\/dist\/src\/lock-feed-subscriber\.js/)).toBe(true);
    expect(has(/node_modules\/pino\//)).toBe(true);
    expect(has(/node_modules\/prom-client\/lib\/histogram\.js$/)).toBe(true);
    expect(has(/node_modules\/libphonenumber-js\/.*parsePhoneNumber/)).toBe(true);
    expect(has(/node_modules\/libphonenumber-js\/.*AsYouType/)).toBe(false);
    expect(has(/node_modules\/prom-client\/lib\/pushgateway/)).toBe(false);
    expect(has(/node_modules\/re2js\//)).toBe(false); // loaded on first use, for custom masking patterns
  });

  describe('`skillgate sidecar` from the bundle', () => {
    let fake: FakeClaude;
    let dir: string;
    const children: ChildProcess[] = [];
    const prefix = `sgbundle${randomBytes(4).toString('hex')}:`;

    beforeAll(async () => {
      fake = await startFakeClaude({ apiKeys: ['upstream-key'] });
      dir = mkdtempSync(join(tmpdir(), 'sg-bundle-'));
      writeFileSync(join(dir, 'key'), 'upstream-key\n');
      writeFileSync(join(dir, 'policy.json'), JSON.stringify({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'bundle' }, spec: { models: { allow: ['claude-*'] }, masking: { mode: 'record' } } }));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ upstreamUrl: fake.url, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } }));
      // A module hook in the child notes every file it loads (module.registerHooks: Node 22.15+),
      // and at exit whether Node's TLS module was ever loaded and how many path operations ran
      // (path.resolve and kin, Node's own module resolution included).
      writeFileSync(join(dir, 'hook.mjs'), [
        "import { registerHooks } from 'node:module';",
        "import { appendFileSync, writeFileSync } from 'node:fs';",
        "import path from 'node:path';",
        "let pathOps = 0;",
        "for (const name of ['resolve', 'normalize', 'join', 'relative']) { const f = path[name]; path[name] = function (...args) { pathOps++; return f.apply(this, args); }; }",
        'registerHooks({ load(url, context, next) { if (!url.startsWith("node:")) appendFileSync(process.env.SG_LOADED_FILE, url + "\\n"); return next(url, context); } });',
        "process.on('exit', () => { writeFileSync(process.env.SG_LOADED_FILE + '.tls', String(process.moduleLoadList.includes('NativeModule tls'))); writeFileSync(process.env.SG_LOADED_FILE + '.paths', String(pathOps)); });",
      ].join('\n'));
    });
    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    });

    /** Start `skillgate sidecar` from the bundle as skill `skill`, recording to `redisUrl`. */
    async function startSidecar(skill: string, redisUrl: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; claudeUrl: string; loadedFile: string; output: () => string }> {
      const loadedFile = join(dir, `loaded-${skill}.txt`);
      writeFileSync(loadedFile, '');
      const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'hook.mjs')).href, MAIN, 'sidecar', '--config', join(dir, 'config.json')], {
        env: {
          PATH: process.env.PATH ?? '', SG_LOADED_FILE: loadedFile, REDIS_URL: redisUrl, SKILLGATE_REDIS_PREFIX: prefix,
          SKILLGATE_UPSTREAM_API_KEY_FILE: join(dir, 'key'), SKILLGATE_POLICY_FILE: join(dir, 'policy.json'),
          SKILLGATE_SKILL: skill, SKILLGATE_POD_NAMESPACE: 'team-b', SKILLGATE_POD_NAME: `${skill}-pod`, SKILLGATE_MASKING_KEY: 'bundle-test-installation-key',
          // The node options the injector gives a sidecar container.
          NODE_OPTIONS: sidecarNodeOptions(undefined, '1'),
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      let err = '';
      const claudeUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sidecar from the bundle did not start: ${out}${err}`)), 15_000);
        child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.includes('sidecar listening'));
          if (line) { clearTimeout(timer); resolve((JSON.parse(line) as { claude: string }).claude); }
        });
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sidecar exited (${code}): ${out}${err}`)); });
      });
      return { child, claudeUrl, loadedFile, output: () => out + err };
    }

    const ask = (claudeUrl: string, model: string, content: string) => fetch(`${claudeUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'anything' },
      body: JSON.stringify({ model, max_tokens: 32, messages: [{ role: 'user', content }] }),
    });

    /** The record's stream entries of `skill` in Redis, once they hold a masked email (≤ 5 s). */
    async function recorded(skill: string): Promise<string> {
      const redis = new Redis(REDIS_URL);
      try {
        let stored = '';
        for (let i = 0; i < 50; i++) {
          const entries = await redis.xrange(`${prefix}ns:team-b`, '-', '+').catch(() => []);
          stored = JSON.stringify(entries.filter(([, fields]) => fields.join(' ').includes(`"skill":"${skill}"`)));
          if (stored.includes('EMAIL')) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        return stored;
      } finally {
        await redis.quit();
      }
    }

    /** Stop the sidecar gracefully; whether it loaded node:tls (the hook writes it at exit). */
    async function stopAndSayTls(child: ChildProcess, loadedFile: string): Promise<boolean> {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return readFileSync(`${loadedFile}.tls`, 'utf8') === 'true';
    }

    it('serves a request in full (policy, masking, Redis recording), loading nothing from node_modules and no TLS', async () => {
      const { child, claudeUrl, loadedFile } = await startSidecar('bundle-skill', REDIS_URL);
      const res = await ask(claudeUrl, 'claude-sonnet-4-5', 'Mail me at jane.doe@example.com or call +49 30 901820');
      const answer = (await res.json()) as { type: string; error?: { message: string } };
      expect({ status: res.status, type: answer.type, error: answer.error?.message }).toEqual({ status: 200, type: 'message', error: undefined });
      const denied = await ask(claudeUrl, 'gpt-4o', 'hi');
      expect(denied.status).toBe(403);
      // The upstream saw the sidecar's credential, and the record landed in Redis, masked.
      expect(fake.requests.at(-1)!.headers['x-api-key']).toBe('upstream-key');
      const stored = await recorded('bundle-skill');
      expect(stored).toMatch(/EMAIL/);
      expect(stored).not.toMatch(/jane\.doe@example\.com/);
      // The phone number parser's metadata is read from its JSON file beside the chunk (bundle.mjs).
      expect(stored).toMatch(/PHONE_NUMBER/);
      expect(stored).not.toMatch(/901820/);

      const loaded = readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean).map((u) => fileURLToPath(u));
      const outside = loaded.filter((f) => !f.startsWith(BUNDLE) && !f.endsWith('hook.mjs'));
      expect(outside).toEqual([]);
      expect(loaded.some((f) => f.endsWith('sidecar-wiring.mjs') || f.includes('/chunks/'))).toBe(true);
      // Not the chunk that holds ioredis (the CLI's recorder and the controller load it).
      const ioredisChunks = Object.entries(bundleOutputs()).filter(([, o]) => Object.keys(o.inputs).some((i) => /node_modules\/ioredis\//.test(i))).map(([p]) => p.split('/').pop()!);
      expect(ioredisChunks.length).toBeGreaterThan(0);
      expect(loaded.filter((f) => ioredisChunks.some((c) => f.endsWith(`/${c}`)))).toEqual([]);
      // Plain-TCP Redis, plain-HTTP upstream: TLS is never loaded (~2.5 MB resident).
      expect(await stopAndSayTls(child, loadedFile)).toBe(false);
      // Few path operations from start to exit (~10): the ~250 of a bundle that creates a require()
      // in every chunk and a Node that takes every module's real path made Node's path code hot
      // enough for TurboFan at start-up, and its code pages stayed resident (~5.5 MB; inject.ts).
      expect(Number(readFileSync(`${loadedFile}.paths`, 'utf8'))).toBeLessThan(50);
    }, 30_000);

    it('starts with its Redis away, says so, and refuses what it cannot record', async () => {
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const { child, claudeUrl, output } = await startSidecar('bundle-away-skill', `redis://127.0.0.1:${port}`, { SKILLGATE_RECORD_SPOOL_BYTES: '0' });
      const res = await ask(claudeUrl, 'claude-sonnet-4-5', 'hi');
      expect(res.status).toBe(503);
      await res.text();
      for (let i = 0; i < 50 && !output().includes('not reachable yet'); i++) await new Promise((r) => setTimeout(r, 50));
      const warning = output().split('\n').find((l) => l.includes('redis (policy state) not reachable yet'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 40, redis: `redis://127.0.0.1:${port}`, err: expect.stringMatching(/ECONNREFUSED/) });
      child.kill('SIGTERM');
    }, 30_000);

    it('records over TLS to a rediss:// Redis', async () => {
      // A TLS-terminating proxy in front of the real Redis, with a certificate for 127.0.0.1 from a
      // CA the sidecar is told to trust (NODE_EXTRA_CA_CERTS); it counts completed handshakes.
      const certs = createDevCertificates(['127.0.0.1']);
      writeFileSync(join(dir, 'ca.pem'), certs.ca.certPem);
      const redisAddress = new URL(REDIS_URL);
      let handshakes = 0;
      const proxy = tls.createServer({ cert: certs.serving.certPem, key: certs.serving.keyPem }, (client) => {
        handshakes++;
        const upstream = net.connect(Number(redisAddress.port || 6379), redisAddress.hostname);
        client.pipe(upstream).pipe(client);
        const end = () => { client.destroy(); upstream.destroy(); };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      try {
        const port = (proxy.address() as net.AddressInfo).port;
        const { child, claudeUrl, loadedFile } = await startSidecar('bundle-tls-skill', `rediss://127.0.0.1:${port}`, { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') });
        const res = await ask(claudeUrl, 'claude-sonnet-4-5', 'Mail me at jane.doe@example.com');
        expect(res.status).toBe(200);
        await res.text();
        const stored = await recorded('bundle-tls-skill');
        expect(stored).toMatch(/EMAIL/);
        expect(stored).not.toMatch(/jane\.doe@example\.com/);
        // The record store's connection did, over TLS (the policy state's connects on its first command:
        // this policy has no rate limits).
        expect(handshakes).toBeGreaterThanOrEqual(1);
        expect(await stopAndSayTls(child, loadedFile)).toBe(true);
      } finally {
        proxy.close();
      }
    }, 30_000);
  });
});
