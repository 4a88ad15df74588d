// Compiling one SkillPolicy: every glob list, keyword list, regex and time window becomes a matcher
// once per policy generation, so evaluation never parses policy text. Compiling also validates:
// `policyProblems` lists what is wrong in terms a policy author can fix (field path + reason).
import type { ApprovalRule, SkillPolicy } from '@skillgate/api';
import { compileDomains, compileGlobs, type GlobSet } from './glob.js';
import { compileWindow, type CompiledWindow } from './schedule.js';
import { approvalPatternProblem, compileApprovalPattern, type ApprovalPattern } from './pattern.js';
// The custom-entity rules alone (the masking package's index loads its dictionaries and detectors).
import { validateCustomEntity } from '@skillgate/masking/detectors/custom';
import { keywordAlternation, keywordWords } from './keyword-reading.js';

export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 300;

export interface CompiledRule {
  /** "policy/rule", unique across combined policies. */
  id: string;
  policy: string;
  name: string;
  models?: GlobSet;
  tools?: GlobSet;
  serverTools?: GlobSet;
  mcpServers?: boolean;
  fetchDomains?: GlobSet;
  findings?: Array<{ type: string; min: number }>;
  /** Case-insensitive alternation of the keywords (read as readAsKeywords reads them), matched on word boundaries (letters, digits, _). */
  keywords?: RegExp;
  /** The same expression, sticky: does a keyword of this rule match exactly where lastIndex is. */
  keywordsAt?: RegExp;
  /** On re2js (pattern.ts): the text they read comes from the skill. */
  patterns?: ApprovalPattern[];
  inputTokensOver?: number;
  firstToolUse?: boolean;
  approvers: { groups: string[]; users: string[]; quorum: number };
  timeoutMs: number;
}

export interface CompiledPolicy {
  /** namespace/name */
  name: string;
  generation: number;
  source: SkillPolicy;
  models?: { allow?: GlobSet; deny?: GlobSet };
  maxTokens?: number;
  tools?: { allow?: GlobSet; deny?: GlobSet; serverTools?: GlobSet; fetchDomains?: GlobSet };
  mcpAllow?: GlobSet;
  containerSkillsAllow?: GlobSet;
  egressAllowHosts?: readonly string[];
  schedule?: CompiledWindow[];
  rules: CompiledRule[];
}

export class PolicyInvalidError extends Error {
  constructor(readonly policy: string, readonly problems: string[]) {
    super(`SkillPolicy ${policy} is invalid: ${problems.join('; ')}`);
    this.name = 'PolicyInvalidError';
  }
}

