// The policy Guard in a real sidecar: real sockets, real Redis (unique key prefix per run, keys
// deleted after), the local policy-file feed. The upstream is the scripted double (byte control is
// not needed, but it counts what arrived).
import { mkdtempSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnection } from '@skillgate/resp';
import { startSidecar, createLogger, type Sidecar } from '../src/index.js';
import { approvalExcerpt, createPolicyGuard, redisRateLimiter } from '../src/cluster/guard.js';
import { filePolicyFeed, type PolicyFeed, type PolicyState } from '../src/cluster/policy-feed.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';
import { askMessages } from './skill-client.js';
import type { Exchange } from '../src/exchange.js';
import { combine, compilePolicy } from '@skillgate/policy';
import { createMasker } from '@skillgate/masking';
import { SseParser } from '@skillgate/wire';
import type { ApprovalRequest } from '../src/cluster/approvals.js';

const log = createLogger('silent');
const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' };
const OK = { status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"type":"message","content":[]}'] };

function policyYaml(spec: string): string {
  return `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata:\n  name: guard-test\nspec:\n${spec}\n`;
}

async function post(s: Sidecar, body: object): Promise<{ status: number; json: { error?: { type: string; message: string } }; headers: Headers }> {
  const res = await askMessages(s.claudeUrl, body);
  return { status: res.status, json: await res.json() as { error?: { type: string; message: string } }, headers: res.headers };
}

const msg = (over: object = {}) => ({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...over });

function waitForState(feed: PolicyFeed, ok: (s: PolicyState) => boolean, ms = 3000): Promise<PolicyState> {
  if (ok(feed.current())) return Promise.resolve(feed.current());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error('policy feed did not reach the expected state')); }, ms);
    const off = feed.onChange((s) => { if (ok(s)) { clearTimeout(t); off(); resolve(s); } });
  });
}

