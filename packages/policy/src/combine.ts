// Combining the SkillPolicies that select one skill into the single EffectivePolicy the sidecar
// enforces. The rule is: MOST RESTRICTIVE WINS, field by field, so adding a policy can only take
// permissions away, never grant them.
//
//   models.allow, tools.allow, tools.serverTools,     every policy that sets the list must allow the
//   tools.fetchDomains, mcpServers.allowUrls,         value (intersection); a policy that leaves it
//   containerSkills.allow, schedule.windows           out does not restrict it
//   models.deny, tools.deny                           union: denied by any policy
//   maxTokens, rateLimits.*                           minimum (and the policy that set it is named)
//   egress.allowHosts                                 intersection (a pattern survives when every other
//                                                     policy that sets a list matches it)
//   approval.rules                                    union: a rule of any policy can hold a request;
//                                                     several matching rules → max quorum, union of
//                                                     approver groups/users, shortest timeout
//   masking.mode                                      union of directions: request+response → both;
//                                                     tokenize unless some policy masks responses
//   masking.entities / defaultAction                  enabled if any enables it; strictest action
//                                                     (redact > hash > tokenize > partial)
//   masking.thinking                                  true if any says true; custom entities: union
//   recording.bodies                                  digest beats masked; sessionGapSeconds: minimum;
//                                                     sessionHeader: first policy (by name) that sets it
//
// No policy at all: everything the sidecar's defaults allow (record-mode masking, masked bodies).
// Pure; compiles each policy once (compilePolicy throws PolicyInvalidError on a bad policy).
import type { MaskingAction, MaskingMode, MaskingSpec, RecordingSpec, SkillPolicy } from '@skillgate/api';
import { compileGlobs } from './glob.js';
import { compilePolicy, type CompiledPolicy, type CompiledRule } from './compile.js';
import { keywordAlternation } from './keyword-reading.js';
import { anyApprovalPattern, type ApprovalPattern } from './pattern.js';

export interface Limit { value: number; policy: string }

export interface EffectivePolicy {
  /** "namespace/name@generation" of each combined policy, sorted. */
  policies: string[];
  /** Changes whenever any combined policy's generation changes. */
  key: string;
  compiled: CompiledPolicy[];
  maxTokens?: Limit;
  rateLimits: { requestsPerMinute?: Limit; tokensPerMinute?: Limit };
  /** undefined: no policy restricts egress hosts beyond the sidecar's own config. */
  egressAllowHosts?: string[];
  masking: MaskingSpec & { mode: MaskingMode };
  recording: RecordingSpec & { bodies: 'masked' | 'digest' };
  rules: CompiledRule[];
  /**
   * One regex over every rule's keywords, and one over every rule's patterns: a single scan of the
   * newest turn dismisses all text rules when nothing can match (the common case). The keywords'
   * one is global and folds case as the rules' own expressions do (`iu`), so the places it finds
   * are every place a rule's keyword can start (evaluate.ts checks each rule only there). The
   * patterns' one runs on re2js, as the patterns do (pattern.ts).
   */
  prefilter: { keywords?: RegExp; patterns?: ApprovalPattern };
}

const ACTION_RANK: Record<MaskingAction, number> = { partial: 0, tokenize: 1, hash: 2, redact: 3 };
const stricter = (a: MaskingAction | undefined, b: MaskingAction | undefined): MaskingAction | undefined =>
  a === undefined ? b : b === undefined ? a : ACTION_RANK[a] >= ACTION_RANK[b] ? a : b;

function minLimit(cur: Limit | undefined, value: number | undefined, policy: string): Limit | undefined {
  if (value === undefined) return cur;
  return cur === undefined || value < cur.value ? { value, policy } : cur;
}

export function combineMaskingModes(modes: readonly MaskingMode[]): MaskingMode {
  let up = false;
  let down = false;
  let tokenize = false;
  for (const m of modes) {
    if (m === 'request' || m === 'both') up = true;
    if (m === 'response' || m === 'both') down = true;
    if (m === 'tokenize') tokenize = true;
  }
  if (down && (up || tokenize)) return 'both';
  if (down) return 'response';
  if (tokenize) return 'tokenize';
  if (up) return 'request';
  return 'record';
}

function combineMasking(specs: readonly MaskingSpec[]): EffectivePolicy['masking'] {
  const entities = new Map<string, { type: string; action?: MaskingAction; enabled?: boolean }>();
  const custom = new Map<string, NonNullable<MaskingSpec['custom']>[number]>();
  let defaultAction: MaskingAction | undefined;
  let thinking = false;
  for (const s of specs) {
    for (const e of s.entities ?? []) {
      const cur = entities.get(e.type);
      const action = stricter(cur?.action, e.action);
      const enabled = (cur?.enabled ?? false) || e.enabled !== false;
      entities.set(e.type, { type: e.type, ...(action ? { action } : {}), enabled });
    }
    for (const c of s.custom ?? []) {
      const cur = custom.get(c.name);
      if (!cur) custom.set(c.name, c);
      else {
        const action = stricter(cur.action, c.action);
        custom.set(c.name, { ...cur, keywords: [...new Set([...(cur.keywords ?? []), ...(c.keywords ?? [])])], ...(action ? { action } : {}) });
      }
    }
    defaultAction = stricter(defaultAction, s.defaultAction);
    thinking ||= s.thinking === true;
  }
  const out: EffectivePolicy['masking'] = { mode: combineMaskingModes(specs.map((s) => s.mode ?? 'record')) };
  if (entities.size) out.entities = [...entities.values()];
  if (defaultAction) out.defaultAction = defaultAction;
  if (thinking) out.thinking = true;
  if (custom.size) out.custom = [...custom.values()];
  return out;
}

