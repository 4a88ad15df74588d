// Evaluating one request against an EffectivePolicy: allow, deny (naming the policy and the rule,
// saying what to change), or hold for approval (naming the matched rules and why). Pure and fast:
// every matcher was compiled by `combine`; evaluation walks the request's facts once per check and
// never builds a regex. Rate limits are not here: they need shared counters (the sidecar's Guard).
import type { MessagesRequest, RouteKind } from '@skillgate/wire';
import { isRecord } from '@skillgate/wire';
import type { CompiledRule } from './compile.js';
import { keywordReading, quotedKeyword } from './keyword-reading.js';
import type { EffectivePolicy } from './combine.js';
import { insideWindow } from './schedule.js';
import { requestFacts, requestFactsOn, urlHosts, type RequestFacts } from './request-facts.js';
import { normalizeHost } from './glob.js';
import { isHostName } from '@skillgate/api';
// The fold alone (the masking package's index loads its detectors and dictionaries).
import { readAsDetected } from '@skillgate/masking/fold';

export interface Finding { type: string; subtype?: string }

export interface EvaluationInput {
  route: RouteKind;
  request?: MessagesRequest;
  /** Pre-extracted facts (the Guard extracts them once and shares them with masking). */
  facts?: RequestFacts;
}

export interface EvaluationContext {
  now: Date;
  /** Masking findings in the newest turn. Undefined = not computed: finding rules then match (fail closed). */
  findings?: readonly Finding[];
  /**
   * The findings in one newest turn's text: how each request of a Message Batch gets its own (a
   * batch has no newest turn of its own). Without it, or when it returns undefined, a batch
   * request's findings are unknown and finding rules match (fail closed).
   */
  findingsOf?: (newestTurn: string) => readonly Finding[] | undefined;
  /** Tools (custom names and server families) this skill used before. Undefined = none known. */
  toolsSeenBefore?: ReadonlySet<string>;
  estimatedTokens: number;
}

export interface Approvers { groups: string[]; users: string[]; quorum: number }

/** What one matched rule asks for: `quorum` distinct approvals from its own approvers. */
export interface RuleApprovers extends Approvers { rule: string }

export type Decision =
  | { kind: 'allow' }
  | { kind: 'deny'; policy: string; rule: string; reason: string }
  /**
   * `requirements`: one per matched rule, each to be met by its own approvers (never united).
   * `matchedRequests`, for a Message Batch: the requests that matched the rules (their place in
   * `requests` and custom_id), in order — the batch is held for them, and only them.
   */
  | { kind: 'approval'; policy: string; rules: string[]; reasons: string[]; timeoutMs: number; requirements: RuleApprovers[]; matchedRequests?: Array<{ index: number; customId: string }> };

const ALLOW: Decision = Object.freeze({ kind: 'allow' });

function deny(policy: string, rule: string, reason: string): Decision {
  return { kind: 'deny', policy, rule, reason };
}

export function evaluate(policy: EffectivePolicy, input: EvaluationInput, ctx: EvaluationContext): Decision {
  // Schedule applies to every route: outside its windows a skill may not call Claude at all.
  for (const c of policy.compiled) {
    if (c.schedule && !c.schedule.some((w) => insideWindow(w, ctx.now))) {
      return deny(c.name, 'schedule', `requests are allowed only during ${c.schedule.map((w) => w.text).join(' or ') || 'no window (empty schedule)'}; retry inside a window`);
    }
  }
  switch (input.route) {
    case 'messages':
      return evaluateMessages(policy, input.facts ?? requestFacts(input.request), ctx, true);
    case 'count_tokens':
      return evaluateMessages(policy, input.facts ?? requestFacts(input.request), ctx, false);
    case 'complete':
      // A legacy Text Completions request: its model, max_tokens_to_sample and newest Human turn.
      return evaluateMessages(policy, input.facts ?? requestFacts(input.request), ctx, true);
    case 'batch_create':
      return evaluateBatch(policy, input.request, ctx);
    case 'openai_chat': {
      // The OpenAI-compatible endpoint, governed as Messages are; its token cap is optional there,
      // so under a maxTokens cap it must be given.
      const f = input.facts ?? requestFactsOn(input.route, input.request);
      if (policy.maxTokens && f.maxTokens === undefined) {
        return deny(policy.maxTokens.policy, 'maxTokens', `set max_completion_tokens (at most ${policy.maxTokens.value}): this policy caps output tokens`);
      }
      return evaluateMessages(policy, f, ctx, true);
    }
    default:
      return ALLOW;
  }
}

/** Deny checks, then approval rules. `generating` is false for count_tokens (no max_tokens, no holds). */
function evaluateMessages(policy: EffectivePolicy, f: RequestFacts, ctx: EvaluationContext, generating: boolean): Decision {
  const denied = denyChecks(policy, f, generating);
  if (denied) return denied;
  if (!generating || policy.rules.length === 0) return ALLOW;
  return approvalRules(policy.rules, policy.prefilter, f, ctx);
}