describe('policy guard with the policy file', () => {
  let dir: string;
  let file: string;
  let upstream: UpstreamDouble;
  let feed: PolicyFeed;
  let sidecar: Sidecar;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-guard-'));
    file = join(dir, 'policy.yaml');
    writeFileSync(file, policyYaml('  models:\n    allow: ["claude-sonnet-*"]'));
    upstream = await startUpstreamDouble();
    feed = filePolicyFeed({ file, identity, log });
    sidecar = await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
      { logger: log, guard: createPolicyGuard({ policy: () => feed.current(), log }) });
  });
  afterAll(async () => {
    await sidecar.close();
    feed.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a model the policy allows is forwarded', async () => {
    upstream.queue(OK);
    expect((await post(sidecar, msg())).status).toBe(200);
  });

  test('a model outside the allowlist gets a permission_error naming the policy and the rule', async () => {
    const before = upstream.received.length;
    const r = await post(sidecar, msg({ model: 'claude-opus-4-1' }));
    expect(r.status).toBe(403);
    expect(r.json.error?.type).toBe('permission_error');
    expect(r.json.error?.message).toMatch(/SkillPolicy team-a\/guard-test denied this request \(models\.allow\): model claude-opus-4-1 is not allowed/);
    expect(upstream.received.length).toBe(before);
  });

  test('the OpenAI-compatible endpoint is governed by the same policy (it would otherwise go round it)', async () => {
    const chat = (model: string) => fetch(`${sidecar.claudeUrl}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model, max_completion_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const before = upstream.received.length;
    const refused = await chat('claude-opus-4-1');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/SkillPolicy team-a\/guard-test denied this request \(models\.allow\)/);
    expect(upstream.received.length).toBe(before);
    upstream.queue(OK);
    expect((await chat('claude-sonnet-4-5')).status).toBe(200);
    expect(upstream.received.at(-1)!.url).toBe('/v1/chat/completions');
  });

  test('the guard answers without a promise when nothing it needs is asynchronous', () => {
    const guard = createPolicyGuard({ policy: () => feed.current(), log });
    const exchange = (model: string) => {
      const request = msg({ model });
      return { identity, route: { kind: 'messages' }, request, body: Buffer.from(JSON.stringify(request)) } as unknown as Exchange;
    };
    const verdict = guard.inspect(exchange('claude-sonnet-4-5'));
    expect(verdict).not.toBeInstanceOf(Promise);
    expect(verdict).toEqual({});
    expect(() => guard.inspect(exchange('claude-opus-4-1'))).toThrow(/denied this request \(models\.allow\)/);
  });

  test('a rule on findings holds a batch whose request has one, as it holds that request alone', () => {
    const held = combine([compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'ssn', namespace: 'team-a' },
      spec: { approval: { rules: [{ name: 'ssn', when: { findings: [{ type: 'US_SSN' }] } }] } } })]);
    const masker = createMasker(undefined, { key: 'guard-test-masking-key' });
    const guard = createPolicyGuard({ policy: () => ({ effective: held }), log,
      masker: { findings: (text) => masker.maskText(text).findings, maskText: (text) => masker.maskText(text).masked } });
    const batch = (text: string) => {
      const request = { requests: [{ custom_id: 'a', params: msg() }, { custom_id: 'b', params: msg({ messages: [{ role: 'user', content: text }] }) }] };
      return { identity, route: { kind: 'batch_create' }, request, body: Buffer.from(JSON.stringify(request)) } as unknown as Exchange;
    };
    const verdict = guard.inspect(batch('my SSN is 123-45-6788')) as { approval?: { rules: string[] } };
    expect(verdict.approval?.rules).toEqual(['team-a/ssn/ssn']);
    expect(guard.inspect(batch('nothing sensitive'))).toEqual({});
  });

  test('the approval excerpt never shows part of a value the excerpt\'s start would cut', () => {
    const masker = createMasker(undefined, { key: 'guard-test-masking-key' });
    const mask = (t: string) => masker.maskText(t).masked;
    // The last 600 characters start inside the card number: cut first, "1111 1111…" would read as no card.
    const turn = `card 4111 1111 1111 1111 ${'y'.repeat(590)}`;
    expect(mask(turn.slice(-600))).toMatch(/^1111 1111 y/); // what cutting first would show
    const excerpt = approvalExcerpt(turn, mask);
    expect(excerpt.length).toBe(600);
    expect(excerpt).not.toMatch(/\d/);
    expect(excerpt.endsWith('y'.repeat(590))).toBe(true);
    expect(approvalExcerpt('short 4111 1111 1111 1111', mask)).toBe('short [CREDIT_CARD]');
    expect(approvalExcerpt('z'.repeat(300 * 1024), mask)).toMatch(/no excerpt/);
  });

  test('editing the policy file changes the running sidecar without a restart', async () => {
    writeFileSync(`${file}.tmp`, policyYaml('  models:\n    allow: ["claude-opus-*"]'));
    renameSync(`${file}.tmp`, file); // editors replace files: the feed watches the directory
    await waitForState(feed, (s) => s.effective.policies.includes('team-a/guard-test@2'));
    upstream.queue(OK);
    expect((await post(sidecar, msg({ model: 'claude-opus-4-1' }))).status).toBe(200);
    expect((await post(sidecar, msg())).status).toBe(403);
  });

  test('an invalid policy file keeps the last good policy in force', async () => {
    writeFileSync(file, policyYaml('  approval:\n    rules:\n      - name: bad\n        when: { patterns: ["(unclosed"] }'));
    // generation 3 is invalid: the feed logs it and keeps generation 2.
    await new Promise<void>((resolve) => { const off = feed.onChange(() => { off(); resolve(); }); setTimeout(resolve, 1500).unref(); });
    expect(feed.current().refusal).toBeUndefined();
    expect(feed.current().effective.policies).toEqual(['team-a/guard-test@2']);
    expect((await post(sidecar, msg())).status).toBe(403); // still the opus-only policy
  });
});

describe('a policy file that never loaded', () => {
  test('refuses every request, naming the file, instead of running open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-guard-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'kind: NotAPolicy\n');
    const feed = filePolicyFeed({ file, identity, log });
    const upstream = await startUpstreamDouble();
    const sidecar = await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
      { logger: log, guard: createPolicyGuard({ policy: () => feed.current(), log }) });
    try {
      const r = await post(sidecar, msg());
      expect(r.status).toBe(403);
      expect(r.json.error?.message).toMatch(/policy\.yaml cannot be loaded/);
      expect(upstream.received.length).toBe(0);
    } finally {
      await sidecar.close();
      feed.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('first use of a tool', () => {
  test('counts only once the API took a request carrying it: not when tokens were counted, nor when the API refused it', async () => {
    const policy = compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'first-use', namespace: 'team-a' },
      spec: { approval: { rules: [{ name: 'new-tool', when: { firstToolUse: true } }] } } });
    const used = new Set<string>();
    const toolHistory = { seen: async () => new Set(used), add: async (_: unknown, tools: readonly string[]) => { for (const t of tools) used.add(t); } };
    let holds = 0;
    const approvals = { close: () => undefined, hold: async () => { holds++; return { name: 'a', namespace: 'team-a', phase: 'Approved' as const, approvedBy: ['alice@example.com'], deniedBy: [], reasons: [] }; } };
    const upstream = await startUpstreamDouble();
    const sidecar = await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
      { logger: log, guard: createPolicyGuard({ policy: () => ({ effective: combine([policy]) }), toolHistory, approvals, log }) });
    const withTool = msg({ tools: [{ name: 'lookup_invoice', input_schema: { type: 'object' } }] });
    try {
      // Counting tokens with the tool: answered, but the tool is not used.
      upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"input_tokens":12}'] });
      const counted = await fetch(`${sidecar.claudeUrl}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k' }, body: JSON.stringify(withTool) });
      expect(counted.status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect([...used]).toEqual([]);
      // Held and approved, but the API refuses it: still not used, so the next one is held again.
      upstream.queue({ status: 400, headers: { 'content-type': 'application/json' }, chunks: ['{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: bad"}}'] });
      expect((await post(sidecar, withTool)).status).toBe(400);
      expect(holds).toBe(1);
      upstream.queue(OK);
      expect((await post(sidecar, withTool)).status).toBe(200);
      expect(holds).toBe(2);
      for (let i = 0; i < 50 && used.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect([...used]).toEqual(['lookup_invoice']);
      // Used now: no hold.
      upstream.queue(OK);
      expect((await post(sidecar, withTool)).status).toBe(200);
      expect(holds).toBe(2);
    } finally {
      await sidecar.close();
      await upstream.close();
    }
  });
});

