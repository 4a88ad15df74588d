import type { SkillPolicySpec } from '@skillgate/api';
import { regexProblem, validateSkillPolicySpec } from '../src/validate-policy.js';

const v = (spec: SkillPolicySpec) => validateSkillPolicySpec(spec);

describe('validateSkillPolicy', () => {
  test('a policy using built-in and custom entities, valid regexes and a real time zone is allowed', () => {
    expect(v({
      masking: { custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}' }], entities: [{ type: 'EMAIL_ADDRESS' }, { type: 'EMPLOYEE_ID', action: 'hash' }] },
      approval: { rules: [{ name: 'bulk-export', when: { patterns: ['export\\s+all'], findings: [{ type: 'EMPLOYEE_ID', min: 5 }] } }] },
      schedule: { windows: [{ start: '08:00', end: '18:00', timeZone: 'Europe/Berlin' }] },
    })).toEqual({ allowed: true, violations: [], warnings: [] });
  });

  test('a custom entity pattern that does not compile is rejected with the parser error', () => {
    expect(v({ masking: { custom: [{ name: 'TICKET', pattern: 'TCK-([0-9]+' }] } }).violations.join()).toMatch(/spec\.masking\.custom\[0\] \(TICKET\): pattern "TCK-\(\[0-9\]\+" does not compile/);
  });

  test.each([
    ['anchors', { name: 'EMPLOYEE_ID', pattern: '^EMP-[0-9]{6}$' }, /pattern "\^EMP-\[0-9\]\{6\}\$": anchors \^ and \$ are not allowed/],
    ['a nested quantifier', { name: 'TICKET', pattern: '(?:TCK-[0-9]+)+' }, /nested quantifiers/],
    ['a pattern matching the empty string', { name: 'TICKET', pattern: '[0-9]*' }, /matches the empty string/],
    ['a name that is not UPPER_SNAKE_CASE', { name: 'ticket', pattern: 'TCK-[0-9]+' }, /name must be UPPER_SNAKE_CASE/],
    ['a keyword with a tab', { name: 'CODENAME', keywords: ['blue\tsky'] }, /not tabs, newlines or runs of spaces/],
  ])('a custom entity the masker would refuse is rejected at admission: %s', (_what, entity, why) => {
    const r = v({ masking: { custom: [entity] } });
    expect(r.allowed).toBe(false);
    expect(r.violations.join('\n')).toMatch(why);
  });

  test('lookaround and backreferences are rejected: the masking engine promises linear-time regexes', () => {
    expect(regexProblem('(?<=user:)\\w+')).toMatch(/lookahead and lookbehind/);
    expect(regexProblem('(a)\\1')).toMatch(/backreferences/);
    expect(regexProblem('[a-z]+@corp')).toBeUndefined();
  });

  test('approval patterns are checked by the engine the sidecar runs them on (RE2), not by JavaScript\'s RegExp', () => {
    const problems = (patterns: string[]) => v({ approval: { rules: [{ name: 'r', when: { patterns } }] } }).violations.join('\n');
    // JavaScript syntax RE2 lacks: every sidecar would refuse to load the policy, so kubectl apply is told why.
    expect(problems(['caf\\u00e9', '[^]'])).toMatch(/when\.patterns\[0\] "caf\\\\u00e9" does not compile: not a valid RE2 pattern: invalid escape sequence: `\\u` \(approval patterns are RE2 syntax/);
    expect(problems(['caf\\u00e9', '[^]'])).toMatch(/when\.patterns\[1\] "\[\^\]" does not compile: not a valid RE2 pattern/);
    // RE2 syntax JavaScript lacks, and a pattern that would backtrack catastrophically on RegExp but runs in linear time on RE2.
    expect(v({ approval: { rules: [{ name: 'r', when: { patterns: ['caf\\x{e9}', '(?i)(?P<verb>export)\\s+all', '(\\w+\\s?)+$'] } }] } })).toEqual({ allowed: true, violations: [], warnings: [] });
  });

  test('a custom entity pattern RE2 cannot run is refused once, in the words of custom masking entities', () => {
    const r = v({ masking: { custom: [{ name: 'CAFE_ID', pattern: 'CAF\\u00c9-[0-9]+' }] } });
    expect(r.violations).toEqual([expect.stringMatching(/^spec\.masking\.custom\[0\] \(CAFE_ID\): pattern "CAF\\\\u00c9-\[0-9\]\+" does not compile: not a valid RE2 pattern: invalid escape sequence: `\\u` \(custom masking entity patterns are RE2 syntax/)]);
    expect(r.violations.join()).not.toMatch(/approval/);
  });

  test('a custom entity pattern in RE2 syntax the masker runs is not refused for JavaScript\'s sake', () => {
    expect(v({ masking: { custom: [{ name: 'CAFE_ID', pattern: 'CAF\\x{c9}-[0-9]+' }] } })).toEqual({ allowed: true, violations: [], warnings: [] });
  });

  test('an approval rule pattern that does not compile is rejected', () => {
    expect(v({ approval: { rules: [{ name: 'r', when: { patterns: ['*.sql'] } }] } }).violations.join()).toMatch(/rules\[0\] \(r\): when\.patterns\[0\] "\*\.sql" does not compile/);
    // A rule that would hold every request, or that no sidecar would load (it stops the skills' every request).
    expect(v({ approval: { rules: [{ name: 'r', when: {} }] } }).violations.join()).toMatch(/rules\[0\] \(r\): when names no condition/);
    expect(v({ approval: { rules: [{ name: 'r', when: { keywords: [] } }] } }).violations.join()).toMatch(/rules\[0\] \(r\): when\.keywords is an empty list/);
  });

  test('unknown entity types in masking and approval findings are dangling references', () => {
    const r = v({ masking: { entities: [{ type: 'EMAIL' }] }, approval: { rules: [{ name: 'r', when: { findings: [{ type: 'PASSPORT' }] } }] } });
    expect(r.violations.join('\n')).toMatch(/unknown entity type EMAIL .*known: .*EMAIL_ADDRESS/);
    expect(r.violations.join('\n')).toMatch(/names unknown entity type PASSPORT/);
  });

  test('a custom entity needs exactly one of pattern or keywords, and may not shadow a built-in type', () => {
    const r = v({ masking: { custom: [{ name: 'EMAIL_ADDRESS', pattern: 'x', keywords: ['y'] }] } });
    expect(r.violations.join('\n')).toMatch(/EMAIL_ADDRESS is a built-in entity type/);
    expect(r.violations.join('\n')).toMatch(/exactly one of pattern or keywords/);
  });

  test('duplicate approval rule names, unreachable quorums, unknown time zones and empty windows are rejected; a night window is not', () => {
    const r = v({
      approval: { rules: [{ name: 'a', when: {}, approvers: { users: ['x@example.com'], quorum: 2 } }, { name: 'a', when: {} }] },
      schedule: { windows: [{ start: '18:00', end: '18:00', timeZone: 'Mars/Olympus' }] },
    }).violations.join('\n');
    expect(r).toMatch(/rule name a is used twice/);
    expect(r).toMatch(/quorum 2 can never be reached by 1 listed user/);
    expect(r).toMatch(/unknown time zone Mars\/Olympus/);
    expect(r).toMatch(/start and end are both 18:00, so the window never opens/);
    // 22:00-06:00 runs past midnight, as the policy engine reads it.
    expect(v({ schedule: { windows: [{ start: '22:00', end: '06:00', days: ['Fri'] }] } })).toMatchObject({ allowed: true, violations: [] });
  });

  test('empty approver lists count as none: a quorum only listed users must reach, and approvers that name nobody, are rejected', () => {
    const r = v({
      approval: { rules: [
        { name: 'q', when: {}, approvers: { groups: [], users: ['x@example.com'], quorum: 3 } },
        { name: 'nobody', when: {}, approvers: { groups: [], users: [] } },
      ] },
    }).violations.join('\n');
    expect(r).toMatch(/quorum 3 can never be reached by 1 listed user/);
    expect(r).toMatch(/approvers lists no users and no groups/);
  });

  test('an unknown server tool family is a warning, not a rejection', () => {
    const r = v({ tools: { serverTools: ['web_search', 'teleport'] } });
    expect(r.allowed).toBe(true);
    expect(r.warnings.join()).toMatch(/teleport/);
  });
});
