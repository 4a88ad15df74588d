// Builders for SkillPolicy objects and Messages requests used by the policy tests.
import type { SkillIdentity, SkillPolicy, SkillPolicySpec } from '@skillgate/api';
import type { MessagesRequest } from '@skillgate/wire';

export const identity: SkillIdentity = { namespace: 'team-a', serviceAccount: 'triage', pod: 'triage-0', skill: 'triage', owner: 'carol@example.com' };

export function policy(name: string, spec: SkillPolicySpec, generation = 1): SkillPolicy {
  return { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name, namespace: 'team-a', generation }, spec };
}

export function request(over: Partial<MessagesRequest> = {}, text = 'hello'): MessagesRequest {
  return { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: text }], ...over };
}