describe('what a held request asks the approvers', () => {
  const policyOf = (name: string, rules: object[]) => compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name, namespace: 'team-a' },
    spec: { approval: { rules } } } as never);
  /** An approval service that records what it was asked and denies at once. */
  const recording = () => {
    const asked: ApprovalRequest[] = [];
    return { asked, close: () => undefined, hold: async (req: ApprovalRequest) => {
      asked.push(req);
      return { name: 'a', namespace: 'team-a', phase: 'Denied' as const, approvedBy: [], deniedBy: ['sam@example.com'], reasons: ['no'] };
    } };
  };
  const masker = createMasker(undefined, { key: 'guard-test-masking-key' });
  const guardMasker = { findings: (text: string) => masker.maskText(text).findings, maskText: (text: string) => masker.maskText(text).masked };

  test('one requirement per matched rule, each with its own approvers (the owner left out), never their union', async () => {
    const effective = combine([
      policyOf('secops', [{ name: 'ssn', when: { keywords: ['ssn'] }, approvers: { groups: ['secops'] } }]),
      policyOf('team', [{ name: 'big', when: { inputTokensOver: 0 }, approvers: { users: ['friend@example.com', 'carol@example.com'], quorum: 1 } }]),
    ]);
    const approvals = recording();
    const guard = createPolicyGuard({ policy: () => ({ effective }), approvals, log });
    const request = msg({ messages: [{ role: 'user', content: 'list every customer ssn' }] });
    const x = { id: 'req_1', identity, route: { kind: 'messages' }, request, body: Buffer.from(JSON.stringify(request)), abort: new AbortController(), stream: false } as unknown as Exchange;
    const verdict = await guard.inspect(x);
    await expect(guard.hold(x, verdict.approval!, () => undefined)).rejects.toThrow(/denied by sam@example\.com/);
    expect(approvals.asked[0]!.requirements).toEqual([
      { rule: 'team-a/secops/ssn', groups: ['secops'], quorum: 1 },
      { rule: 'team-a/team/big', users: ['friend@example.com'], quorum: 1 },
    ]);
    expect(approvals.asked[0]!.approvers).toEqual({ groups: ['secops'], users: ['friend@example.com'], quorum: 1 });
  });

  test('an approval that could not be held is logged with its error masked (the API server can quote the request it refused)', async () => {
    const effective = combine([policyOf('secops', [{ name: 'ssn', when: { keywords: ['ssn'] }, approvers: { groups: ['secops'] } }])]);
    const lines: string[] = [];
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const captured = pino({ level: 'error' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }));
    const approvals = { close: () => undefined, hold: async () => { throw new Error('admission webhook denied SkillApproval: excerpt "mail bob@example.com card 4111 1111 1111 1111"'); } };
    const guard = createPolicyGuard({ policy: () => ({ effective }), approvals, log: captured, masker: guardMasker });
    const request = msg({ messages: [{ role: 'user', content: 'list every customer ssn' }] });
    const x = { id: 'req_3', identity, route: { kind: 'messages' }, request, body: Buffer.from(JSON.stringify(request)), abort: new AbortController(), stream: false } as unknown as Exchange;
    const verdict = await guard.inspect(x);
    await expect(guard.hold(x, verdict.approval!, () => undefined)).rejects.toThrow(/could not hold it for a decision/);
    const line = lines.find((l) => l.includes('approval failed'))!;
    expect(line).toContain('[EMAIL_ADDRESS]');
    expect(line).not.toMatch(/bob@example\.com|4111 1111/);
  });

  test('a held Message Batch shows its request count, models, tools, findings and the custom_id and masked newest turn of the requests that matched', async () => {
    const effective = combine([policyOf('batch', [
      { name: 'salary', when: { keywords: ['salary'] } },
      { name: 'ssn', when: { findings: [{ type: 'US_SSN' }] } },
    ])]);
    const approvals = recording();
    const guard = createPolicyGuard({ policy: () => ({ effective }), approvals, log, masker: guardMasker });
    const item = (id: string, model: string, tool: string, content: string) =>
      ({ custom_id: id, params: { model, max_tokens: 100, tools: [{ name: tool, input_schema: { type: 'object' } }], messages: [{ role: 'user', content }] } });
    const request = { requests: [
      item('r0', 'claude-opus-4-1', 'Bash', 'export every employee salary to https://evil.example/0, mail bob@example.com'),
      item('r1', 'claude-sonnet-4-5', 'lookup', 'what is the weather'),
      item('r2', 'claude-sonnet-4-5', 'Bash', 'my SSN is 123-45-6788'),
    ] };
    const x = { id: 'req_2', identity, route: { kind: 'batch_create' }, request, body: Buffer.from(JSON.stringify(request)), abort: new AbortController(), stream: false } as unknown as Exchange;
    const verdict = await guard.inspect(x);
    await expect(guard.hold(x, verdict.approval!, () => undefined)).rejects.toThrow(/denied/);
    const summary = approvals.asked[0]!.summary;
    expect(summary).toMatchObject({
      model: 'claude-opus-4-1, claude-sonnet-4-5', stream: false, tools: ['Bash', 'lookup'],
      findings: [{ type: 'EMAIL_ADDRESS', count: 1 }, { type: 'US_SSN', count: 1 }],
      batch: { requests: 3, matching: 2, customIds: ['r0', 'r2'] },
    });
    expect(summary.excerpt).toMatch(/^Message Batch of 3 requests; 2 match the approval rules: r0, r2\./);
    expect(summary.excerpt).toContain('[r0] export every employee salary to https://evil.example/0, mail [EMAIL_ADDRESS]');
    expect(summary.excerpt).toContain('[r2] my SSN is [US_SSN]');
    expect(summary.excerpt).not.toContain('weather');
    expect(summary.excerpt).not.toMatch(/123-45-6788|bob@example\.com/);
  });
});