function denyChecks(policy: EffectivePolicy, f: RequestFacts, generating: boolean): Decision | undefined {
  for (const c of policy.compiled) {
    if (f.model !== undefined && c.models) {
      if (c.models.deny?.test(f.model)) return deny(c.name, 'models.deny', `model ${f.model} is denied (${c.models.deny.patterns.join(', ')})`);
      if (c.models.allow && !c.models.allow.test(f.model)) return deny(c.name, 'models.allow', `model ${f.model} is not allowed; use one of: ${c.models.allow.patterns.join(', ') || '(none)'}`);
    }
    const t = c.tools;
    if (t) {
      for (const name of f.customTools) {
        if (t.deny?.test(name)) return deny(c.name, 'tools.deny', `tool ${name} is denied; remove it from tools`);
        if (t.allow && !t.allow.test(name)) return deny(c.name, 'tools.allow', `tool ${name} is not allowed; allowed tools: ${t.allow.patterns.join(', ') || '(none)'}`);
      }
      for (const family of f.serverTools) {
        if (t.deny?.test(family)) return deny(c.name, 'tools.deny', `server tool ${family} is denied; remove it from tools`);
        if (t.serverTools && !t.serverTools.test(family)) return deny(c.name, 'tools.serverTools', `server tool ${family} is not allowed; allowed server tools: ${t.serverTools.patterns.join(', ') || '(none)'}`);
      }
      if (t.fetchDomains) {
        for (const ft of f.fetchTools) {
          if (!ft.allowedDomains?.length) return deny(c.name, 'tools.fetchDomains', `${ft.family} must set allowed_domains within: ${t.fetchDomains.patterns.join(', ')}`);
          for (const d of ft.allowedDomains) {
            // A domain is a domain: "evil.com?.example.com" ends like an allowed one but is not one of its subdomains.
            if (!isHostName(normalizeHost(d).replace(/^\*\./, ''))) return deny(c.name, 'tools.fetchDomains', `${ft.family} domain ${JSON.stringify(d)} is not a domain name; allowed domains: ${t.fetchDomains.patterns.join(', ')}`);
            if (!t.fetchDomains.test(d)) return deny(c.name, 'tools.fetchDomains', `${ft.family} domain ${d} is not allowed; allowed domains: ${t.fetchDomains.patterns.join(', ')}`);
          }
        }
      }
    }
    if (c.mcpAllow) {
      for (const url of f.mcpServerUrls) {
        if (!c.mcpAllow.test(url)) return deny(c.name, 'mcpServers.allowUrls', `MCP server ${url} is not allowed; allowed: ${c.mcpAllow.patterns.join(', ') || '(none)'}`);
      }
    }
    if (c.containerSkillsAllow) {
      for (const id of f.containerSkills) {
        if (!c.containerSkillsAllow.test(id)) return deny(c.name, 'containerSkills.allow', `container skill ${id} is not allowed; allowed: ${c.containerSkillsAllow.patterns.join(', ') || '(none)'}`);
      }
    }
  }
  if (generating && policy.maxTokens && f.maxTokens !== undefined && f.maxTokens > policy.maxTokens.value) {
    return deny(policy.maxTokens.policy, 'maxTokens', `max_tokens ${f.maxTokens} exceeds the cap of ${policy.maxTokens.value}; lower max_tokens`);
  }
  return undefined;
}

/**
 * Per-request memo shared by all rules: where any keyword starts in the newest turn, its URL hosts,
 * and the result of each distinct regex source, so fifty rules scan the turn once per distinct
 * condition.
 */
export interface Scratch {
  prefilter: EffectivePolicy['prefilter'];
  /** The newest turn as masking's detectors read it (full-width forms and the like as ASCII; fold.ts). */
  turn?: string;
  /** The newest turn as keyword rules read it (keyword-reading.ts: readAsKeywords): also without combining marks, Latin look-alikes as Latin. */
  keywordTurn?: string;
  /** Where a keyword of any rule starts in the newest turn, ascending ('too many': each rule scans alone); set by the first keyword rule. */
  keywordStarts?: number[] | 'too many';
  anyPattern?: boolean;
  hosts?: string[];
  patterns: Map<string, boolean>;
}

export function newScratch(prefilter: EffectivePolicy['prefilter'] = {}): Scratch {
  return { prefilter, patterns: new Map() };
}

/**
 * The newest turn as the text rules read it: as masking's detectors do, so "ｓａｌａｒｙ" is salary,
 * "ｈｔｔｐｓ：／／…" a URL and "sal\u200bary" (a zero-width space inside) salary too.
 */
