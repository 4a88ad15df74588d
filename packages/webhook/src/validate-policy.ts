// SkillPolicy validation beyond what the CRD schema can say: approval patterns must compile on RE2
// (re2js, the linear-time engine they run on, by the policy package's own check), custom masking
// entities must be ones the masker can run (its own check: RE2 syntax, then its rules), and every
// reference must resolve (entity types, time zones, approval rule names). Pure; must never accept a
// policy the sidecar would fail to load, since a policy that does not load protects nothing.
import type { SkillPolicy, SkillPolicySpec } from '@skillgate/api';
// Subpaths: the masking and policy packages' indexes would load detectors, dictionaries and more.
import { ENTITY_TYPES } from '@skillgate/masking/entities';
import { validateCustomEntity } from '@skillgate/masking/detectors/custom';
import { approvalPatternProblem } from '@skillgate/policy/pattern';

/** Entity types the masking engine detects (CONTRACT.md; Presidio's names); custom entities of a policy add to it. */
export const KNOWN_ENTITY_TYPES: ReadonlySet<string> = new Set(ENTITY_TYPES);

/** Server tool families a policy may name (the Messages API's server tools). Unknown ones are a warning, not an error. */
export const KNOWN_SERVER_TOOLS: ReadonlySet<string> = new Set([
  'web_search', 'web_fetch', 'code_execution', 'bash', 'text_editor', 'memory', 'computer', 'tool_search',
]);

export interface PolicyVerdict {
  allowed: boolean;
  violations: string[];
  warnings: string[];
}

/**
 * Why `pattern` is not an acceptable approval pattern, or undefined when it is: the sidecar's own
 * check (RE2 syntax on re2js), never JavaScript's RegExp, which would admit patterns that backtrack
 * catastrophically on what a skill sends (`(\w+\s?)+$`) and refuse RE2 ones (`\x{e9}`, `(?P<n>…)`).
 */
export const regexProblem = (pattern: string): string | undefined => approvalPatternProblem(pattern);

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function validateSkillPolicySpec(spec: SkillPolicySpec): PolicyVerdict {
  const violations: string[] = [];
  const warnings: string[] = [];
  const custom = spec.masking?.custom ?? [];
  const customNames = new Set<string>();
  custom.forEach((c, i) => {
    const at = `spec.masking.custom[${i}] (${c.name})`;
    if (KNOWN_ENTITY_TYPES.has(c.name)) violations.push(`${at}: ${c.name} is a built-in entity type; give the custom entity its own name`);
    if (customNames.has(c.name)) violations.push(`${at}: the name ${c.name} is used twice; custom entity names must be unique`);
    customNames.add(c.name);
    if ((c.pattern === undefined) === (c.keywords === undefined)) violations.push(`${at}: give exactly one of pattern or keywords`);
    // The masker's own check: RE2 it can run (said first: the pattern cannot run at all), then its
    // rules (anchors, nested quantifiers, empty matches, separator-only parts, name and keyword
    // form). Without a pattern, the line above said it.
    const problems = validateCustomEntity(c);
    for (const problem of [...problems.filter((p) => p.syntax), ...problems.filter((p) => !p.syntax)]) {
      if (problem.field !== 'pattern') violations.push(`${at}: ${problem.message}`);
      else if (c.pattern !== undefined) violations.push(`${at}: pattern ${JSON.stringify(c.pattern)}${problem.syntax ? ' does not compile' : ''}: ${problem.message}`);
    }
  });
  const entityKnown = (t: string) => KNOWN_ENTITY_TYPES.has(t) || customNames.has(t);
  const known = () => `known: ${[...KNOWN_ENTITY_TYPES, ...customNames].join(', ')}`;

  (spec.masking?.entities ?? []).forEach((e, i) => {
    if (!entityKnown(e.type)) violations.push(`spec.masking.entities[${i}]: unknown entity type ${e.type} (${known()}); define it under spec.masking.custom or fix the name`);
  });

  const ruleNames = new Set<string>();
  (spec.approval?.rules ?? []).forEach((r, i) => {
    const at = `spec.approval.rules[${i}] (${r.name})`;
    if (ruleNames.has(r.name)) violations.push(`${at}: the rule name ${r.name} is used twice; approval rule names must be unique (approvals cite them)`);
    ruleNames.add(r.name);
    const w = r.when ?? {};
    // A condition that is an empty list, or a rule with none, holds every request (or, as every
    // sidecar refuses to load such a policy, stops every request of the skills it selects).
    const conditions = Object.entries(w).filter(([, v]) => v !== undefined);
    if (conditions.length === 0) violations.push(`${at}: when names no condition, which would hold every request; give it at least one (keywords, patterns, findings, models, tools, ...)`);
    for (const [name, v] of conditions) if (Array.isArray(v) && v.length === 0) violations.push(`${at}: when.${name} is an empty list, which matches every request; list something or leave it out`);
    (w.patterns ?? []).forEach((p, j) => {
      const problem = regexProblem(p);
      if (problem) violations.push(`${at}: when.patterns[${j}] ${JSON.stringify(p)} does not compile: ${problem}`);
    });
    (w.findings ?? []).forEach((f, j) => {
      if (!entityKnown(f.type)) violations.push(`${at}: when.findings[${j}] names unknown entity type ${f.type} (${known()})`);
    });
    for (const t of w.serverTools ?? []) if (!KNOWN_SERVER_TOOLS.has(t)) warnings.push(`${at}: server tool family ${t} is not one skillgate knows (${[...KNOWN_SERVER_TOOLS].join(', ')})`);
    const a = r.approvers;
    if (a && !a.groups?.length && !a.users?.length) {
      violations.push(`${at}: approvers lists no users and no groups: nobody could ever approve; name some, or leave approvers out for the default group`);
    } else if (a?.quorum !== undefined && a.users && !a.groups?.length && a.quorum > a.users.length) {
      violations.push(`${at}: quorum ${a.quorum} can never be reached by ${a.users.length} listed user(s); lower the quorum or add approvers`);
    }
  });
  for (const t of spec.tools?.serverTools ?? []) if (!KNOWN_SERVER_TOOLS.has(t)) warnings.push(`spec.tools.serverTools: ${t} is not a server tool family skillgate knows (${[...KNOWN_SERVER_TOOLS].join(', ')})`);

  (spec.schedule?.windows ?? []).forEach((w, i) => {
    if (w.timeZone !== undefined && !validTimeZone(w.timeZone)) violations.push(`spec.schedule.windows[${i}]: unknown time zone ${w.timeZone}; use an IANA name such as Europe/Berlin`);
    // An end before the start runs past midnight (22:00-06:00, its days naming the day it starts on).
    if (w.start === w.end) violations.push(`spec.schedule.windows[${i}]: start and end are both ${w.start}, so the window never opens; for all day use 00:00-24:00, and for a night 22:00-06:00 (an end before the start runs past midnight)`);
  });
  return { allowed: violations.length === 0, violations, warnings };
}

export function validateSkillPolicy(policy: SkillPolicy): PolicyVerdict {
  return validateSkillPolicySpec(policy.spec ?? {});
}