export function policyName(p: SkillPolicy): string {
  return `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
}

function compileRule(policy: string, rule: ApprovalRule, defaultTimeout: number, problems: string[], at: string): CompiledRule {
  const w = rule.when ?? {};
  const out: CompiledRule = {
    id: `${policy}/${rule.name}`,
    policy,
    name: rule.name,
    approvers: {
      groups: rule.approvers?.groups ?? [],
      users: rule.approvers?.users ?? [],
      quorum: Math.max(1, rule.approvers?.quorum ?? 1),
    },
    timeoutMs: (rule.timeoutSeconds ?? defaultTimeout) * 1000,
  };
  if (!rule.name) problems.push(`${at}.name: required`);
  if (rule.timeoutSeconds !== undefined && !(rule.timeoutSeconds > 0)) problems.push(`${at}.timeoutSeconds: must be > 0`);
  if (rule.approvers?.quorum !== undefined && !(Number.isInteger(rule.approvers.quorum) && rule.approvers.quorum >= 1)) problems.push(`${at}.approvers.quorum: must be an integer >= 1`);
  if (w.models) out.models = compileGlobs(w.models);
  if (w.tools) out.tools = compileGlobs(w.tools);
  if (w.serverTools) out.serverTools = compileGlobs(w.serverTools);
  if (w.mcpServers !== undefined) out.mcpServers = w.mcpServers;
  if (w.fetchDomains) out.fetchDomains = compileDomains(w.fetchDomains);
  if (w.findings) out.findings = w.findings.map((f) => ({ type: f.type, min: f.min ?? 1 }));
  w.keywords?.forEach((k, i) => {
    if (keywordWords(k).length === 0) problems.push(`${at}.when.keywords[${i}]: ${JSON.stringify(k)} reads as no word (only whitespace, marks or invisible characters) and would match anywhere`);
  });
  if (w.keywords?.length) {
    // Word boundaries inside the expression, so that when one keyword's match is not a whole word
    // the engine still tries the others at the same place ("pass" must not hide "password").
    const source = `(?<![\\p{L}\\p{N}_])(?:${keywordAlternation(w.keywords)})(?![\\p{L}\\p{N}_])`;
    out.keywords = new RegExp(source, 'iu');
    out.keywordsAt = new RegExp(source, 'iuy');
  }
  if (w.patterns?.length) {
    out.patterns = [];
    w.patterns.forEach((p, i) => {
      const problem = approvalPatternProblem(p);
      if (problem) problems.push(`${at}.when.patterns[${i}]: ${problem}`);
      else out.patterns!.push(compileApprovalPattern(p));
    });
  }
  if (w.inputTokensOver !== undefined) out.inputTokensOver = w.inputTokensOver;
  if (w.firstToolUse !== undefined) out.firstToolUse = w.firstToolUse;
  if (Object.keys(w).length === 0) problems.push(`${at}.when: at least one condition is required (an empty rule would hold every request)`);
  return out;
}

/** Compiles a policy or throws PolicyInvalidError listing every problem found. */
export function compilePolicy(p: SkillPolicy): CompiledPolicy {
  const name = policyName(p);
  const problems: string[] = [];
  const spec = p.spec ?? {};
  const out: CompiledPolicy = { name, generation: p.metadata.generation ?? 0, source: p, rules: [] };
  if (spec.models) {
    out.models = {};
    if (spec.models.allow) out.models.allow = compileGlobs(spec.models.allow);
    if (spec.models.deny) out.models.deny = compileGlobs(spec.models.deny);
  }
  if (spec.maxTokens !== undefined) {
    if (!(Number.isInteger(spec.maxTokens) && spec.maxTokens > 0)) problems.push('spec.maxTokens: must be a positive integer');
    out.maxTokens = spec.maxTokens;
  }
  if (spec.tools) {
    out.tools = {};
    if (spec.tools.allow) out.tools.allow = compileGlobs(spec.tools.allow);
    if (spec.tools.deny) out.tools.deny = compileGlobs(spec.tools.deny);
    if (spec.tools.serverTools) out.tools.serverTools = compileGlobs(spec.tools.serverTools);
    if (spec.tools.fetchDomains) out.tools.fetchDomains = compileDomains(spec.tools.fetchDomains);
  }
  if (spec.mcpServers?.allowUrls) out.mcpAllow = compileGlobs(spec.mcpServers.allowUrls, { ignoreCase: true });
  if (spec.containerSkills?.allow) out.containerSkillsAllow = compileGlobs(spec.containerSkills.allow);
  if (spec.egress?.allowHosts) out.egressAllowHosts = spec.egress.allowHosts;
  for (const [k, v] of Object.entries(spec.rateLimits ?? {})) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) problems.push(`spec.rateLimits.${k}: must be a positive integer`);
  }
  if (spec.schedule) {
    out.schedule = [];
    (spec.schedule.windows ?? []).forEach((w, i) => {
      try {
        out.schedule!.push(compileWindow(w));
      } catch (err) {
        problems.push(`spec.schedule.windows[${i}]: ${(err as Error).message}`);
      }
    });
  }
  const mode = spec.masking?.mode;
  if (mode !== undefined && !['record', 'request', 'response', 'both', 'tokenize'].includes(mode)) problems.push(`spec.masking.mode: unknown mode ${mode}`);
  // Custom entities by the masker's own rules (RE2 syntax, no anchors or nested quantifiers...): a
  // policy the masker cannot run is refused here, with the reason, not at its first request.
  for (const [i, c] of (spec.masking?.custom ?? []).entries()) {
    for (const problem of validateCustomEntity(c)) problems.push(`spec.masking.custom[${i}].${problem.field}: ${problem.message}`);
  }
  const defaultTimeout = spec.approval?.defaultTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS;
  if (!(defaultTimeout > 0)) problems.push('spec.approval.defaultTimeoutSeconds: must be > 0');
  const seen = new Set<string>();
  (spec.approval?.rules ?? []).forEach((rule, i) => {
    const at = `spec.approval.rules[${i}]`;
    if (seen.has(rule.name)) problems.push(`${at}.name: duplicate rule name ${rule.name}`);
    seen.add(rule.name);
    out.rules.push(compileRule(name, rule, defaultTimeout, problems, at));
  });
  if (problems.length) throw new PolicyInvalidError(name, problems);
  return out;
}

/** Problems that would make the policy fail to load ([] = valid). */
export function policyProblems(p: SkillPolicy): string[] {
  try {
    compilePolicy(p);
    return [];
  } catch (err) {
    if (err instanceof PolicyInvalidError) return err.problems;
    return [(err as Error).message];
  }
}
