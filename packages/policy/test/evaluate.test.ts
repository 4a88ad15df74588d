import fc from 'fast-check';
import { readAsKeywords } from '@skillgate/policy/keyword-reading';
import { combine, compilePolicy, estimateInputTokens, evaluate, policyProblems, PolicyInvalidError, type Decision, type EvaluationContext } from '@skillgate/policy';
import type { SkillPolicy } from '@skillgate/api';
import type { MessagesRequest } from '@skillgate/wire';
import { policy, request } from './policy-fixtures.js';

const ctx = (over: Partial<EvaluationContext> = {}): EvaluationContext => ({ now: new Date('2026-03-04T10:00:00Z'), findings: [], toolsSeenBefore: new Set(), estimatedTokens: 100, ...over });
const run = (policies: SkillPolicy[], req: MessagesRequest, c: Partial<EvaluationContext> = {}, route: 'messages' | 'count_tokens' | 'batch_create' | 'complete' | 'models' | 'openai_chat' = 'messages'): Decision =>
  evaluate(combine(policies), { route, request: req }, ctx(c));
const kind = (d: Decision): string => (d.kind === 'deny' ? `deny ${d.policy} ${d.rule}` : d.kind === 'approval' ? `approval ${d.rules.join(',')}` : 'allow');

describe('deny rules', () => {
  const webFetch = (domains?: string[]) => ({ type: 'web_fetch_20250910', name: 'web_fetch', ...(domains ? { allowed_domains: domains } : {}) });
  const cases: Array<[string, SkillPolicy[], MessagesRequest, string]> = [
    ['a request with no policy is allowed', [], request(), 'allow'],
    ['a model matching the allowlist glob is allowed', [policy('p', { models: { allow: ['claude-sonnet-*'] } })], request(), 'allow'],
    ['a model outside the allowlist is denied naming the policy', [policy('p', { models: { allow: ['claude-haiku-*'] } })], request(), 'deny team-a/p models.allow'],
    ['every policy that sets a model allowlist must allow the model', [policy('a', { models: { allow: ['claude-*'] } }), policy('b', { models: { allow: ['claude-haiku-*'] } })], request(), 'deny team-a/b models.allow'],
    ['a denied model is refused even if another policy allows it', [policy('a', { models: { allow: ['*'] } }), policy('b', { models: { deny: ['claude-sonnet-4-5'] } })], request(), 'deny team-a/b models.deny'],
    ['max_tokens above the cap is denied', [policy('p', { maxTokens: 512 })], request(), 'deny team-a/p maxTokens'],
    ['max_tokens at the cap is allowed', [policy('p', { maxTokens: 1024 })], request(), 'allow'],
    ['a custom tool outside the allowlist is denied', [policy('p', { tools: { allow: ['lookup_*'] } })], request({ tools: [{ name: 'shell' }] }), 'deny team-a/p tools.allow'],
    ['a custom tool inside the allowlist is allowed', [policy('p', { tools: { allow: ['lookup_*'] } })], request({ tools: [{ name: 'lookup_user' }] }), 'allow'],
    ['a server tool family outside the allowlist is denied', [policy('p', { tools: { serverTools: ['web_search'] } })], request({ tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] }), 'deny team-a/p tools.serverTools'],
    ['the tool deny list also covers server tool families', [policy('p', { tools: { deny: ['bash'] } })], request({ tools: [{ type: 'bash_20250124', name: 'bash' }] }), 'deny team-a/p tools.deny'],
    ['web_fetch without allowed_domains is denied when the policy restricts fetch domains', [policy('p', { tools: { fetchDomains: ['example.com'] } })], request({ tools: [webFetch()] }), 'deny team-a/p tools.fetchDomains'],
    ['web_fetch limited to subdomains of an allowed domain is allowed', [policy('p', { tools: { fetchDomains: ['example.com'] } })], request({ tools: [webFetch(['docs.example.com'])] }), 'allow'],
    ['web_fetch reaching another domain is denied', [policy('p', { tools: { fetchDomains: ['example.com'] } })], request({ tools: [webFetch(['evil.test'])] }), 'deny team-a/p tools.fetchDomains'],
    ...['evil.com?.example.com', 'evil.com:1.example.com', 'evil.com#.example.com', 'evil.com\\.example.com', 'evil.com@x.example.com', 'evil.com .example.com'].map((d) =>
      [`web_fetch of "${d}", which ends like an allowed domain but is none, is denied`, [policy('p', { tools: { fetchDomains: ['example.com'] } })], request({ tools: [webFetch([d])] }), 'deny team-a/p tools.fetchDomains'] as [string, SkillPolicy[], MessagesRequest, string]),
    ['web_fetch of an allowed domain written with a port, a path or a trailing dot is allowed', [policy('p', { tools: { fetchDomains: ['example.com'] } })], request({ tools: [webFetch(['Docs.Example.com.', 'example.com:443', 'example.com/docs'])] }), 'allow'],
    ['an MCP server outside the URL allowlist is denied', [policy('p', { mcpServers: { allowUrls: ['https://mcp.example.com/*'] } })], request({ mcp_servers: [{ type: 'url', url: 'https://evil.test/sse', name: 'x' }] }), 'deny team-a/p mcpServers.allowUrls'],
    ['an empty MCP allowlist refuses every MCP server', [policy('p', { mcpServers: { allowUrls: [] } })], request({ mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/a', name: 'x' }] }), 'deny team-a/p mcpServers.allowUrls'],
    ['a container skill outside the allowlist is denied', [policy('p', { containerSkills: { allow: ['pptx'] } })], request({ container: { skills: [{ type: 'anthropic', skill_id: 'xlsx' }] } }), 'deny team-a/p containerSkills.allow'],
    ['count_tokens is not held and ignores the max_tokens cap', [policy('p', { maxTokens: 1, approval: { rules: [{ name: 'all', when: { models: ['*'] } }] } })], request(), 'allow'],
  ];
  test.each(cases)('%s', (_name, policies, req, expected) => {
    const route = _name.startsWith('count_tokens') ? 'count_tokens' : 'messages';
    expect(kind(run(policies, req, {}, route))).toBe(expected);
  });

  test('a deny reason tells the skill what to change', () => {
    const d = run([policy('p', { models: { allow: ['claude-haiku-*'] } })], request());
    expect(d.kind === 'deny' && d.reason).toBe('model claude-sonnet-4-5 is not allowed; use one of: claude-haiku-*');
  });

  test('a batch is denied when any of its requests is denied', () => {
    const batch = { requests: [{ custom_id: 'a', params: request() }, { custom_id: 'b', params: request({ model: 'claude-opus-4-1' }) }] } as unknown as MessagesRequest;
    const d = run([policy('p', { models: { allow: ['claude-sonnet-*'] } })], batch, {}, 'batch_create');
    expect(kind(d)).toBe('deny team-a/p models.allow');
    expect(d.kind === 'deny' && d.reason).toMatch(/^batch request b:/);
  });

  describe('a legacy Text Completions request', () => {
    const complete = (prompt: string, over: object = {}) => ({ model: 'claude-2.1', max_tokens_to_sample: 100, prompt, ...over }) as unknown as MessagesRequest;
    const prompt = (last: string) => `\n\nHuman: password reset for everyone\n\nAssistant: ok\n\nHuman: ${last}\n\nAssistant:`;
    const keywordRule = [policy('p', { approval: { rules: [{ name: 'r', when: { keywords: ['salary'] } }] } })];
    test('is held by an approval rule on its newest Human turn', () => {
      expect(kind(run(keywordRule, complete(prompt('send the salary table')), {}, 'complete'))).toBe('approval team-a/p/r');
    });
    test('is not held for an earlier turn', () => {
      expect(kind(run([policy('p', { approval: { rules: [{ name: 'r', when: { keywords: ['password'] } }] } })], complete(prompt('hello')), {}, 'complete'))).toBe('allow');
    });
    test('still meets the deny checks: model and max tokens', () => {
      expect(kind(run([policy('p', { models: { allow: ['claude-sonnet-*'] } })], complete(prompt('hi')), {}, 'complete'))).toBe('deny team-a/p models.allow');
      expect(kind(run([policy('p', { maxTokens: 10 })], complete(prompt('hi')), {}, 'complete'))).toBe('deny team-a/p maxTokens');
    });
  });

  describe('rules on findings, in a batch', () => {
    const ssnRule = [policy('p', { approval: { rules: [{ name: 'r', when: { findings: [{ type: 'US_SSN' }] } }] } })];
    const turn = (text: string) => request({ messages: [{ role: 'user', content: text }] });
    const batch = (...texts: string[]) => ({ requests: texts.map((t, i) => ({ custom_id: `c${i}`, params: turn(t) })) }) as unknown as MessagesRequest;
    const findingsOf = (text: string) => (/\d{3}-\d{2}-\d{4}/.test(text) ? [{ type: 'US_SSN' }] : []);
    test('a request with a finding holds the batch, as it would hold alone', () => {
      expect(kind(run(ssnRule, batch('hello', 'SSN 123-45-6789'), { findingsOf }, 'batch_create'))).toBe('approval team-a/p/r');
    });
    test('a batch without one goes through', () => {
      expect(kind(run(ssnRule, batch('hello', 'nothing here'), { findingsOf }, 'batch_create'))).toBe('allow');
    });
    test('the batch-level findings (none: a batch has no newest turn) do not stand in for its requests\' (fails closed)', () => {
      expect(kind(run(ssnRule, batch('SSN 123-45-6789'), { findings: [] }, 'batch_create'))).toBe('approval team-a/p/r');
    });
  });
});

describe('time windows', () => {
  const business = policy('hours', { schedule: { windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '09:00', end: '17:00', timeZone: 'Europe/Berlin' }] } });
  test.each([
    ['Wednesday 10:00 UTC is 11:00 in Berlin: inside', '2026-03-04T10:00:00Z', 'allow'],
    ['Wednesday 16:30 UTC is 17:30 in Berlin: outside', '2026-03-04T16:30:00Z', 'deny team-a/hours schedule'],
    ['Saturday is outside a weekday window', '2026-03-07T10:00:00Z', 'deny team-a/hours schedule'],
    ['summer time shifts the window: 07:30 UTC in July is 09:30 in Berlin', '2026-07-01T07:30:00Z', 'allow'],
  ])('%s', (_name, at, expected) => {
    expect(kind(run([business], request(), { now: new Date(at) }))).toBe(expected);
  });
  test('a window past midnight covers the early hours of the next day', () => {
    const night = policy('night', { schedule: { windows: [{ days: ['Fri'], start: '22:00', end: '06:00' }] } });
    expect(kind(run([night], request(), { now: new Date('2026-03-07T03:00:00Z') }))).toBe('allow'); // Sat 03:00
    expect(kind(run([night], request(), { now: new Date('2026-03-08T03:00:00Z') }))).toBe('deny team-a/night schedule'); // Sun 03:00
  });
  test('the schedule applies to every route, not only messages', () => {
    expect(kind(run([business], request(), { now: new Date('2026-03-07T10:00:00Z') }, 'models'))).toBe('deny team-a/hours schedule');
  });
});

