import { combine, combineMaskingModes, selectPolicies } from '@skillgate/policy';
import { identity, policy } from './policy-fixtures.js';

describe('selecting policies', () => {
  const all = [
    policy('b-everyone', {}),
    policy('a-triage', { selector: { skills: ['triage'] } }),
    policy('other-skill', { selector: { skills: ['billing'] } }),
    policy('labelled', { selector: { matchLabels: { tier: 'prod' } } }),
    { ...policy('other-ns', {}), metadata: { name: 'other-ns', namespace: 'team-b' } },
  ];
  test('a skill gets the policies of its namespace that name it or name no skill, sorted by name', () => {
    expect(selectPolicies(all, identity).map((p) => p.metadata.name)).toEqual(['a-triage', 'b-everyone']);
  });
  test('matchLabels must all be present on the pod', () => {
    expect(selectPolicies(all, identity, { tier: 'prod' }).map((p) => p.metadata.name)).toContain('labelled');
    expect(selectPolicies(all, identity, { tier: 'dev' }).map((p) => p.metadata.name)).not.toContain('labelled');
  });
});

describe('combining policies: most restrictive wins', () => {
  const cases: Array<[string, Parameters<typeof combine>[0], (e: ReturnType<typeof combine>) => void]> = [
    ['no policy leaves defaults: record-mode masking, masked bodies, no limits', [], (e) => {
      expect(e.masking.mode).toBe('record');
      expect(e.recording.bodies).toBe('masked');
      expect(e.maxTokens).toBeUndefined();
      expect(e.rateLimits).toEqual({});
    }],
    ['the lowest max_tokens cap wins and names its policy', [policy('p1', { maxTokens: 4000 }), policy('p2', { maxTokens: 1000 })], (e) => {
      expect(e.maxTokens).toEqual({ value: 1000, policy: 'team-a/p2' });
    }],
    ['rate limits take the minimum of each limit independently', [
      policy('p1', { rateLimits: { requestsPerMinute: 10, tokensPerMinute: 900 } }),
      policy('p2', { rateLimits: { requestsPerMinute: 60 } }),
    ], (e) => {
      expect(e.rateLimits.requestsPerMinute).toEqual({ value: 10, policy: 'team-a/p1' });
      expect(e.rateLimits.tokensPerMinute).toEqual({ value: 900, policy: 'team-a/p1' });
    }],
    ['approval rules of every policy are kept', [
      policy('p1', { approval: { rules: [{ name: 'ssn', when: { findings: [{ type: 'US_SSN' }] } }] } }),
      policy('p2', { approval: { rules: [{ name: 'opus', when: { models: ['claude-opus-*'] } }] } }),
    ], (e) => {
      expect(e.rules.map((r) => r.id)).toEqual(['team-a/p1/ssn', 'team-a/p2/opus']);
    }],
    ['egress allowlists intersect: a host survives only when every list allows it', [
      policy('p1', { egress: { allowHosts: ['*.example.com', 'api.github.com'] } }),
      policy('p2', { egress: { allowHosts: ['docs.example.com'] } }),
    ], (e) => {
      expect(e.egressAllowHosts).toEqual(['docs.example.com']);
    }],
    ['a wildcard survives only where every other list plainly covers it, never by matching its text', [
      policy('p1', { egress: { allowHosts: ['*.example.com', '*.corp.internal'] } }),
      policy('p2', { egress: { allowHosts: ['?.example.com', '*.internal'] } }),
    ], (e) => {
      expect(e.egressAllowHosts).toEqual(['*.corp.internal', '?.example.com']); // not *.example.com
    }],
    ['digest-only recording beats masked bodies, and the shortest session gap wins', [
      policy('p1', { recording: { bodies: 'masked', sessionGapSeconds: 600 } }),
      policy('p2', { recording: { bodies: 'digest', sessionGapSeconds: 60 } }),
    ], (e) => {
      expect(e.recording).toEqual({ bodies: 'digest', sessionGapSeconds: 60 });
    }],
    ['masking entities take the strictest action and stay enabled if any policy enables them', [
      policy('p1', { masking: { entities: [{ type: 'EMAIL_ADDRESS', action: 'partial' }] } }),
      policy('p2', { masking: { entities: [{ type: 'EMAIL_ADDRESS', action: 'redact', enabled: false }] } }),
    ], (e) => {
      expect(e.masking.entities).toEqual([{ type: 'EMAIL_ADDRESS', action: 'redact', enabled: true }]);
    }],
  ];
  test.each(cases)('%s', (_name, input, check) => check(combine(input)));

  test.each([
    [['record', 'record'], 'record'],
    [['record', 'request'], 'request'],
    [['request', 'response'], 'both'],
    [['tokenize', 'record'], 'tokenize'],
    [['tokenize', 'response'], 'both'],
    [['both', 'tokenize'], 'both'],
  ] as const)('masking modes %j combine to %s', (modes, expected) => {
    expect(combineMaskingModes(modes)).toBe(expected);
  });

  test('combining is independent of the order policies arrive in', () => {
    const a = policy('a', { maxTokens: 10, models: { allow: ['claude-*'] } });
    const b = policy('b', { maxTokens: 10, models: { allow: ['claude-haiku-*'] } });
    expect(combine([a, b]).key).toBe(combine([b, a]).key);
    expect(combine([a, b]).maxTokens?.policy).toBe('team-a/a');
  });
});
