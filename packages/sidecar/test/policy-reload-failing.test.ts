// skillgate_sidecar_policy_reload_failing (and the SkillgatePolicyReloadFailing alert on it) says
// "the latest version of a sidecar's policies has not loaded": in cluster mode as in local mode, for
// a SkillPolicy whose new version does not compile (from a list or a watch event) as for a source
// that cannot be read, and only until every policy's latest version loads or the failing one goes.
// Cluster mode runs the real KubeClient against a loopback stand-in for the kube-apiserver's
// SkillPolicy list and watch (a mock: no API server runs in unit tests; the e2e approvals test runs
// a real one). Local mode runs the file feed on a real file.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SkillPolicy } from '@skillgate/api';
import { createLogger } from '../src/index.js';
import { Registry } from '../src/prom.js';
import { KubeClient } from '../src/cluster/kube-client.js';
import { clusterPolicyFeed, filePolicyFeed, type PolicyFeed, type PolicyState } from '../src/cluster/policy-feed.js';

const log = createLogger('silent');
const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'triage-0', skill: 'triage', owner: 'carol@example.com' };

function skillPolicy(name: string, generation: number, spec: SkillPolicy['spec']): SkillPolicy {
  return { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name, namespace: 'team-a', generation }, spec };
}
/** A version that does not compile: a keyword of nothing but a zero-width space. */
const unloadable = (name: string, generation: number) => skillPolicy(name, generation, { maxTokens: 10, approval: { rules: [{ name: 'r', when: { keywords: ['\u200b'] } }] } });

async function gauge(registry: Registry, name: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
const reloadFailing = (registry: Registry) => gauge(registry, 'skillgate_sidecar_policy_reload_failing');

/** The next state the feed publishes, failing after a timeout. */
function nextState(feed: PolicyFeed, ms = 5000): Promise<PolicyState> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error('the policy feed published no new state')); }, ms);
    const off = feed.onChange((s) => { clearTimeout(t); off(); resolve(s); });
  });
}

/** The SkillPolicies of namespace team-a, listed and watched. */
interface ApiServer {
  url: URL;
  /** What the next list answers. */
  items: SkillPolicy[];
  /** The next list answers 500 while set. */
  failLists: boolean;
  /** One watch event to the open watch. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: SkillPolicy): void;
  /** End the watch normally (once the feed has one open): the feed lists again. */
  endWatch(): Promise<void>;
  close(): Promise<void>;
}