describe('approval rules', () => {
  const rule = (when: object, extra: object = {}) => [policy('p', { approval: { rules: [{ name: 'r', when, ...extra }] } })];
  const history = (last: string): MessagesRequest => request({
    messages: [
      { role: 'user', content: 'password reset for everyone please' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: last }] }] },
    ],
  });
  const newestBlocks = (blocks: unknown[]): MessagesRequest => request({
    messages: [{ role: 'user', content: 'salary talk was yesterday' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: blocks }],
  } as unknown as Partial<MessagesRequest>);
  const cases: Array<[string, SkillPolicy[], MessagesRequest, Partial<EvaluationContext>, string]> = [
    ['a model rule holds matching models', rule({ models: ['claude-sonnet-*'] }), request(), {}, 'approval team-a/p/r'],
    ['a model rule lets other models through', rule({ models: ['claude-opus-*'] }), request(), {}, 'allow'],
    ['a keyword in the newest tool result holds the request', rule({ keywords: ['salary'] }), history('Employee SALARY table attached'), {}, 'approval team-a/p/r'],
    ['a keyword only in an earlier turn does not hold the request', rule({ keywords: ['password'] }), history('nothing to see'), {}, 'allow'],
    ['keywords match whole words only', rule({ keywords: ['pass'] }), history('the password'), {}, 'allow'],
    ['a keyword that starts another does not hide it', rule({ keywords: ['pass', 'password'] }), history('my password is hunter2'), {}, 'approval team-a/p/r'],
    ['a keyword that starts another does not hide it, in any case', rule({ keywords: ['pass', 'password'] }), history('Password: hunter2'), {}, 'approval team-a/p/r'],
    ['a longer keyword that is not a whole word leaves the shorter one to match', rule({ keywords: ['foo bar', 'foo'] }), history('the foo barn'), {}, 'approval team-a/p/r'],
    ['neither keyword as part of a longer word', rule({ keywords: ['pass', 'password'] }), history('passport and passwords'), {}, 'allow'],
    // Keywords match case-insensitively as Unicode folds case: the long s folds to s, the Kelvin sign to k.
    ['a keyword spelled with a letter that folds to one of its own', rule({ keywords: ['salary'] }), history('the \u017Falary sheet'), {}, 'approval team-a/p/r'],
    ['a keyword of two words with the Kelvin sign for its k', rule({ keywords: ['kill switch'] }), history('flip the \u212Aill switch'), {}, 'approval team-a/p/r'],
    // Text rules read the turn as masking does: full-width forms as ASCII.
    ['a keyword typed full-width', rule({ keywords: ['salary'] }), history('the ｓａｌａｒｙ sheet'), {}, 'approval team-a/p/r'],
    ['a full-width keyword in plain text', rule({ keywords: ['ｓａｌａｒｙ'] }), history('the salary sheet'), {}, 'approval team-a/p/r'],
    ['a pattern over a full-width key', rule({ patterns: ['\\bAKIA[0-9A-Z]{16}\\b'] }), history('key ＡＫＩＡＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰ'), {}, 'approval team-a/p/r'],
    ['a full-width URL of a watched domain', rule({ fetchDomains: ['internal.example'] }), history('see ｈｔｔｐｓ：／／wiki.internal.example/page'), {}, 'approval team-a/p/r'],
    ['a pattern over digits of another script', rule({ patterns: ['\\b\\d{3}-\\d{2}-\\d{4}\\b'] }), history('رقم ١٢٣-٤٥-٦٧٨٨'), {}, 'approval team-a/p/r'],
    ['a keyword in mathematical bold', rule({ keywords: ['salary'] }), history('the \u{1D42C}\u{1D41A}\u{1D425}\u{1D41A}\u{1D42B}\u{1D432} sheet'), {}, 'approval team-a/p/r'],
    // And characters that vanish (zero-width spaces, soft hyphens) as nothing.
    ['a keyword with a zero-width space inside', rule({ keywords: ['salary'] }), history('the sal\u200bary sheet'), {}, 'approval team-a/p/r'],
    ['a keyword with a soft hyphen inside', rule({ keywords: ['payroll export'] }), history('run the pay\u00adroll export'), {}, 'approval team-a/p/r'],
    ['a pattern over a key with zero-width spaces', rule({ patterns: ['\\bAKIA[0-9A-Z]{16}\\b'] }), history('key AKIA\u200bABCDEFGHIJ\u200bKLMNOP'), {}, 'approval team-a/p/r'],
    ['a pattern in the newest turn holds the request', rule({ patterns: ['\\bAKIA[0-9A-Z]{16}\\b'] }), history('key AKIAABCDEFGHIJKLMNOP'), {}, 'approval team-a/p/r'],
    ['a keyword in a search result of the newest tool result', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'search_result', source: 'https://hr.example', title: 'HR', content: [{ type: 'text', text: 'salary bands' }] }] }]), {}, 'approval team-a/p/r'],
    ['a keyword in a document made of content blocks', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'the salary sheet' }] } }]), {}, 'approval team-a/p/r'],
    ['a keyword in a document\'s context', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'figures' }, context: 'from the salary review' }]), {}, 'approval team-a/p/r'],
    ['a keyword in a document\'s title', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'figures' }, title: 'salary review.txt' }]), {}, 'approval team-a/p/r'],
    ['a keyword in a search result\'s title', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'search_result', source: 'https://hr.example', title: 'Salary bands', content: [{ type: 'text', text: 'see title' }] }]), {}, 'approval team-a/p/r'],
    ['a keyword in an MCP tool result', rule({ keywords: ['salary'] }),
      newestBlocks([{ type: 'mcp_tool_result', tool_use_id: 'm1', content: [{ type: 'text', text: 'salary export done' }] }]), {}, 'approval team-a/p/r'],
    ['any SSN finding holds the request', rule({ findings: [{ type: 'US_SSN' }] }), request(), { findings: [{ type: 'US_SSN' }] }, 'approval team-a/p/r'],
    ['fewer emails than the threshold do not hold', rule({ findings: [{ type: 'EMAIL_ADDRESS', min: 3 }] }), request(), { findings: [{ type: 'EMAIL_ADDRESS' }, { type: 'EMAIL_ADDRESS' }] }, 'allow'],
    ['a finding rule holds when findings could not be computed (fails closed)', rule({ findings: [{ type: 'US_SSN' }] }), request(), { findings: undefined }, 'approval team-a/p/r'],
    ['a secret subtype can be named as TYPE:subtype', rule({ findings: [{ type: 'SECRET:aws' }] }), request(), { findings: [{ type: 'SECRET', subtype: 'aws' }] }, 'approval team-a/p/r'],
    ['estimated input tokens over the threshold hold', rule({ inputTokensOver: 50_000 }), request(), { estimatedTokens: 60_000 }, 'approval team-a/p/r'],
    ['the first use of a tool holds the request', rule({ firstToolUse: true }), request({ tools: [{ name: 'lookup' }] }), { toolsSeenBefore: new Set(['other']) }, 'approval team-a/p/r'],
    ['a tool used before does not hold again', rule({ firstToolUse: true }), request({ tools: [{ name: 'lookup' }] }), { toolsSeenBefore: new Set(['lookup']) }, 'allow'],
    ['any MCP server holds when the rule asks for mcpServers', rule({ mcpServers: true }), request({ mcp_servers: [{ type: 'url', url: 'https://m.example/sse', name: 'm' }] }), {}, 'approval team-a/p/r'],
    ['web_fetch of a watched domain holds', rule({ fetchDomains: ['internal.example'] }), request({ tools: [{ type: 'web_fetch_20250910', name: 'web_fetch', allowed_domains: ['wiki.internal.example'] }] }), {}, 'approval team-a/p/r'],
    ['a URL of a watched domain in the newest turn holds', rule({ fetchDomains: ['internal.example'] }), history('see https://wiki.internal.example/page'), {}, 'approval team-a/p/r'],
    ['server tools requested hold', rule({ serverTools: ['code_execution'] }), request({ tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] }), {}, 'approval team-a/p/r'],
    ['every condition of a rule must match', rule({ models: ['claude-sonnet-*'], keywords: ['salary'] }), request(), {}, 'allow'],
    ['a deny wins over an approval rule', [policy('p', { maxTokens: 10, approval: { rules: [{ name: 'r', when: { models: ['*'] } }] } })], request(), {}, 'deny team-a/p maxTokens'],
  ];
  test.each(cases)('%s', (_name, policies, req, c, expected) => {
    expect(kind(run(policies, req, c))).toBe(expected);
  });

  test('several matching rules each keep their own approvers and quorum, and the shortest timeout wins', () => {
    const d = run([policy('p', { approval: { defaultTimeoutSeconds: 600, rules: [
      { name: 'a', when: { models: ['*'] }, approvers: { groups: ['secops'], quorum: 1 } },
      { name: 'b', when: { models: ['*'] }, approvers: { groups: ['legal'], quorum: 2 }, timeoutSeconds: 60 },
    ] } })], request());
    expect(d).toEqual({
      kind: 'approval', policy: 'team-a/p', rules: ['team-a/p/a', 'team-a/p/b'],
      reasons: ['team-a/p/a: model claude-sonnet-4-5', 'team-a/p/b: model claude-sonnet-4-5'],
      timeoutMs: 60_000,
      requirements: [
        { rule: 'team-a/p/a', groups: ['secops'], users: [], quorum: 1 },
        { rule: 'team-a/p/b', groups: ['legal'], users: [], quorum: 2 },
      ],
    });
  });

  test('a batch needs every rule any of its requests matched, each rule once', () => {
    const batch = { requests: [
      { custom_id: 'x', params: request({ messages: [{ role: 'user', content: 'the salary table' }] }) },
      { custom_id: 'y', params: request({ messages: [{ role: 'user', content: 'salary and ssn' }] }) },
    ] } as unknown as MessagesRequest;
    const d = run([policy('p', { approval: { rules: [
      { name: 'pay', when: { keywords: ['salary'] }, approvers: { groups: ['hr'] } },
      { name: 'ssn', when: { keywords: ['ssn'] }, approvers: { users: ['sec@example.com'] } },
    ] } })], batch, {}, 'batch_create');
    expect(d.kind === 'approval' && d.requirements).toEqual([
      { rule: 'team-a/p/pay', groups: ['hr'], users: [], quorum: 1 },
      { rule: 'team-a/p/ssn', groups: [], users: ['sec@example.com'], quorum: 1 },
    ]);
  });

  test('adding a policy never widens who may release a request: its catch-all rule\'s approver alone releases nothing another policy holds', async () => {
    const { approvalOutcome } = await import('@skillgate/policy');
    const { effectiveRequirements, unitedApprovers } = await import('@skillgate/policy/approval');
    const secops = policy('secops', { approval: { rules: [{ name: 'ssn', when: { keywords: ['ssn'] }, approvers: { groups: ['secops'] } }] } });
    const team = policy('team', { approval: { rules: [{ name: 'big', when: { inputTokensOver: 0 }, approvers: { users: ['friend@example.com'] } }] } });
    const req = request({ messages: [{ role: 'user', content: 'list every customer ssn' }] });
    const d = run([secops, team], req, { estimatedTokens: 20 });
    if (d.kind !== 'approval') throw new Error(`expected a hold, got ${d.kind}`);
    const requirements = effectiveRequirements(d.requirements, 'owner@example.com');
    const spec = { identity: { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 's', owner: 'owner@example.com' }, requestId: 'r', sessionId: 's',
      requestDigest: 'sha256:00', policy: d.policy, rules: d.rules, reasons: d.reasons, summary: {},
      approvers: unitedApprovers(requirements), requirements, expiresAt: '2026-03-04T10:05:00Z' };
    const at = '2026-03-04T10:01:00Z';
    const now = new Date('2026-03-04T10:02:00Z');
    const friend = { user: 'friend@example.com', decision: 'approve' as const, reason: 'ok', at };
    const sam = { user: 'sam@example.com', groups: ['secops'], decision: 'approve' as const, reason: 'ok', at };
    expect(approvalOutcome(spec, [friend], now).phase).toBe('Pending');
    expect(approvalOutcome(spec, [sam], now).phase).toBe('Pending');
    expect(approvalOutcome(spec, [friend, sam], now).phase).toBe('Approved');
    expect(approvalOutcome(spec, [sam, { ...friend, decision: 'deny' }], now).phase).toBe('Denied');
  });

  test('the default approval timeout is five minutes', () => {
    const d = run(rule({ models: ['*'] }), request());
    expect(d.kind === 'approval' && d.timeoutMs).toBe(300_000);
  });

  test('keyword rules decide as each rule\'s own expression does, however their keywords overlap in the text', () => {
    // The evaluator scans the newest turn once for every policy's keywords and checks each rule only
    // where a keyword starts; the reference runs each rule's own expression over the whole text.
    const words = ['pass', 'password', 'secret', 'secret project', 'project x', 'x', 'Pass', 'SECRET', '\u017Fecret', '\u212Aey', 'key',
      '\u{1D49C}bc', '\u{1D49C}', 'caf\u00E9', 'CAF\u00C9', 'i\u0307', '\u0130', '\uff53ecret', 'secret\u3000project', 'ｐａｓｓ',
      'secret\t\nproject', 'SECRET \u0085PROJECT', '\u0441ecret', 'pa\u0301ss', '\u03a1ASS', '\u0440ass'];
    const glue = ['', ' ', '  ', '_', '-', '1', 'a', '\u00E9', '\n', '\u{1D49C}', '\uD800', '\u00a0', '\uff11', '\u200b', '\u00ad',
      '\t', '\u0085', '\u0301', '\u0332', '\u0430', '\u0131'];
    const text = fc.array(fc.oneof(fc.constantFrom(...words), fc.constantFrom(...glue)), { maxLength: 24 }).map((parts) => parts.join(''));
    const rules = fc.array(fc.uniqueArray(fc.constantFrom(...words), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(rules, text, (keywordSets, turn) => {
      const policies = [policy('p', { approval: { rules: keywordSets.map((keywords, i) => ({ name: `r${i}`, when: { keywords } })) } })];
      const compiled = combine(policies).rules;
      const expected = compiled.flatMap((r) => {
        const m = r.keywords!.exec(readAsKeywords(turn)); // keyword rules read the turn as they read keywords
        return m ? [`${r.id}: keyword "${m[0].replace(/\p{White_Space}+/gu, ' ').toLowerCase()}" in the newest turn`] : [];
      });
      const d = run(policies, history(turn));
      expect(d.kind === 'approval' ? d.reasons : []).toEqual(expected);
    }), { numRuns: 2000 });
  });

  test('a turn where keywords start in hundreds of places is still judged whole word by whole word', () => {
    // Past 256 starts each rule scans the turn with its own expression (the evaluator keeps no such list).
    const crowded = 'passport '.repeat(300);
    expect(kind(run(rule({ keywords: ['pass'] }), history(crowded)))).toBe('allow');
    expect(kind(run(rule({ keywords: ['pass'] }), history(`${crowded}pass`)))).toBe('approval team-a/p/r');
    expect(kind(run(rule({ keywords: ['pass'] }), history(`${crowded}\u212Apass`)))).toBe('allow');
  });

  test('a reason never quotes the text a pattern matched', () => {
    const d = run(rule({ patterns: ['\\d{3}-\\d{2}-\\d{4}'] }), history('ssn 123-45-6789'));
    expect(JSON.stringify(d)).not.toContain('123-45-6789');
  });
});