function turnOf(f: RequestFacts, scratch: Scratch): string {
  return (scratch.turn ??= readAsDetected(f.newestTurn));
}

/**
 * The newest turn as URL hosts are read from it: a backslash is the slash a URL reader takes it for
 * (`https:\\evil.com`), read so before the detectors' reading, which takes `\\` for a JSON escape.
 */
function urlTurnOf(f: RequestFacts, scratch: Scratch): string {
  return f.newestTurn.includes('\\') ? readAsDetected(f.newestTurn.replaceAll('\\', '/')) : turnOf(f, scratch);
}

/**
 * The newest turn as keyword rules read it, keywords having been read the same way (keyword-reading.ts):
 * "s̲a̲l̲a̲r̲y̲", "sálary" and "sаlary" (a Cyrillic а) are salary, "CREDİT CARD" credit card. Patterns
 * and URL hosts keep the reading above: a pattern may mean the marks it names.
 */
function keywordTurnOf(f: RequestFacts, scratch: Scratch): string {
  return (scratch.keywordTurn ??= keywordReading(turnOf(f, scratch)));
}

/** Past this many places where a keyword starts, each rule scans the turn on its own instead. */
const MAX_KEYWORD_STARTS = 256;

/**
 * Every place in `text` where one of the policies' keywords starts, boundaries aside: one scan of
 * the prefilter (all keywords, global, the rules' case folding), moving on one code point after each
 * start so that keywords overlapping one another ("secret project", "project x") are all found.
 */