async function startApiServer(): Promise<ApiServer> {
  let watch: http.ServerResponse | undefined;
  let watchOpened: (() => void) | undefined;
  let resourceVersion = 1;
  const api = {
    items: [] as SkillPolicy[],
    failLists: false,
  } as ApiServer;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/apis/skillgate.dev/v1alpha1/namespaces/team-a/skillpolicies') {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watch = res;
      watchOpened?.();
      return;
    }
    if (api.failLists) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 500, message: 'etcdserver: request timed out' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: api.items, metadata: { resourceVersion: String(resourceVersion++) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(api, {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: SkillPolicy) { watch!.write(`${JSON.stringify({ type, object: obj })}\n`); },
    async endWatch() {
      if (!watch) await new Promise<void>((resolve) => { watchOpened = resolve; });
      watchOpened = undefined;
      watch!.end();
      watch = undefined;
    },
    async close() {
      watch?.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

describe('in cluster mode, skillgate_sidecar_policy_reload_failing', () => {
  let api: ApiServer;
  let kube: KubeClient;
  let registry: Registry;
  let feed: PolicyFeed;

  beforeEach(async () => {
    api = await startApiServer();
    kube = new KubeClient({ server: api.url, source: 'test' });
    registry = new Registry();
  });
  afterEach(async () => {
    feed?.close();
    kube.close();
    await api.close();
  });

  const start = async () => { feed = await clusterPolicyFeed({ kube, namespace: 'team-a', identity, log, registry }); };

  test('is 1 while a watched SkillPolicy\'s new version does not load (its last good version in force), and 0 once a version loads', async () => {
    api.items = [skillPolicy('limits', 1, { maxTokens: 100 })];
    await start();
    expect(await reloadFailing(registry)).toBe(0);

    api.event('MODIFIED', unloadable('limits', 2));
    const kept = await nextState(feed);
    expect(kept.refusal).toBeUndefined();
    expect(kept.effective.maxTokens).toEqual({ value: 100, policy: 'team-a/limits' });
    expect(await gauge(registry, 'skillgate_sidecar_policy_load_errors_total{policy="team-a/limits"}')).toBe(1);
    expect(await reloadFailing(registry)).toBe(1);

    api.event('MODIFIED', skillPolicy('limits', 3, { maxTokens: 10 }));
    expect((await nextState(feed)).effective.maxTokens).toEqual({ value: 10, policy: 'team-a/limits' });
    expect(await reloadFailing(registry)).toBe(0);
  });

  test('is 1 while any SkillPolicy\'s latest version does not load, and 0 once the failing one is deleted', async () => {
    api.items = [skillPolicy('limits', 1, { maxTokens: 100 }), skillPolicy('models', 1, { models: { allow: ['claude-*'] } })];
    await start();

    api.event('MODIFIED', unloadable('limits', 2));
    await nextState(feed);
    api.event('MODIFIED', unloadable('models', 2));
    await nextState(feed);
    api.event('MODIFIED', skillPolicy('models', 3, { models: { allow: ['claude-sonnet-*'] } }));
    await nextState(feed);
    expect(await reloadFailing(registry)).toBe(1); // limits still fails

    api.event('DELETED', unloadable('limits', 2));
    expect((await nextState(feed)).effective.policies).toEqual(['team-a/models@3']);
    expect(await reloadFailing(registry)).toBe(0);
  });

  test('is 1 when a list brings a version that does not load, and 0 when a later list loads every one', async () => {
    api.items = [skillPolicy('limits', 1, { maxTokens: 100 })];
    await start();

    api.items = [unloadable('limits', 2)];
    await api.endWatch(); // the feed lists again
    expect((await nextState(feed)).effective.maxTokens).toEqual({ value: 100, policy: 'team-a/limits' });
    expect(await reloadFailing(registry)).toBe(1);

    api.items = [skillPolicy('limits', 3, { maxTokens: 10 })];
    await api.endWatch();
    expect((await nextState(feed)).effective.maxTokens).toEqual({ value: 10, policy: 'team-a/limits' });
    expect(await reloadFailing(registry)).toBe(0);
  });

  test('is 1 while the SkillPolicies cannot be listed (refusing, before any loaded), and 0 once a list loads', async () => {
    api.items = [skillPolicy('limits', 1, { maxTokens: 100 })];
    api.failLists = true;
    await start(); // resolves after the first list fails; the feed retries in a second
    expect(feed.current().refusal?.message).toMatch(/has not loaded the SkillPolicies for this skill yet/);
    expect(await reloadFailing(registry)).toBe(1);

    api.failLists = false;
    const loaded = await nextState(feed);
    expect(loaded.refusal).toBeUndefined();
    expect(await reloadFailing(registry)).toBe(0);
  });
});

describe('in local mode, skillgate_sidecar_policy_reload_failing', () => {
  let dir: string;
  let file: string;
  let registry: Registry;
  let feed: PolicyFeed;
  const yaml = (maxTokens: number, keyword = 'salary') =>
    `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: limits }\nspec:\n  maxTokens: ${maxTokens}\n  approval:\n    rules: [{ name: r, when: { keywords: [${JSON.stringify(keyword)}] } }]\n`;
  /** Write the file as editors and ConfigMap updates do: a whole new file renamed over it. */
  const replace = (text: string) => { writeFileSync(`${file}.new`, text); renameSync(`${file}.new`, file); };
  /** readiness() once it satisfies `ok` (the file watcher reloads on its own schedule), failing after a timeout. */
  async function readinessWhen(ok: (problems: string[]) => boolean, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const problems = feed.readiness!();
      if (ok(problems)) return problems;
      if (Date.now() > deadline) throw new Error(`readiness never reached the expected state; last: ${JSON.stringify(problems)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-reload-failing-'));
    file = join(dir, 'policy.yaml');
    registry = new Registry();
  });
  afterEach(() => {
    feed?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('stays 1 while a file whose SkillPolicy does not compile is briefly unreadable and back unchanged, and is 0 once it loads', async () => {
    writeFileSync(file, yaml(100));
    feed = filePolicyFeed({ file, identity, log, registry });
    expect(await reloadFailing(registry)).toBe(0);

    const broken = yaml(10, '\u200b');
    replace(broken);
    await readinessWhen((p) => p.some((x) => x.includes('SkillPolicy team-a/limits cannot be loaded')));
    expect(await reloadFailing(registry)).toBe(1);
    unlinkSync(file);
    await readinessWhen((p) => p.some((x) => x.includes('ENOENT')));
    expect(await reloadFailing(registry)).toBe(1);
    replace(broken);
    await readinessWhen((p) => p.some((x) => x.includes('SkillPolicy team-a/limits cannot be loaded')));
    expect(await reloadFailing(registry)).toBe(1);
    expect(feed.current().effective.maxTokens).toEqual({ value: 100, policy: 'team-a/limits' });

    replace(yaml(10));
    await readinessWhen((p) => p.length === 0);
    expect(await reloadFailing(registry)).toBe(0);
  });

  test('is 0 again when a file that was briefly unreadable comes back unchanged and loading', async () => {
    writeFileSync(file, yaml(100));
    feed = filePolicyFeed({ file, identity, log, registry });
    unlinkSync(file);
    await readinessWhen((p) => p.some((x) => x.includes('ENOENT')));
    expect(await reloadFailing(registry)).toBe(1);
    replace(yaml(100));
    await readinessWhen((p) => p.length === 0);
    expect(await reloadFailing(registry)).toBe(0);
  });
});