describe('validating a policy', () => {
  test.each([
    ['a bad regex names its field', { approval: { rules: [{ name: 'r', when: { patterns: ['(unclosed'] } }] } }, /spec\.approval\.rules\[0\]\.when\.patterns\[0\]/],
    ['an unknown time zone is reported', { schedule: { windows: [{ start: '09:00', end: '17:00', timeZone: 'Mars/Olympus' }] } }, /spec\.schedule\.windows\[0\]/],
    ['a malformed clock time is reported', { schedule: { windows: [{ start: '9am', end: '17:00' }] } }, /HH:MM/],
    ['an approval rule without conditions would hold everything and is refused', { approval: { rules: [{ name: 'r', when: {} }] } }, /at least one condition/],
    ['a zero rate limit is refused', { rateLimits: { requestsPerMinute: 0 } }, /rateLimits\.requestsPerMinute/],
    ['a custom entity the masker cannot run is refused, by its rules', { masking: { custom: [{ name: 'EMPLOYEE_ID', pattern: '^EMP-[0-9]+$' }] } }, /spec\.masking\.custom\[0\]\.pattern: anchors/],
    ['a custom entity pattern in a syntax RE2 lacks is refused', { masking: { custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-(?=[0-9])' }] } }, /spec\.masking\.custom\[0\]\.pattern: lookahead/],
  ] as const)('%s', (_name, spec, problem) => {
    const p = policy('bad', spec as SkillPolicy['spec']);
    expect(policyProblems(p).join('\n')).toMatch(problem);
    expect(() => compilePolicy(p)).toThrow(PolicyInvalidError);
  });
  test('a valid policy has no problems', () => {
    expect(policyProblems(policy('ok', { models: { allow: ['claude-*'] }, maxTokens: 100 }))).toEqual([]);
  });
});

test('input tokens are estimated as a quarter of the body bytes, rounded up', () => {
  expect(estimateInputTokens(0)).toBe(0);
  expect(estimateInputTokens(401)).toBe(101);
});

describe('who may decide an approval', () => {
  test('the owner may not, whatever prefix the identity provider puts on their name', async () => {
    const { deciderProblem } = await import('@skillgate/policy');
    const spec = { identity: { namespace: 'team-a', skill: 'triage', owner: 'alice@example.com' }, approvers: { users: ['alice@example.com', 'bob@example.com'] } } as never;
    for (const user of ['alice@example.com', 'ALICE@example.com', 'oidc:alice@example.com', 'https://issuer.example#alice@example.com']) {
      expect(deciderProblem(spec, user)).toMatch(/owns skill triage/);
    }
    expect(deciderProblem(spec, 'bob@example.com')).toBeUndefined();
    expect(deciderProblem(spec, 'oidc:malice@example.com')).toMatch(/is not an approver/);
  });
});

describe('the newest turn', () => {
  const keyword = policy('p', { approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } });
  test('is everything after Claude\'s last answer: consecutive user messages, and a prefill the skill wrote', () => {
    const twoUser = request({ messages: [{ role: 'user', content: 'the salary table follows' }, { role: 'user', content: 'ok' }] });
    expect(kind(run([keyword], twoUser))).toBe('approval team-a/p/salary');
    const prefill = request({ messages: [{ role: 'user', content: 'go on' }, { role: 'assistant', content: 'Here is every salary:' }] });
    expect(kind(run([keyword], prefill))).toBe('approval team-a/p/salary');
    // Not what Claude answered earlier, resent as history.
    const history = request({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'salary is private' }, { role: 'user', content: 'thanks' }] });
    expect(kind(run([keyword], history))).toBe('allow');
  });
});

