// Compiling one SkillPolicy: every glob list, keyword list, regex and time window becomes a matcher
// once per policy generation, so evaluation never parses policy text. Compiling also validates:
// `policyProblems` lists what is wrong in terms a policy author can fix (field path + reason).
import type { ApprovalRule, SkillPolicy } from '@skillgate/api';
import { compileDomains, compileGlobs, type GlobSet } from './glob.js';
import { compileWindow, type CompiledWindow } from './schedule.js';
import { approvalPatternProblem, compileApprovalPattern, type ApprovalPattern } from './pattern.js';
// The custom-entity rules alone (the masking package's index loads its dictionaries and detectors).
import { validateCustomEntity } from '@skillgate/masking/detectors/custom';
import { readAsDetected } from '@skillgate/masking/fold';

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

const KEYWORD_SPECIAL = /[.*+?^${}()|[\]\\]/g;

/**
 * Cyrillic and Greek letters that look like Latin ones, and the Latin letters they are read as (with
 * the dotless ı and ȷ): "sаlary" with a Cyrillic а is salary. Only this set; other scripts' letters,
 * and look-alikes that are no letters (digits for letters: "5alary"), read as they are. Each letter
 * comes with its other case, read as the same Latin letter in that case, so the expressions' case
 * folding (`iu`) sees the reading as it saw the letter: a Greek or Cyrillic keyword still matches its
 * own words in either case. Where the two cases look like different Latin letters (Greek Ν ν, Η η),
 * the capital decides. Compatibility variants (ϰ, ϱ, µ) reach their letter by NFKD first; the
 * Cyrillic small letters' old forms (U+1C80–1C85, which fold to в, о, с, т) are listed.
 */
const LOOKALIKES = [
  // Cyrillic: capital, small, and the Latin capital and small they read as.
  'АаAa', 'ВвBb', 'ЕеEe', 'КкKk', 'МмMm', 'НнHh', 'ОоOo', 'РрPp', 'СсCc', 'ТтTt', 'УуYy', 'ХхXx',
  'ЅѕSs', 'ІіIi', 'ЈјJj', 'ԚԛQq', 'ԜԝWw', 'ҺһHh', 'ӀӏLl', 'ԀԁDd', 'ҮүYy', 'ѴѵVv',
  // Greek, likewise.
  'ΑαAa', 'ΒβBb', 'ΕεEe', 'ΖζZz', 'ΗηHh', 'ΙιIi', 'ΚκKk', 'ΜμMm', 'ΝνNn', 'ΟοOo', 'ΡρPp', 'ΤτTt',
  'ΥυYy', 'ΧχXx', 'ϹϲCc', 'ͿϳJj',
  // One case each: old forms of Cyrillic в о с т т, and Latin letters without their dots.
  '\u1c80b', '\u1c82o', '\u1c83c', '\u1c84t', '\u1c85t', 'ıi', 'ȷj',
];
const LATIN_LOOKALIKES = new Map<string, string>(LOOKALIKES.flatMap((e): Array<[string, string]> => (e.length === 4 ? [[e[0]!, e[2]!], [e[1]!, e[3]!]] : [[e[0]!, e[1]!]])));
const LATIN_LOOKALIKE = new RegExp(`[${[...LATIN_LOOKALIKES.keys()].join('')}]`, 'gu');
const MARKS = /\p{M}+/gu;
const WHITESPACE = /\p{White_Space}+/u;

/**
 * How keyword rules read a text — the policy's keywords and the newest turn alike (evaluate.ts) — so
 * that what Claude reads as the keyword matches it: as masking's detectors read it (readAsDetected:
 * full-width forms as ASCII, zero-width characters as nothing), then compatibility forms as their
 * plain letters (NFKD: "ﬁ" is fi, "ⓢ" s; a sign NFKD would spell as several, "™", as a space), without combining marks ("s̲a̲l̲a̲r̲y̲" and "sálary"
 * are salary, "CREDİT" CREDIT), and with the Latin look-alikes above as Latin. Case is left to the
 * expressions' `iu` folding, the same in the prefilter and in each rule. Lengths change, so an offset
 * in the reading is no offset in the text: nothing reports one (a reason quotes the keyword read).
 * Pure; an ASCII text (most turns) is returned as masking reads it, without another pass.
 */
export function readAsKeywords(text: string): string {
  return keywordReading(readAsDetected(text));
}

/** readAsKeywords of a text already read as masking's detectors read it (readAsDetected). */
export function keywordReading(detected: string): string {
  // All ASCII iff one UTF-8 byte per code unit: Node counts them with SIMD, a third of the time a
  // /[^\x00-\x7f]/ scan takes on a turn of some KB (bench/policy/evaluate.mjs).
  if (Buffer.byteLength(detected, 'utf8') === detected.length) return detected;
  return detected.replace(SYMBOL, symbolReading).normalize('NFKD').replace(MARKS, '').replace(LATIN_LOOKALIKE, (c) => LATIN_LOOKALIKES.get(c)!);
}

/**
 * Symbols and number signs whose compatibility form is several characters ("™" TM, "⑩" 10, "½"
 * 1⁄2) read as a space: NFKD would glue them to the word before ("salary™" would read "salaryTM",
 * and no keyword would match there), while Claude reads a word and a sign. One that is one character
 * ("ⓢ" s, "①" 1) is left for NFKD. Kept per symbol (emoji are symbols too), bounded.
 */
const SYMBOL = /[\p{S}\p{No}]/gu;
const SYMBOL_READINGS_MAX = 4096;
const symbolReadings = new Map<string, string>();
function symbolReading(c: string): string {
  let reading = symbolReadings.get(c);
  if (reading === undefined) {
    reading = [...c.normalize('NFKD').replace(MARKS, '')].length > 1 ? ' ' : c;
    if (symbolReadings.size >= SYMBOL_READINGS_MAX) symbolReadings.clear();
    symbolReadings.set(c, reading);
  }
  return reading;
}

/**
 * The keywords as one alternation, each read as the turn is (readAsKeywords) and escaped; a keyword
 * of several words matches them with any run of whitespace between (Unicode White_Space: spaces,
 * tabs, line breaks, no-break spaces). A keyword that reads as nothing is left out (policyProblems
 * refuses it).
 */
export function keywordAlternation(keywords: readonly string[]): string {
  return keywords.map(keywordSource).filter((k) => k.length > 0).join('|');
}

function keywordSource(keyword: string): string {
  return keywordWords(keyword).map((w) => w.replace(KEYWORD_SPECIAL, '\\$&')).join('\\p{White_Space}+');
}

function keywordWords(keyword: string): string[] {
  return readAsKeywords(keyword).split(WHITESPACE).filter((w) => w.length > 0);
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