function combineRecording(specs: readonly RecordingSpec[]): EffectivePolicy['recording'] {
  const out: EffectivePolicy['recording'] = { bodies: specs.some((s) => s.bodies === 'digest') ? 'digest' : 'masked' };
  for (const s of specs) {
    if (s.sessionHeader && !out.sessionHeader) out.sessionHeader = s.sessionHeader;
    if (s.sessionGapSeconds !== undefined) out.sessionGapSeconds = Math.min(out.sessionGapSeconds ?? Infinity, s.sessionGapSeconds);
  }
  return out;
}

/**
 * Intersection of host allowlists: keep a pattern when every other list allows all it allows. A
 * plain host is kept when every other list matches it. A pattern with wildcards is kept only when
 * every other list has one that plainly covers it ("*", the same pattern, or "*.suffix" for a
 * pattern ending in ".suffix"): matching the pattern's text would let "?.example.com" keep
 * "*.example.com" ('?' matches the '*'). In doubt a pattern is dropped: the result is never wider.
 */
function intersectHosts(lists: ReadonlyArray<readonly string[]>): string[] | undefined {
  if (lists.length === 0) return undefined;
  if (lists.length === 1) return [...lists[0]!];
  const matchers = lists.map((l) => compileGlobs(l, { ignoreCase: true }));
  const out = new Set<string>();
  lists.forEach((list, i) => {
    for (const p of list) {
      const kept = WILDCARD.test(p)
        ? lists.every((other, j) => j === i || other.some((q) => covers(q, p)))
        : matchers.every((m, j) => j === i || m.test(p));
      if (kept) out.add(p);
    }
  });
  return [...out];
}

const WILDCARD = /[*?[\]{}]/;

/** Whether host pattern `q` allows every host pattern `p` allows, decided plainly. */
function covers(q: string, p: string): boolean {
  const [ql, pl] = [q.toLowerCase(), p.toLowerCase()];
  if (ql === '*' || ql === pl) return true;
  const suffix = /^\*(\..+)$/.exec(ql)?.[1];
  return suffix !== undefined && !WILDCARD.test(suffix) && pl.endsWith(suffix) && pl.length > suffix.length;
}

/** Combine the policies that select one skill (most restrictive wins; see the table above). */
export function combine(policies: ReadonlyArray<SkillPolicy | CompiledPolicy>): EffectivePolicy {
  const compiled = policies.map((p) => ('rules' in p && 'source' in p ? p : compilePolicy(p)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const eff: EffectivePolicy = {
    policies: compiled.map((c) => `${c.name}@${c.generation}`),
    key: '',
    compiled,
    rateLimits: {},
    masking: combineMasking(compiled.map((c) => c.source.spec?.masking ?? {})),
    recording: combineRecording(compiled.map((c) => c.source.spec?.recording ?? {})),
    rules: compiled.flatMap((c) => c.rules),
    prefilter: {},
  };
  const keywords = compiled.flatMap((c) => (c.source.spec?.approval?.rules ?? []).flatMap((r) => r.when?.keywords ?? []));
  if (keywords.length) eff.prefilter.keywords = new RegExp(keywordAlternation([...new Set(keywords)]), 'giu');
  // On re2js, as the patterns themselves (pattern.ts); none when they cannot be combined.
  const patterns = [...new Set(eff.rules.flatMap((r) => r.patterns?.map((p) => p.source) ?? []))];
  const anyPattern = anyApprovalPattern(patterns);
  if (anyPattern) eff.prefilter.patterns = anyPattern;
  eff.key = eff.policies.join(',');
  const hostLists: string[][] = [];
  for (const c of compiled) {
    const spec = c.source.spec ?? {};
    const maxTokens = minLimit(eff.maxTokens, c.maxTokens, c.name);
    if (maxTokens) eff.maxTokens = maxTokens;
    const rpm = minLimit(eff.rateLimits.requestsPerMinute, spec.rateLimits?.requestsPerMinute, c.name);
    if (rpm) eff.rateLimits.requestsPerMinute = rpm;
    const tpm = minLimit(eff.rateLimits.tokensPerMinute, spec.rateLimits?.tokensPerMinute, c.name);
    if (tpm) eff.rateLimits.tokensPerMinute = tpm;
    if (c.egressAllowHosts) hostLists.push([...c.egressAllowHosts]);
  }
  const hosts = intersectHosts(hostLists);
  if (hosts) eff.egressAllowHosts = hosts;
  return eff;
}

/** The effective policy of a skill no SkillPolicy selects. */
export const NO_POLICY: EffectivePolicy = combine([]);