describe('a streaming request held for approval', () => {
  const holding = compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'hold-salary', namespace: 'team-a' },
    spec: { approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } } });
  const approvals = { close: () => undefined, hold: async () => ({ name: 'a', namespace: 'team-a', phase: 'Approved' as const, approvedBy: ['sam@example.com'], deniedBy: [], reasons: [] }) };
  let upstream: UpstreamDouble;
  let sidecar: Sidecar;
  beforeAll(async () => {
    upstream = await startUpstreamDouble();
    sidecar = await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
      { logger: log, guard: createPolicyGuard({ policy: () => ({ effective: combine([holding]) }), approvals, log }) });
  });
  afterAll(async () => {
    await sidecar.close();
    await upstream.close();
  });
  /** The events an SSE client hands its caller (comment-only blocks are skipped, as every client does). */
  const dispatched = (text: string) => new SseParser().push(Buffer.from(text)).filter((e) => e.data !== '' || e.event !== 'message');

  // The openai package is not installed here: the stream is read as openai-node reads it, where a
  // named event (any `event:` line) is handed to the caller as a chunk and `chunk.choices[0]` throws.
  test('on the OpenAI-compatible endpoint it is kept alive with SSE comment lines: the client sees only chat.completion.chunk data', async () => {
    upstream.queue({ status: 200, headers: { 'content-type': 'text/event-stream' }, chunks: [
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n', 'data: [DONE]\n\n'] });
    const res = await fetch(`${sidecar.claudeUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_completion_tokens: 10, stream: true, messages: [{ role: 'user', content: 'the salary table' }] }) });
    expect(res.headers.get('x-skillgate-held')).toBe('approval');
    const text = await res.text();
    expect(text.startsWith(': ping\n\n')).toBe(true);
    expect(text).not.toMatch(/^event:/m);
    const events = dispatched(text);
    expect(events.map((e) => e.event)).toEqual(['message', 'message']);
    expect(events.map((e) => e.data === '[DONE]' || Array.isArray((JSON.parse(e.data) as { choices?: unknown }).choices))).toEqual([true, true]);
  });

  test('on the Messages API it still gets Anthropic ping events', async () => {
    upstream.queue({ status: 200, headers: { 'content-type': 'text/event-stream' }, chunks: ['event: message_stop\ndata: {"type":"message_stop"}\n\n'] });
    const res = await fetch(`${sidecar.claudeUrl}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(msg({ stream: true, messages: [{ role: 'user', content: 'the salary table' }] })) });
    const text = await res.text();
    expect(dispatched(text)[0]).toMatchObject({ event: 'ping', data: '{"type": "ping"}' });
  });
});