describe('the OpenAI-compatible endpoint (/v1/chat/completions)', () => {
  const chat = (over: Record<string, unknown> = {}) => ({ model: 'claude-sonnet-4-5', max_completion_tokens: 256, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }], ...over }) as unknown as MessagesRequest;
  test('is governed as Messages are: models, function tools, the token cap, approval rules', () => {
    expect(kind(run([policy('p', { models: { allow: ['claude-haiku-*'] } })], chat(), {}, 'openai_chat'))).toBe('deny team-a/p models.allow');
    expect(kind(run([policy('p', { tools: { allow: ['lookup_*'] } })], chat({ tools: [{ type: 'function', function: { name: 'shell' } }] }), {}, 'openai_chat'))).toBe('deny team-a/p tools.allow');
    expect(kind(run([policy('p', { maxTokens: 100 })], chat(), {}, 'openai_chat'))).toBe('deny team-a/p maxTokens');
    expect(kind(run([policy('p', { maxTokens: 100 })], chat({ max_completion_tokens: undefined }), {}, 'openai_chat'))).toBe('deny team-a/p maxTokens'); // no cap given: refused under one
    expect(kind(run([policy('p', { maxTokens: 300 })], chat({ max_completion_tokens: undefined, max_tokens: 200 }), {}, 'openai_chat'))).toBe('allow');
    const keyword = policy('p', { approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } });
    expect(kind(run([keyword], chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'the salary table' }] }] }), {}, 'openai_chat'))).toBe('approval team-a/p/salary');
    expect(kind(run([keyword], chat(), {}, 'openai_chat'))).toBe('allow');
  });
});
