// The policy file of a local sidecar (`skillgate sidecar` with policyFile, `skillgate dev --policy`)
// through the container wiring: one that cannot be used at start stops the start with a ConfigError
// (the CLI's exit 2) instead of a sidecar that reports ready and refuses every request; a later
// version that does not load keeps the policies in force and says so in /readyz and a metric until
// one loads. Real sockets; the upstream is the scripted double.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, startSidecar, type Sidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';
import type { UpstreamDouble } from './upstream-double.js';
import { OK_ANSWER, localConfig, startLocalSidecar, type LocalSidecar } from './local-sidecar.js';
import { askMessages } from './skill-client.js';

const sonnetOnly = 'apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: sonnet-only }\nspec:\n  models:\n    allow: ["claude-sonnet-*"]\n';

/** Write the policy file the way editors and ConfigMap updates do: a whole new file renamed over it. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

async function readyz(s: Sidecar): Promise<{ status: number; body: { ready: boolean; problems: string[] } }> {
  const res = await fetch(`${s.healthUrl}/readyz`);
  return { status: res.status, body: await res.json() as { ready: boolean; problems: string[] } };
}

/** /readyz once it satisfies `ok` (the file watcher reloads on its own schedule), failing after a timeout. */
async function readyzWhen(s: Sidecar, ok: (r: Awaited<ReturnType<typeof readyz>>) => boolean, ms = 5000): Promise<Awaited<ReturnType<typeof readyz>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readyz(s);
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`/readyz never reached the expected state; last: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function reloadFailing(s: Sidecar): Promise<number> {
  const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
  return Number(/^skillgate_sidecar_policy_reload_failing (\S+)$/m.exec(text)?.[1]);
}

async function post(s: Sidecar, model: string): Promise<{ status: number; message?: string }> {
  const res = await askMessages(s.claudeUrl, { model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  const body = await res.json() as { error?: { message: string } };
  return { status: res.status, ...(body.error ? { message: body.error.message } : {}) };
}

describe('a policy file that cannot be used at start', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sg-policy-start-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const startFails = async (file: string) => {
    const err = await sidecarPorts(localConfig(dir, file), {}).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  };

  it('is a configuration error naming the path and the reason, when it is missing', async () => {
    const missing = join(dir, 'nonexistent.yaml');
    expect(await startFails(missing)).toBe(`invalid sidecar config: policyFile: cannot read ${missing} (ENOENT: no such file or directory)`);
  });

  it('is a configuration error when it is not YAML or JSON, or holds something other than SkillPolicies', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'spec: [\n');
    expect(await startFails(join(dir, 'broken.yaml'))).toMatch(/^invalid sidecar config: policyFile: .*broken\.yaml is not a SkillPolicy file: \S/);
    writeFileSync(join(dir, 'configmap.yaml'), 'kind: ConfigMap\nmetadata: { name: x }\n');
    expect(await startFails(join(dir, 'configmap.yaml'))).toMatch(/configmap\.yaml is not a SkillPolicy file: expected kind SkillPolicy, got ConfigMap$/);
  });

  it('is a configuration error when it parses but holds no SkillPolicy (which would let every request through)', async () => {
    for (const [name, text] of [['empty.yaml', ''], ['comments.yaml', '# nothing yet\n'], ['list.json', '{"kind":"List","items":[]}']] as const) {
      writeFileSync(join(dir, name), text);
      expect(await startFails(join(dir, name))).toBe(`invalid sidecar config: policyFile: ${join(dir, name)} holds no SkillPolicy (to run without a policy, set no policy file)`);
    }
  });

  it('leaves nothing running that would keep the process from exiting with the error (a Redis connection)', () => {
    const script = `
      import { resolveConfig } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      import { sidecarPorts } from ${JSON.stringify(new URL('../src/wiring.js', import.meta.url).href)};
      const config = resolveConfig({ upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', logLevel: 'silent', recordDir: ${JSON.stringify(join(dir, 'records'))},
        policyFile: ${JSON.stringify(join(dir, 'nonexistent.yaml'))}, redisUrl: 'redis://127.0.0.1:6379' });
      await sidecarPorts(config, { SKILLGATE_REDIS_PREFIX: 'sg-test-policy-start:' }).catch((err) => console.log(err.name));`;
    // Exits by itself, or the timeout kills it and execFileSync throws.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(out.trim()).toBe('ConfigError');
  });
});

describe('a policy file that stops loading after start', () => {
  let local: LocalSidecar;
  let file: string;
  let upstream: UpstreamDouble;
  let sidecar: Sidecar;

  beforeAll(async () => {
    local = await startLocalSidecar(sonnetOnly);
    ({ file, upstream, sidecar } = local);
  });
  afterAll(() => local.close());

  it('keeps the policies in force and says so in /readyz and a metric until a version loads', async () => {
    expect(await readyz(sidecar)).toEqual({ status: 200, body: { ready: true, problems: [] } });
    expect(await reloadFailing(sidecar)).toBe(0);

    // A broken version: the last good policy stays in force, and the sidecar says why.
    replace(file, 'kind: SkillPolicy\nspec: [\n');
    const broken = await readyzWhen(sidecar, (r) => r.status === 503);
    expect(broken.body).toEqual({ ready: false, problems: [expect.stringMatching(/^policy file: .*policy\.yaml is not a SkillPolicy file: .+; the policies loaded before stay in force until it loads$/)] });
    expect(await reloadFailing(sidecar)).toBe(1);
    expect(await post(sidecar, 'claude-opus-4-1')).toEqual({ status: 403, message: expect.stringMatching(/SkillPolicy local\/sonnet-only denied this request \(models\.allow\)/) });
    upstream.queue(OK_ANSWER);
    expect((await post(sidecar, 'claude-sonnet-4-5')).status).toBe(200);

    // Gone: the same.
    unlinkSync(file);
    const gone = await readyzWhen(sidecar, (r) => r.body.problems.some((p) => p.includes('ENOENT')));
    expect(gone.body.problems).toEqual([`policy file: cannot read ${file} (ENOENT: no such file or directory); the policies loaded before stay in force until it loads`]);
    expect((await post(sidecar, 'claude-opus-4-1')).status).toBe(403);

    // A version that loads: ready again.
    replace(file, sonnetOnly.replace('claude-sonnet-*', 'claude-*'));
    expect(await readyzWhen(sidecar, (r) => r.status === 200)).toEqual({ status: 200, body: { ready: true, problems: [] } });
    expect(await reloadFailing(sidecar)).toBe(0);
    upstream.queue(OK_ANSWER);
    expect((await post(sidecar, 'claude-opus-4-1')).status).toBe(200);
  });
});

describe('a policy file whose SkillPolicy does not compile at start', () => {
  it('starts refusing every request, and /readyz says which policy and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-policy-start-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: anchored }\nspec:\n  masking:\n    custom:\n      - { name: EMPLOYEE_ID, pattern: '^EMP-[0-9]+$' }\n`);
    const config = localConfig(dir, file);
    const sidecar = await startSidecar(config, await sidecarPorts(config, {}));
    try {
      const r = await readyz(sidecar);
      expect(r.status).toBe(503);
      expect(r.body.problems).toEqual([expect.stringMatching(/^policy file: .*policy\.yaml: SkillPolicy local\/anchored cannot be loaded \(spec\.masking\.custom\[0\]\.pattern: .*\); refusing every request until it loads$/)]);
      expect((await post(sidecar, 'claude-sonnet-4-5')).status).toBe(403);
    } finally {
      await sidecar.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
