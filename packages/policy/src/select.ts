// Which SkillPolicies apply to a skill: those in the skill's namespace whose selector names the
// skill (or names none) and whose matchLabels all appear on the pod. Pure.
import type { SkillIdentity, SkillPolicy } from '@skillgate/api';

export function selects(policy: SkillPolicy, identity: SkillIdentity, podLabels: Readonly<Record<string, string>> = {}): boolean {
  if (policy.metadata.namespace && policy.metadata.namespace !== identity.namespace) return false;
  const sel = policy.spec?.selector;
  if (!sel) return true;
  if (sel.skills?.length && !sel.skills.includes(identity.skill)) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (podLabels[k] !== v) return false;
  return true;
}

/** The policies that select this skill, in a stable order (by name) so combining is deterministic. */
export function selectPolicies(policies: readonly SkillPolicy[], identity: SkillIdentity, podLabels: Readonly<Record<string, string>> = {}): SkillPolicy[] {
  return policies
    .filter((p) => selects(p, identity, podLabels))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
