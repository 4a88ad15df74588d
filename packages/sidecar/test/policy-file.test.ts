// Policy files (local mode): YAML in any of its shapes, and JSON (what the API server hands a
// sidecar in a pod) read without the YAML parser. Pure: no files, no sockets.
import { parsePolicyFile } from '../src/cluster/policy-feed.js';

const policy = (name: string, extra: object = {}) => ({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name, ...extra }, spec: { maxTokens: 100 } });

describe('parsePolicyFile', () => {
  it('reads one policy, a List and an array as JSON, defaulting the namespace', () => {
    expect(parsePolicyFile(JSON.stringify(policy('a')), 'team-a').map((p) => [p.metadata.name, p.metadata.namespace, p.spec.maxTokens])).toEqual([['a', 'team-a', 100]]);
    expect(parsePolicyFile(JSON.stringify({ kind: 'List', items: [policy('a'), policy('b', { namespace: 'x' })] }), 'ns').map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['ns/a', 'x/b']);
    expect(parsePolicyFile(`  ${JSON.stringify([policy('a'), policy('b')])}\n`, 'ns')).toHaveLength(2);
  });

  it('reads YAML documents, including YAML flow style that is not JSON', () => {
    const yaml = 'apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata:\n  name: a\nspec:\n  maxTokens: 7\n---\n{kind: SkillPolicy, metadata: {name: b}, spec: {}}\n';
    expect(parsePolicyFile(yaml, 'ns').map((p) => p.metadata.name)).toEqual(['a', 'b']);
    expect(parsePolicyFile('{kind: SkillPolicy, metadata: {name: c}, spec: {}}', 'ns')[0]!.metadata.name).toBe('c');
  });

  it('answers JSON and YAML alike', () => {
    const asYaml = 'kind: SkillPolicy\nmetadata:\n  name: a\nspec:\n  maxTokens: 100\n';
    expect(parsePolicyFile(JSON.stringify({ kind: 'SkillPolicy', metadata: { name: 'a' }, spec: { maxTokens: 100 } }), 'ns')).toEqual(parsePolicyFile(asYaml, 'ns'));
  });

  it('says what is wrong with a file that is not a SkillPolicy', () => {
    expect(() => parsePolicyFile(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'x' } }), 'ns')).toThrow(/expected kind SkillPolicy, got ConfigMap/);
    expect(() => parsePolicyFile(JSON.stringify({ kind: 'SkillPolicy', metadata: {} }), 'ns')).toThrow(/needs metadata.name/);
    expect(() => parsePolicyFile('{ "kind": "SkillPolicy", ', 'ns')).toThrow();
  });
});
