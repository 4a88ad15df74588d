// Approval patterns (`when.patterns`) on re2js: the validation a policy author meets at `kubectl apply`
// and in every sidecar, matching as RegExp would where RE2 can run the pattern, and in linear time
// on input that made the backtracking engine stall (run in a child process with a deadline).
import { spawnSync } from 'node:child_process';
import { approvalPatternProblem, combine, compilePolicy, evaluate, policyProblems, type EvaluationContext } from '@skillgate/policy';
import type { MessagesRequest } from '@skillgate/wire';
import { policy, request } from './policy-fixtures.js';

const ctx: EvaluationContext = { now: new Date('2026-03-04T10:00:00Z'), findings: [], toolsSeenBefore: new Set(), estimatedTokens: 100 };
const held = (patterns: string[], text: string): boolean =>
  evaluate(combine([policy('p', { approval: { rules: [{ name: 'r', when: { patterns } }] } })]), { route: 'messages', request: request({}, text) as MessagesRequest }, ctx).kind === 'approval';

describe('approval patterns run on RE2 (re2js), never on JavaScript\'s backtracking RegExp', () => {
  test('a pattern that backtracks catastrophically in JavaScript evaluates the text a skill sends at once', () => {
    // In a child process with a generous deadline, so that a regression fails instead of blocking
    // this worker for good: on RegExp, (\w+\s?)+$ over 27 characters took 4.7 s, and each further
    // character doubles it. On RE2 the 10,000 characters here take milliseconds.
    const script = `
      import { combine, evaluate } from '@skillgate/policy';
      const p = { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'p', namespace: 'team-a' },
        spec: { approval: { rules: [{ name: 'r', when: { patterns: ['(\\\\w+\\\\s?)+$'] } }] } } };
      const eff = combine([p]);
      const req = (text) => ({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: text }] });
      const ctx = { now: new Date(), findings: [], toolsSeenBefore: new Set(), estimatedTokens: 1 };
      const one = (text) => evaluate(eff, { route: 'messages', request: req(text) }, ctx).kind;
      console.log(JSON.stringify([one('a'.repeat(30) + '!'), one('ab '.repeat(3000) + '!'), one('a'.repeat(10000))]));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.signal).toBeNull();
    expect(JSON.parse(child.stdout)).toEqual(['allow', 'allow', 'approval']);
  });

  test('RE2 syntax that JavaScript lacks works, and JavaScript syntax RE2 lacks is refused with the engine\'s reason', () => {
    expect(held(['(?i)export\\s+all'], 'please EXPORT ALL customers')).toBe(true);
    expect(held(['caf\\x{e9}'], 'the café list')).toBe(true);
    expect(held(['(?P<ticket>TCK-[0-9]+)'], 'see TCK-42')).toBe(true);
    expect(held(['(?i)export\\s+all'], 'export nothing')).toBe(false);
    expect(approvalPatternProblem('caf\\u00e9')).toMatch(/^not a valid RE2 pattern: invalid escape sequence: `\\u` \(approval patterns are RE2 syntax .*\\x\{e9\} for a code point/);
    expect(approvalPatternProblem('[^]')).toMatch(/^not a valid RE2 pattern: missing closing \]/);
    expect(approvalPatternProblem('TCK-(?=[0-9])')).toMatch(/lookahead and lookbehind .* are not supported: patterns run on RE2/);
    expect(approvalPatternProblem('(a)\\1')).toMatch(/backreferences .* are not supported/);
    expect(approvalPatternProblem('(\\w+\\s?)+$')).toBeUndefined();
  });

  test('a policy whose pattern RE2 cannot run does not load, naming the field and the reason', () => {
    const p = policy('p', { approval: { rules: [{ name: 'r', when: { patterns: ['ok', 'caf\\u00e9'] } }] } });
    expect(policyProblems(p)).toEqual([expect.stringMatching(/^spec\.approval\.rules\[0\]\.when\.patterns\[1\]: not a valid RE2 pattern: invalid escape sequence/)]);
    expect(() => compilePolicy(p)).toThrow(/not a valid RE2 pattern/);
  });

  test('the one scan over all rules\' patterns finds what each rule would, also when they cannot be combined', () => {
    // Two patterns naming the same group cannot be one alternation: each runs on its own.
    const twoRules = (a: string, b: string) => combine([policy('p', { approval: { rules: [{ name: 'a', when: { patterns: [a] } }, { name: 'b', when: { patterns: [b] } }] } })]);
    for (const eff of [twoRules('(?P<n>AKIA[0-9A-Z]{16})', '(?P<n>TCK-[0-9]+)'), twoRules('AKIA[0-9A-Z]{16}', 'TCK-[0-9]+'), twoRules('AKIA', '\\QTCK-\\E[0-9]+')]) {
      const decide = (text: string) => evaluate(eff, { route: 'messages', request: request({}, text) }, ctx);
      expect(decide('nothing here').kind).toBe('allow');
      const d = decide('see TCK-42');
      expect(d.kind === 'approval' && d.rules).toEqual(['team-a/p/b']);
    }
  });
});