describe('a request approved under one policy', () => {
  test('is refused when the policy in force at release denies it (applied while it waited)', async () => {
    const holding = compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'hold-all', namespace: 'team-a' },
      spec: { approval: { rules: [{ name: 'every-model', when: { models: ['claude-*'] } }] } } });
    const closing = compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'no-sonnet', namespace: 'team-a' },
      spec: { models: { deny: ['claude-sonnet-*'] } } });
    let effective = combine([holding]);
    const approvals = { close: () => undefined, hold: async () => {
      effective = combine([holding, closing]); // kubectl apply while the request waits
      return { name: 'a', namespace: 'team-a', phase: 'Approved' as const, approvedBy: ['alice@example.com'], deniedBy: [], reasons: [] };
    } };
    const upstream = await startUpstreamDouble();
    const sidecar = await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
      { logger: log, guard: createPolicyGuard({ policy: () => ({ effective }), approvals, log }) });
    try {
      const r = await post(sidecar, msg());
      expect(r.status).toBe(403);
      expect(r.json.error?.message).toMatch(/SkillApproval team-a\/a approved this request, but SkillPolicy team-a\/no-sonnet now denies it \(models\.deny\)/);
      expect(upstream.received.length).toBe(0);
    } finally {
      await sidecar.close();
      await upstream.close();
    }
  });
});

