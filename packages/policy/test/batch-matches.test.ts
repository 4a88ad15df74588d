// A held Message Batch names the requests that held it (their place in `requests` and custom_id):
// what the approver is shown is what the decision judged, with the same tools seen before, the same
// clock and the same findings — never a second evaluation that could judge otherwise.
import { combine, evaluate, type Decision, type EvaluationContext } from '@skillgate/policy';
import type { SkillPolicy } from '@skillgate/api';
import type { MessagesRequest } from '@skillgate/wire';
import { policy, request } from './policy-fixtures.js';

const ctx = (over: Partial<EvaluationContext> = {}): EvaluationContext => ({ now: new Date('2026-03-04T10:00:00Z'), findings: [], estimatedTokens: 100, ...over });
const batch = (...items: unknown[]) => ({ requests: items }) as unknown as MessagesRequest;
const item = (customId: string, over: Partial<MessagesRequest> = {}, text = 'hello') => ({ custom_id: customId, params: request(over, text) });
const run = (policies: SkillPolicy[], req: MessagesRequest, c: Partial<EvaluationContext> = {}): Decision =>
  evaluate(combine(policies), { route: 'batch_create', request: req }, ctx(c));
const matched = (d: Decision) => (d.kind === 'approval' ? d.matchedRequests : undefined);

describe('a held Message Batch names the requests that held it', () => {
  const salary = policy('p', { approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } });

  test('by their place in requests and their custom_id, in order, and no other', () => {
    const d = run([salary], batch(item('a', {}, 'every salary'), item('b'), 'not a request', item('c', {}, 'salary bands')));
    expect(d.kind).toBe('approval');
    expect(matched(d)).toEqual([{ index: 0, customId: 'a' }, { index: 3, customId: 'c' }]);
  });

  test('a request the first-use rule would hold alone, but whose tool this skill used before, is not named', () => {
    const firstUse = policy('p', { approval: { rules: [{ name: 'new-tool', when: { firstToolUse: true } }] } });
    const tool = (name: string) => ({ tools: [{ name, input_schema: { type: 'object' } }] }) as Partial<MessagesRequest>;
    const d = run([firstUse], batch(item('known', tool('lookup')), item('fresh', tool('Bash')), item('none')), { toolsSeenBefore: new Set(['lookup']) });
    expect(matched(d)).toEqual([{ index: 1, customId: 'fresh' }]);
  });

  test('a batch no request of which matched is allowed, and one with a denied request denied: neither names any', () => {
    expect(run([salary], batch(item('a'), item('b')))).toEqual({ kind: 'allow' });
    const sonnetOnly = policy('q', { models: { allow: ['claude-sonnet-*'] } });
    const d = run([salary, sonnetOnly], batch(item('a', {}, 'salary'), item('b', { model: 'claude-opus-4-1' })));
    expect(d.kind).toBe('deny');
    expect(d).not.toHaveProperty('matchedRequests');
  });

  test('a request without a custom_id is named by its place, its id shown as ?', () => {
    expect(matched(run([salary], batch({ params: request({}, 'salary') })))).toEqual([{ index: 0, customId: '?' }]);
  });
});