function keywordStarts(prefilter: RegExp, text: string): number[] | 'too many' {
  const starts: number[] = [];
  prefilter.lastIndex = 0;
  for (let m = prefilter.exec(text); m !== null; m = prefilter.exec(text)) {
    if (starts.length === MAX_KEYWORD_STARTS) return 'too many';
    starts.push(m.index);
    prefilter.lastIndex = m.index + ((text.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1);
  }
  return starts;
}

/**
 * The first keyword of rule `r` (boundaries included) in `text`, quoted. Where the policy's
 * keyword starts are known, the rule's sticky expression is tried at each of them in order: the
 * leftmost place it matches is where its own scan of the whole text would have found it.
 */
function findKeyword(r: CompiledRule, text: string, scratch: Scratch): string | undefined {
  if (scratch.prefilter.keywords && r.keywordsAt) {
    const starts = (scratch.keywordStarts ??= keywordStarts(scratch.prefilter.keywords, text));
    if (starts !== 'too many') {
      for (const at of starts) {
        r.keywordsAt.lastIndex = at;
        const m = r.keywordsAt.exec(text);
        if (m) return quotedKeyword(m[0]);
      }
      return undefined;
    }
  }
  const m = r.keywords!.exec(text);
  return m ? quotedKeyword(m[0]) : undefined;
}

/**
 * Why a rule matches (every condition it sets must match), or undefined when it does not. Cheap
 * conditions run first so most rules are dismissed before any text is scanned.
 */
export function matchRule(r: CompiledRule, f: RequestFacts, ctx: EvaluationContext, scratch: Scratch = newScratch()): string | undefined {
  const why: string[] = [];
  if (r.models) {
    if (f.model === undefined || !r.models.test(f.model)) return undefined;
    why.push(`model ${f.model}`);
  }
  if (r.tools) {
    const hit = f.customTools.find((n) => r.tools!.test(n));
    if (hit === undefined) return undefined;
    why.push(`tool ${hit}`);
  }
  if (r.serverTools) {
    const hit = f.serverTools.find((n) => r.serverTools!.test(n));
    if (hit === undefined) return undefined;
    why.push(`server tool ${hit}`);
  }
  if (r.mcpServers !== undefined) {
    if ((f.mcpServerUrls.length > 0) !== r.mcpServers) return undefined;
    if (r.mcpServers) why.push(`MCP servers ${f.mcpServerUrls.length}`);
  }
  if (r.inputTokensOver !== undefined) {
    if (!(ctx.estimatedTokens > r.inputTokensOver)) return undefined;
    why.push(`~${ctx.estimatedTokens} input tokens > ${r.inputTokensOver}`);
  }
  if (r.firstToolUse) {
    const seen = ctx.toolsSeenBefore;
    const fresh = [...f.customTools, ...f.serverTools].find((n) => !seen?.has(n));
    if (fresh === undefined) return undefined;
    why.push(`first use of tool ${fresh}`);
  }
  if (r.findings) {
    if (ctx.findings === undefined) {
      why.push('findings unknown (masking engine unavailable)');
    } else {
      for (const cond of r.findings) {
        let n = 0;
        for (const fd of ctx.findings) if (cond.type === '*' || fd.type === cond.type || `${fd.type}:${fd.subtype}` === cond.type) n++;
        if (n < cond.min) return undefined;
        why.push(`${n} ${cond.type} finding${n === 1 ? '' : 's'}`);
      }
    }
  }
  if (r.fetchDomains) {
    const hit = fetchDomainHit(r, f, scratch);
    if (hit === undefined) return undefined;
    why.push(hit);
  }
  if (r.keywords) {
    const kw = findKeyword(r, keywordTurnOf(f, scratch), scratch);
    if (kw === undefined) return undefined;
    why.push(`keyword "${kw}" in the newest turn`);
  }
  if (r.patterns) {
    const turn = turnOf(f, scratch);
    if (scratch.prefilter.patterns) scratch.anyPattern ??= scratch.prefilter.patterns.test(turn);
    if (scratch.anyPattern === false) return undefined;
    const i = r.patterns.findIndex((p) => {
      let hit = scratch.patterns.get(p.source);
      if (hit === undefined) scratch.patterns.set(p.source, (hit = p.test(turn)));
      return hit;
    });
    if (i === -1) return undefined;
    why.push(`pattern ${i + 1} in the newest turn`);
  }
  return why.join(', ');
}

function fetchDomainHit(r: CompiledRule, f: RequestFacts, scratch: Scratch): string | undefined {
  for (const ft of f.fetchTools) {
    if (!ft.allowedDomains?.length) return `${ft.family} without allowed_domains`;
    const d = ft.allowedDomains.find((x) => r.fetchDomains!.test(x));
    if (d !== undefined) return `${ft.family} domain ${d}`;
  }
  const host = (scratch.hosts ??= urlHosts(urlTurnOf(f, scratch))).find((h) => r.fetchDomains!.test(h));
  return host === undefined ? undefined : `URL host ${host} in the newest turn`;
}

function approvalRules(rules: readonly CompiledRule[], prefilter: EffectivePolicy['prefilter'], f: RequestFacts, ctx: EvaluationContext): Decision {
  let matched: Array<{ rule: CompiledRule; why: string }> | undefined;
  const scratch = newScratch(prefilter);
  for (const rule of rules) {
    const why = matchRule(rule, f, ctx, scratch);
    if (why !== undefined) (matched ??= []).push({ rule, why });
  }
  if (!matched) return ALLOW;
  let timeoutMs = Infinity;
  for (const { rule } of matched) timeoutMs = Math.min(timeoutMs, rule.timeoutMs);
  return {
    kind: 'approval',
    policy: matched[0]!.rule.policy,
    rules: matched.map((m) => m.rule.id),
    reasons: matched.map((m) => `${m.rule.id}: ${m.why}`),
    timeoutMs,
    // Each rule keeps its own approvers and quorum. United, a second policy's catch-all rule naming
    // its own approver would let that approver alone release what another policy holds for secops.
    requirements: matched.map(({ rule }) => ({ rule: rule.id, groups: [...rule.approvers.groups], users: [...rule.approvers.users], quorum: rule.approvers.quorum })),
  };
}

/**
 * A batch is as strict as its strictest request: any denial denies it, holds are merged, naming
 * the requests that matched (the approver is shown those: what held the batch, nothing else).
 */
function evaluateBatch(policy: EffectivePolicy, req: MessagesRequest | undefined, ctx: EvaluationContext): Decision {
  const requests = Array.isArray(req?.requests) ? req.requests : [];
  let held: Extract<Decision, { kind: 'approval' }> | undefined;
  const matchedRequests: Array<{ index: number; customId: string }> = [];
  for (let index = 0; index < requests.length; index++) {
    const item: unknown = requests[index];
    if (!isRecord(item) || !isRecord(item.params)) continue;
    const facts = requestFacts(item.params as MessagesRequest);
    const findings = ctx.findingsOf?.(facts.newestTurn);
    const { findings: _batchLevel, ...rest } = ctx;
    const d = evaluateMessages(policy, facts, findings ? { ...rest, findings } : rest, true);
    if (d.kind === 'deny') return { ...d, reason: `batch request ${String(item.custom_id ?? '?')}: ${d.reason}` };
    if (d.kind === 'approval') {
      matchedRequests.push({ index, customId: String(item.custom_id ?? '?') });
      if (!held) held = d;
      else {
        held = {
          ...held,
          rules: [...new Set([...held.rules, ...d.rules])],
          reasons: [...new Set([...held.reasons, ...d.reasons])],
          timeoutMs: Math.min(held.timeoutMs, d.timeoutMs),
          // Every rule any request matched is a requirement of its own (a rule once).
          requirements: [...held.requirements, ...d.requirements.filter((r) => !held!.requirements.some((h) => h.rule === r.rule))],
        };
      }
    }
  }
  return held ? { ...held, matchedRequests } : ALLOW;
}