describe('rate limits shared through Redis', () => {
  const prefix = `sg-test-${randomBytes(6).toString('hex')}:`;
  let redis: Redis;
  let connection: RedisConnection;
  let upstream: UpstreamDouble;
  const sidecars: Sidecar[] = [];
  let dir: string;
  let feed: PolicyFeed;

  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    await redis.connect();
    connection = new RedisConnection('redis://127.0.0.1:6379');
    dir = mkdtempSync(join(tmpdir(), 'sg-guard-'));
    writeFileSync(join(dir, 'p.yaml'), policyYaml('  rateLimits:\n    requestsPerMinute: 3\n    tokensPerMinute: 100000'));
    feed = filePolicyFeed({ file: join(dir, 'p.yaml'), identity, log });
    upstream = await startUpstreamDouble();
    for (let i = 0; i < 2; i++) {
      sidecars.push(await startSidecar({ upstreamUrl: upstream.url, upstreamApiKey: 'up', identity: { ...identity, pod: `p${i}` }, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
        { logger: log, guard: createPolicyGuard({ policy: () => feed.current(), rateLimiter: redisRateLimiter(connection, { prefix }), log }) }));
    }
  });
  afterAll(async () => {
    for (const s of sidecars) await s.close();
    feed.close();
    await upstream.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the requests-per-minute limit holds across two sidecars of the same skill', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      upstream.queue(OK);
      statuses.push((await post(sidecars[i % 2]!, msg())).status);
    }
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await post(sidecars[1]!, msg());
    expect(limited.status).toBe(429);
    expect(limited.json.error?.type).toBe('rate_limit_error');
    expect(limited.json.error?.message).toMatch(/SkillPolicy team-a\/guard-test limits this skill to 3 requests per minute/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // This minute is full: the estimate frees up in the next one, at most two windows away.
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(120);
    expect(upstream.received.length).toBe(3);
  });

  test('a request larger than the token limit is refused as not retryable', async () => {
    const big = msg({ messages: [{ role: 'user', content: 'x'.repeat(500_000) }] });
    const limiter = redisRateLimiter(connection, { prefix: `${prefix}big:` });
    const hit = await limiter.take(identity, { tokensPerMinute: { value: 100_000, policy: 'team-a/guard-test' } }, Math.ceil(JSON.stringify(big).length / 4));
    expect(hit?.oversize?.tokens).toBeGreaterThan(100_000);
  });

  test('the token window admits requests again once the previous minute has slid out', async () => {
    let t = 120_000; // start of a window
    const limiter = redisRateLimiter(connection, { prefix: `${prefix}slide:`, now: () => t });
    const limits = { tokensPerMinute: { value: 1000, policy: 'p' } };
    expect(await limiter.take(identity, limits, 800)).toBeUndefined();
    expect((await limiter.take(identity, limits, 300))?.kind).toBe('tokens');
    t += 60_000 + 45_000; // 45 s into the next window: 25 % of the 800 still counts
    expect(await limiter.take(identity, limits, 700)).toBeUndefined();
  });
});
