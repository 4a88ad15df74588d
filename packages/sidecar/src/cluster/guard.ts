// The policy Guard: what the sidecar's inspect and hold stages call. inspect = the EffectivePolicy
// from the feed (refusing when the feed cannot vouch for it) → pure evaluation (@skillgate/policy)
// → rate limits counted in Redis (shared by every replica of the skill) → a verdict: deny (throws
// permission_error naming policy and rule), 429 rate_limit_error with retry-after, or hold for
// approval. hold = a SkillApproval bound to the sha256 of the exact request bytes, with one
// requirement per matched rule (each met by its own approvers, never their union) and a summary for
// the approver (a Message Batch's from its requests), keep-alive pings every 15 s, released only by
// a valid approval. Every step is reported through GuardEvents so the
// journal can record it. Never logs or sends request text: only digests, counts and masked excerpts.
import { createHash } from 'node:crypto';
import { textTail, type SkillIdentity } from '@skillgate/api';
import { estimateInputTokens, evaluate, requestFacts, requestFactsOn, type Decision, type EffectivePolicy, type Finding, type RequestFacts } from '@skillgate/policy';
import { effectiveRequirements, unitedApprovers } from '@skillgate/policy/approval';
import { GatewayError, codes, isRecord, type MessagesRequest } from '@skillgate/wire';
import type { RedisConnection } from '@skillgate/resp';
import type { Exchange } from '../exchange.js';
import type { Guard, MaskingVerdict, Verdict } from '../ports/guard.js';
import { loggedText, type Logger } from '../log.js';
import type { ApprovalBroker, ApprovalRequest, ApprovalResult } from './approvals.js';
import type { PolicyState } from './policy-feed.js';
import { countedSkill, oversizeHit, rateLimitHit, type RateLimitHit, type RateLimiter } from '../rate-limit.js';

/**
 * Masking seam. The masking library (@skillgate/masking createMasker) provides findings for the
 * newest turn and a masked excerpt for the approval summary; masking MODES (rewriting bodies) are
 * wired by the sidecar assembly through `verdictExtras`, not here.
 */
export interface GuardMasker {
  /** Findings in a text (the newest user turn / tool result). */
  findings(text: string, policy: EffectivePolicy): readonly Finding[];
  /** The text with sensitive values masked, for the approval summary. */
  maskText(text: string, policy: EffectivePolicy): string;
}

/** Session events: every policy step the journal may record. All optional, all non-blocking. */
export interface GuardEvents {
  decision?(x: Exchange, d: Decision, policies: readonly string[]): void;
  rateLimited?(x: Exchange, limit: RateLimitHit): void;
  approvalRequested?(x: Exchange, ref: { name: string; namespace: string; expiresAt: string; rules: string[]; digest: string }): void;
  approvalResolved?(x: Exchange, result: ApprovalResult | { name?: string; phase: 'Error' | 'Cancelled'; message: string }): void;
}

/** Tools this skill has used before (for firstToolUse rules); shared across replicas in Redis. */
export interface ToolHistory {
  seen(identity: SkillIdentity): Promise<ReadonlySet<string>>;
  add(identity: SkillIdentity, tools: readonly string[]): Promise<void>;
}

export interface PolicyGuardOptions {
  /** The live policy (cluster feed or file feed). */
  policy: () => PolicyState;
  rateLimiter?: RateLimiter;
  approvals?: ApprovalBroker;
  toolHistory?: ToolHistory;
  masker?: GuardMasker;
  events?: GuardEvents;
  /** Extra verdict parts per request (masking modes: upstreamBody, responseFilter), added by the lead's wiring. */
  verdictExtras?: (x: Exchange, policy: EffectivePolicy) => MaskingVerdict | Promise<MaskingVerdict>;
  /** Keep-alive interval for held streaming requests (default 15 s). */
  keepAliveMs?: number;
  log: Logger;
  now?: () => Date;
}

interface Pending {
  decision: Extract<Decision, { kind: 'approval' }>;
  facts: RequestFacts;
  findings?: readonly Finding[];
  /** A Message Batch: the findings inspect found in each request's newest turn, by that turn's text. */
  itemFindings?: ReadonlyMap<string, readonly Finding[] | undefined>;
  tokens: number;
  policy: EffectivePolicy;
}

const INSPECTED = new Set(['messages', 'count_tokens', 'complete', 'batch_create', 'openai_chat']);

export function createPolicyGuard(opts: PolicyGuardOptions): Guard {
  const now = opts.now ?? (() => new Date());
  const pending = new WeakMap<Exchange, Pending>();
  const keepAliveMs = opts.keepAliveMs ?? 15_000;

  /**
   * The verdict once the facts are in: deny (throws), rate limit, masking extras, approval. Answers
   * synchronously unless something on the way is asynchronous (tool history, a rate limit that
   * must ask Redis, asynchronous extras, a held request waiting for its rate limit).
   */
  function decide(x: Exchange, eff: EffectivePolicy, inspected: boolean, facts: RequestFacts | undefined, findings: readonly Finding[] | undefined, tokens: number, toolsSeenBefore: ReadonlySet<string> | undefined): Verdict | Promise<Verdict> {
    const identity = x.identity!;
    // A batch's requests each get their findings from their own newest turn (when rules ask for them).
    const masker = opts.masker;
    // Kept by text, so that the approval summary counts them without masking the batch again.
    const itemFindings = x.route.kind === 'batch_create' && masker && eff.rules.some((r) => r.findings) ? new Map<string, readonly Finding[]>() : undefined;
    const findingsOf = itemFindings && masker ? (text: string) => {
      let found = itemFindings.get(text);
      if (!found) itemFindings.set(text, (found = masker.findings(text, eff)));
      return found;
    } : undefined;
    const decision = evaluate(eff, { route: x.route.kind, ...(x.request ? { request: x.request } : {}), ...(facts ? { facts } : {}) },
      { now: now(), ...(findings ? { findings } : {}), ...(findingsOf ? { findingsOf } : {}), ...(toolsSeenBefore ? { toolsSeenBefore } : {}), estimatedTokens: tokens });
    opts.events?.decision?.(x, decision, eff.policies);
    if (decision.kind === 'deny') {
      throw new GatewayError(codes.policyDenied, 'permission_error', `SkillPolicy ${decision.policy} denied this request (${decision.rule}): ${decision.reason}.`);
    }

    // The shared rate limit is a Redis round trip: it runs while the request event is recorded
    // (verdict.admitted) rather than before it; a held request waits for it first. Admitted from
    // the local lease (the usual case on a busy sidecar), there is nothing left to wait for.
    let admitted: Promise<void> | undefined;
    const taken = opts.rateLimiter && (eff.rateLimits.requestsPerMinute || eff.rateLimits.tokensPerMinute) && inspected
      ? opts.rateLimiter.take(identity, eff.rateLimits, tokens)
      : undefined;
    if (taken !== undefined) {
      admitted = Promise.resolve(taken).then((hit) => {
        if (hit) {
          opts.events?.rateLimited?.(x, hit);
          throw rateLimitError(hit);
        }
      });
      admitted.catch(() => undefined); // handled by whoever awaits it; never an unhandled rejection
    }

    // A tool counts as used once the API took a request that carries it (a 2xx answer): not when
    // tokens were only counted, nor when the request was refused on the way (a rate limit, the
    // API's own 400), or a first-use rule could be spent without a human ever seeing the tool.
    const answered = facts && opts.toolHistory && x.route.kind !== 'count_tokens' && eff.rules.some((r) => r.firstToolUse)
      ? (status: number): void => { if (status >= 200 && status < 300) void rememberTools(opts, identity, facts); }
      : undefined;
    const finish = (given: Pick<Verdict, 'upstreamBody' | 'responseFilter'>): Verdict | Promise<Verdict> => {
      const extras: Verdict = answered ? { ...given, answered } : given;
      if (decision.kind === 'approval') {
        const held = (): Verdict => {
          pending.set(x, { decision, facts: facts ?? requestFacts(undefined), ...(findings ? { findings } : {}), ...(itemFindings ? { itemFindings } : {}), tokens, policy: eff });
          return { ...extras, approval: { rules: decision.rules, reasons: decision.reasons, timeoutMs: decision.timeoutMs } };
        };
        return admitted ? admitted.then(held) : held();
      }
      return admitted ? { ...extras, admitted } : extras;
    };
    const extras = opts.verdictExtras ? opts.verdictExtras(x, eff) : {};
    return extras instanceof Promise ? extras.then(finish) : finish(extras);
  }

  return {
    inspect(x) {
      const state = opts.policy();
      if (state.refusal) throw state.refusal;
      const eff = state.effective;
      const inspected = INSPECTED.has(x.route.kind);
      const facts = !inspected || x.route.kind === 'batch_create' ? undefined : requestFactsOn(x.route.kind, x.request);
      const tokens = estimateInputTokens(x.body?.length ?? 0);
      const needsFindings = facts !== undefined && eff.rules.some((r) => r.findings);
      const findings = needsFindings && opts.masker ? opts.masker.findings(facts.newestTurn, eff) : needsFindings ? undefined : [];
      const needsHistory = facts !== undefined && eff.rules.some((r) => r.firstToolUse) && (facts.customTools.length + facts.serverTools.length) > 0;
      if (needsHistory && opts.toolHistory) {
        return opts.toolHistory.seen(x.identity!).then((seen) => decide(x, eff, inspected, facts, findings, tokens, seen));
      }
      return decide(x, eff, inspected, facts, findings, tokens, undefined);
    },

    async hold(x, approval, keepAlive) {
      const p = pending.get(x);
      pending.delete(x);
      if (!opts.approvals || !p) {
        throw new GatewayError(codes.approvalDenied, 'permission_error', `SkillPolicy rules ${approval.rules.join(', ')} require human approval, but this sidecar has no approval service configured; the request was not forwarded.`);
      }
      const identity = x.identity!;
      const digest = `sha256:${createHash('sha256').update(x.body ?? Buffer.alloc(0)).digest('hex')}`;
      const mask = opts.masker ? (t: string) => opts.masker!.maskText(t, p.policy) : undefined;
      const summary = x.route.kind === 'batch_create' ? batchSummary(x.request, p, mask) : requestSummary(p, mask);
      // Each matched rule is a requirement of its own, met only by its own approvers.
      const requirements = effectiveRequirements(p.decision.requirements, identity.owner);
      const timer = setInterval(keepAlive, keepAliveMs);
      let name: string | undefined;
      try {
        const result = await opts.approvals.hold({
          identity,
          requestId: x.id,
          sessionId: x.sessionId || x.id,
          requestDigest: digest,
          policy: p.decision.policy,
          rules: p.decision.rules,
          reasons: p.decision.reasons,
          summary,
          approvers: unitedApprovers(requirements),
          requirements,
          timeoutMs: approval.timeoutMs,
        }, x.abort.signal, (ref) => {
          name = ref.name;
          opts.log.info({ requestId: x.id, approval: `${ref.namespace}/${ref.name}`, rules: p.decision.rules }, 'request held for approval');
          opts.events?.approvalRequested?.(x, { ...ref, rules: p.decision.rules, digest });
        });
        opts.events?.approvalResolved?.(x, result);
        const id = `SkillApproval ${result.namespace}/${result.name}`;
        if (result.phase === 'Approved') {
          opts.log.info({ requestId: x.id, approval: id, by: result.approvedBy }, 'approval released the request');
          // The policy in force now decides too: one applied while the request waited (a model
          // denied, a cap lowered, a window closed, a policy that cannot load) is not undone by an
          // approval given under the old one.
          const current = opts.policy();
          if (current.refusal) throw current.refusal;
          const again = evaluate(current.effective, { route: x.route.kind, ...(x.request ? { request: x.request } : {}), facts: p.facts },
            { now: now(), ...(p.findings ? { findings: p.findings } : {}), estimatedTokens: p.tokens });
          if (again.kind === 'deny') {
            throw new GatewayError(codes.policyDenied, 'permission_error', `${id} approved this request, but SkillPolicy ${again.policy} now denies it (${again.rule}): ${again.reason}. It was not forwarded.`);
          }
          return; // its tools count as used once the API answers it (verdict.answered)
        }
        if (result.phase === 'Denied') {
          throw new GatewayError(codes.approvalDenied, 'permission_error', `${id} was denied by ${result.deniedBy.join(', ')}${result.reasons[0] ? ` (reason: ${result.reasons[0]})` : ''}; the request was not forwarded.`);
        }
        throw new GatewayError(codes.approvalExpired, 'permission_error', `${id} expired after ${Math.round(approval.timeoutMs / 1000)} s without a decision; the request was not forwarded. Ask an approver (skillgate approvals approve ${result.name} -n ${result.namespace}) and retry.`);
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        if (x.abort.signal.aborted) {
          opts.events?.approvalResolved?.(x, { ...(name ? { name } : {}), phase: 'Cancelled', message: 'the skill closed the connection' });
          throw x.abort.signal.reason instanceof GatewayError ? x.abort.signal.reason : err;
        }
        const message = err instanceof Error ? err.message : String(err);
        opts.events?.approvalResolved?.(x, { ...(name ? { name } : {}), phase: 'Error', message });
        // The message can quote what the API server refused (the summary of the request): masked as
        // the approval's own text is, or left out without a masker.
        opts.log.error({ requestId: x.id, err: loggedText(message, mask) }, 'approval failed');
        throw new GatewayError(codes.approvalDenied, 'permission_error', `The request needs approval (${approval.rules.join(', ')}) but skillgate could not hold it for a decision: ${message}. It was not forwarded.`);
      } finally {
        clearInterval(timer);
      }
    },
  };
}

function rememberTools(opts: PolicyGuardOptions, identity: SkillIdentity, facts: RequestFacts): Promise<void> {
  const tools = [...facts.customTools, ...facts.serverTools];
  if (!tools.length || !opts.toolHistory) return Promise.resolve();
  return opts.toolHistory.add(identity, tools).catch((err: unknown) => opts.log.warn({ err: String(err) }, 'could not record tool use'));
}

function urlOrigin(u: string): string {
  try { return new URL(u).origin; } catch { return '(invalid url)'; }
}

type ApprovalSummary = ApprovalRequest['summary'];

function findingCounts(findings: readonly Finding[], counts = new Map<string, number>()): Map<string, number> {
  for (const f of findings) counts.set(f.type, (counts.get(f.type) ?? 0) + 1);
  return counts;
}

/** What an approver is shown for one held request: its facts, findings and masked newest turn. */
function requestSummary(p: Pending, mask: ((text: string) => string) | undefined): ApprovalSummary {
  const excerpt = mask ? approvalExcerpt(p.facts.newestTurn, mask) : undefined;
  return {
    ...(p.facts.model ? { model: p.facts.model } : {}),
    stream: p.facts.stream,
    tools: p.facts.customTools,
    serverTools: p.facts.serverTools,
    mcpServers: p.facts.mcpServerUrls.map(urlOrigin),
    findings: [...findingCounts(p.findings ?? [])].map(([type, count]) => ({ type, count })),
    ...(excerpt !== undefined ? { excerpt } : {}),
    estimatedInputTokens: p.tokens,
  };
}

/** How many matched requests of a batch show their newest turn, and how many custom ids are listed. */
const BATCH_EXCERPTS = 3;
const BATCH_IDS_LISTED = 10;
/** The SkillApproval CRD's bounds on the summary (model text, list lengths, item lengths). */
const SUMMARY_TEXT_MAX = 256;
const SUMMARY_LIST_MAX = 256;
const SUMMARY_EXCERPT_MAX = 4096;

/**
 * What an approver is shown for a held Message Batch (which has no newest turn of its own): how
 * many requests it holds and which match the approval rules (by custom_id), the union of their
 * models, tools, server tools and MCP servers, the findings inspect counted in them, and the masked
 * newest turn of the first matching requests. Which matched is what the batch's decision names
 * (evaluateBatch): never judged again here, where another clock or no tool history would make
 * other requests look held. Without a masker no text (custom ids are the skill's text too) is shown.
 */
function batchSummary(request: MessagesRequest | undefined, p: Pending, mask: ((text: string) => string) | undefined): ApprovalSummary {
  const items = Array.isArray(request?.requests) ? request.requests : [];
  const matching = p.decision.matchedRequests ?? [];
  let next = 0; // matching is in the order of `requests`
  const models = new Set<string>();
  const tools = new Set<string>();
  const serverTools = new Set<string>();
  const mcpServers = new Set<string>();
  const counts = new Map<string, number>();
  const matched: Array<{ id: string; turn: string }> = [];
  let total = 0;
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index];
    if (!isRecord(item) || !isRecord(item.params)) continue;
    total++;
    const facts = requestFacts(item.params as MessagesRequest);
    if (facts.model) models.add(facts.model);
    for (const t of facts.customTools) tools.add(t);
    for (const t of facts.serverTools) serverTools.add(t);
    for (const u of facts.mcpServerUrls) mcpServers.add(urlOrigin(u));
    const findings = p.itemFindings?.get(facts.newestTurn);
    if (findings) findingCounts(findings, counts);
    if (matching[next]?.index !== index) continue;
    if (matched.length < Math.max(BATCH_EXCERPTS, BATCH_IDS_LISTED)) matched.push({ id: matching[next]!.customId.slice(0, 64), turn: facts.newestTurn });
    next++;
  }
  const matchedCount = matching.length;
  const bounded = (values: Iterable<string>) => [...values].slice(0, SUMMARY_LIST_MAX).map((v) => v.slice(0, SUMMARY_TEXT_MAX));
  const modelText = [...models].join(', ');
  let excerpt: string | undefined;
  const ids = mask ? matched.slice(0, BATCH_IDS_LISTED).map((m) => mask(m.id).slice(0, SUMMARY_TEXT_MAX)) : [];
  if (mask) {
    const parts = [`Message Batch of ${total} request${total === 1 ? '' : 's'}; ${matchedCount} match${matchedCount === 1 ? 'es' : ''} the approval rules`
      + `${ids.length ? `: ${ids.join(', ')}${matchedCount > ids.length ? ', …' : ''}` : ''}.`];
    for (const m of matched.slice(0, BATCH_EXCERPTS)) parts.push(`[${mask(m.id)}] ${approvalExcerpt(m.turn, mask)}`);
    excerpt = parts.join('\n\n').slice(0, SUMMARY_EXCERPT_MAX);
  }
  return {
    ...(modelText ? { model: modelText.length > SUMMARY_TEXT_MAX ? `${modelText.slice(0, SUMMARY_TEXT_MAX - 1)}…` : modelText } : {}),
    stream: false,
    tools: bounded(tools),
    serverTools: bounded(serverTools),
    mcpServers: bounded(mcpServers),
    findings: [...counts].map(([type, count]) => ({ type, count })),
    ...(excerpt !== undefined ? { excerpt } : {}),
    estimatedInputTokens: p.tokens,
    batch: { requests: total, matching: matchedCount, ...(ids.length ? { customIds: ids } : {}) },
  };
}

/** How much of the newest turn a SkillApproval shows, and the longest turn masked whole for it. */
const EXCERPT_CHARS = 600;
const EXCERPT_MASKED_MAX = 256 * 1024;

/**
 * The end of the newest turn, masked, for the approval summary. The turn is masked whole and then
 * cut: cut first, a value the cut halves ("…1111 1111 1111" of a card) no longer reads as one and
 * would reach the SkillApproval raw. A turn too long to mask on the request path shows no text.
 */
export function approvalExcerpt(turn: string, mask: (text: string) => string): string {
  if (turn.length > EXCERPT_MASKED_MAX) return `[the newest turn is ${Math.round(turn.length / 1024)} KB: no excerpt; its findings are counted in the summary]`;
  return textTail(mask(turn), EXCERPT_CHARS); // never half a surrogate pair
}

export function rateLimitError(hit: RateLimitHit): GatewayError {
  if (hit.oversize) {
    return new GatewayError(codes.rateLimited, 'rate_limit_error',
      `This request's ~${hit.oversize.tokens} estimated input tokens exceed the limit of ${hit.limit} tokens per minute of SkillPolicy ${hit.policy}; send a smaller request.`,
      { headers: { 'x-should-retry': 'false' } });
  }
  return new GatewayError(codes.rateLimited, 'rate_limit_error',
    `SkillPolicy ${hit.policy} limits this skill to ${hit.limit} ${hit.kind} per minute; retry after ${hit.retryAfterSeconds} s.`,
    { headers: { 'retry-after': String(hit.retryAfterSeconds) } });
}

// ---------------------------------------------------------------------------------------------
// Redis: rate limits and tool history shared by every replica of a skill.

/**
 * Sliding-window counter (the previous minute's count weighted by how much of it still overlaps
 * the window, plus this minute's count), for requests and tokens at once. One script call decides
 * a batch of takes of one skill IN ORDER, each exactly as if it ran alone: it reads both windows,
 * decides, and increments only when admitted. Then it grants what it can of a lease asked for
 * ahead of use (requests and tokens counted now, spent locally by the sidecar). Keys expire after
 * two windows. The estimate is compared scaled by the window (count × ms), in whole numbers: a
 * client retrying exactly at the advertised time is then admitted, not refused by a rounding.
 * Retry-after is the first moment the estimate leaves room for the take: while this minute alone
 * is full, that is in the NEXT window, once this minute's count (then the previous one) has slid
 * out far enough — not the end of this window, where it still weighs almost fully.
 * ARGV: now, window, rpm, tpm, leaseRequests, leaseTokens, then one cost per take. Returns 4 values
 * per take (1,'',0,0 when admitted, or 0, kind, retryMs, oversize), then the requests and tokens
 * of the lease granted. `over` and `wait` are spelt in TypeScript too (../rate-limit.ts), for the
 * in-memory limiter: change them together.
 */
const RATE_LIMIT_LUA = `
local now = tonumber(ARGV[1]); local win = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3]); local tpm = tonumber(ARGV[4])
local leaseR = tonumber(ARGV[5]); local leaseT = tonumber(ARGV[6])
local off = now % win
local rest = win - off
local function count(cur, prev)
  return tonumber(redis.call('GET', cur) or '0'), tonumber(redis.call('GET', prev) or '0')
end
-- Would need more exceed the limit? cur + prev * rest / win + need > limit, times win.
local function over(cur, prev, limit, need)
  return (cur + need) * win + prev * rest > limit * win
end
-- Milliseconds until the estimate admits need (nobody else taking meanwhile).
local function wait(cur, prev, limit, need)
  if cur + need > limit then
    -- This minute alone is full: in the next one, cur weighs cur * (1 - t / win); admitted once
    -- cur * (1 - t / win) + need <= limit, i.e. t >= win * (cur + need - limit) / cur.
    if cur <= 0 then return rest end
    return rest + math.max(0, math.ceil(win * (cur + need - limit) / cur))
  end
  if prev <= 0 then return 1000 end
  -- Within this minute: prev * (1 - t / win) + cur + need <= limit, t counted from the window start.
  return math.max(1000, math.ceil(win * (prev - (limit - cur - need)) / prev) - off)
end
local rc, rp = count(KEYS[1], KEYS[2])
local tc, tp = count(KEYS[3], KEYS[4])
local out = {}
local took, tokens = 0, 0
for i = 7, #ARGV do
  local cost = tonumber(ARGV[i])
  if tpm > 0 and cost > tpm then
    table.insert(out, 0); table.insert(out, 'tokens'); table.insert(out, 0); table.insert(out, 1)
  elseif rpm > 0 and over(rc, rp, rpm, 1) then
    table.insert(out, 0); table.insert(out, 'requests'); table.insert(out, wait(rc, rp, rpm, 1)); table.insert(out, 0)
  elseif tpm > 0 and over(tc, tp, tpm, cost) then
    table.insert(out, 0); table.insert(out, 'tokens'); table.insert(out, wait(tc, tp, tpm, cost)); table.insert(out, 0)
  else
    rc = rc + 1; tc = tc + cost; took = took + 1; tokens = tokens + cost
    table.insert(out, 1); table.insert(out, ''); table.insert(out, 0); table.insert(out, 0)
  end
end
local gr, gt = 0, 0
if leaseR > 0 or leaseT > 0 then
  gr = leaseR
  if rpm > 0 then gr = math.max(0, math.min(leaseR, math.floor(((rpm - rc) * win - rp * rest) / win))) end
  gt = leaseT
  if tpm > 0 then gt = math.max(0, math.min(leaseT, math.floor(((tpm - tc) * win - tp * rest) / win))) end
  -- A lease is only useful with both parts: a limit with no room left grants nothing.
  if (rpm > 0 and gr == 0) or (tpm > 0 and gt == 0) then gr, gt = 0, 0 end
end
if took + gr > 0 then redis.call('INCRBY', KEYS[1], took + gr); redis.call('PEXPIRE', KEYS[1], win * 2) end
if tokens + gt > 0 then redis.call('INCRBY', KEYS[3], tokens + gt); redis.call('PEXPIRE', KEYS[3], win * 2) end
table.insert(out, gr); table.insert(out, gt)
return out
`;
const RATE_LIMIT_SHA = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');

/** The share of a limit a sidecar leases ahead of use: limits under this many units stay exact. */
export const RATE_LIMIT_LEASE_DIVISOR = 20;

/** One take's decision as the script returns it: admitted (1/0), kind, retry after (ms), oversize (1/0). */
type Decided = [number, string, number, number];
const ADMITTED: Decided = [1, '', 0, 0];

/** A decision as the guard reads it: undefined when admitted, else which limit and when to retry. */
function hitOf([admitted, kindText, retryMs, oversize]: Decided, limits: EffectivePolicy['rateLimits'], tokens: number): RateLimitHit | undefined {
  if (admitted === 1) return undefined;
  return rateLimitHit(kindText === 'tokens' ? 'tokens' : 'requests', limits, retryMs, oversize === 1 ? tokens : undefined);
}

interface PendingTake {
  tokens: number;
  resolve: (r: Decided) => void;
  reject: (err: Error) => void;
}

interface Lane {
  skill: string;
  rpm: number;
  tpm: number;
  queue: PendingTake[];
  busy: boolean;
  /** The window the lease belongs to, and what is left of it. */
  window: number;
  requests: number;
  tokens: number;
}

/**
 * The shared rate limit in Redis. The count is shared by every replica of the skill; each sidecar
 * leases up to 1/20 of a limit ahead of use (counted in Redis at once) and spends it locally, so a
 * busy sidecar asks Redis once per twentieth of its limit instead of once per request. A lease
 * lapses with its minute: a skill with N replicas may be refused up to N/20 of a limit early, never
 * late, and limits under 20 (per minute) are exact. Takes the lease cannot cover go to Redis: one
 * script call per skill and limit set in flight at a time, later takes waiting and going together.
 */
export function redisRateLimiter(redis: RedisConnection, opts: { prefix: string; windowMs?: number; now?: () => number; leaseDivisor?: number }): RateLimiter {
  const win = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const divisor = opts.leaseDivisor ?? RATE_LIMIT_LEASE_DIVISOR;
  const lanes = new Map<string, Lane>();

  async function flush(lane: Lane): Promise<void> {
    const { skill, rpm, tpm } = lane;
    while (lane.queue.length > 0) {
      // Takes that queued while the last call was out may be covered by the lease it brought.
      const waiting = lane.queue;
      lane.queue = [];
      for (const p of waiting) {
        if (fromLease(lane, p.tokens)) p.resolve(ADMITTED);
        else lane.queue.push(p);
      }
      if (lane.queue.length === 0) break;
      const batch = lane.queue.splice(0, 512);
      const t = now();
      const w = Math.floor(t / win);
      const k = (kind: string, i: number) => `${opts.prefix}rl:{${skill}}:${kind}:${i}`;
      const leaseR = rpm ? Math.floor(rpm / divisor) : 0;
      const leaseT = tpm ? Math.floor(tpm / divisor) : 0;
      const wantLease = (!rpm || leaseR > 0) && (!tpm || leaseT > 0);
      const args: Array<string | number> = [k('r', w), k('r', w - 1), k('t', w), k('t', w - 1), t, win, rpm, tpm, wantLease ? leaseR : 0, wantLease ? leaseT : 0];
      for (const p of batch) args.push(tpm ? p.tokens : 0);
      try {
        // EVALSHA: the script's source is sent (and hashed by Redis) only after a NOSCRIPT.
        const res = (await redis.command(['EVALSHA', RATE_LIMIT_SHA, 4, ...args]).catch((err: Error) => {
          if (!/NOSCRIPT/.test(err.message)) throw err;
          return redis.command(['EVAL', RATE_LIMIT_LUA, 4, ...args]);
        })) as Array<number | string>;
        const grantedR = Number(res[batch.length * 4] ?? 0);
        const grantedT = Number(res[batch.length * 4 + 1] ?? 0);
        if (grantedR > 0 || grantedT > 0) {
          if (lane.window !== w) Object.assign(lane, { window: w, requests: 0, tokens: 0 });
          lane.requests += grantedR;
          lane.tokens += grantedT;
        }
        batch.forEach((p, i) => p.resolve([Number(res[i * 4]), String(res[i * 4 + 1] ?? ''), Number(res[i * 4 + 2] ?? 0), Number(res[i * 4 + 3] ?? 0)]));
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    lane.busy = false;
  }

  /** Spend the local lease on one take, when it covers it (same window, enough of both). */
  function fromLease(lane: Lane, tokens: number): boolean {
    if (lane.window !== Math.floor(now() / win)) return false;
    if ((lane.rpm && lane.requests < 1) || (lane.tpm && lane.tokens < tokens)) return false;
    if (lane.rpm) lane.requests -= 1;
    if (lane.tpm) lane.tokens -= tokens;
    return true;
  }

  /** The lane of one skill and limit set: its queue, the call in flight, its lease. */
  function laneOf(skill: string, rpm: number, tpm: number): Lane {
    const key = `${skill}\u0000${rpm}\u0000${tpm}`;
    let lane = lanes.get(key);
    if (!lane) {
      if (lanes.size >= 1000) lanes.clear(); // policies change rarely; bounded all the same
      lanes.set(key, (lane = { skill, rpm, tpm, queue: [], busy: false, window: -1, requests: 0, tokens: 0 }));
    }
    return lane;
  }

  /** Ask Redis (with whatever else is waiting in this lane): [admitted, kind, retryMs, oversize]. */
  function ask(lane: Lane, tokens: number): Promise<Decided> {
    const result = new Promise<Decided>((resolve, reject) => lane.queue.push({ tokens, resolve, reject }));
    if (!lane.busy) {
      lane.busy = true;
      void flush(lane);
    }
    return result;
  }

  return {
    take(identity, limits, tokens) {
      const rpm = limits.requestsPerMinute?.value ?? 0;
      const tpm = limits.tokensPerMinute?.value ?? 0;
      // A request larger than the whole token limit can never be admitted: no need to ask.
      const oversize = oversizeHit(limits, tokens);
      if (oversize) return oversize;
      const lane = laneOf(countedSkill(identity), rpm, tpm);
      if (fromLease(lane, tokens)) return undefined;
      return ask(lane, tokens).then((decided) => hitOf(decided, limits, tokens));
    },
  };
}

export function redisToolHistory(redis: RedisConnection, opts: { prefix: string }): ToolHistory {
  const key = (i: SkillIdentity) => `${opts.prefix}tools:${i.namespace}/${i.skill}`;
  return {
    async seen(identity) { return new Set((await redis.command(['SMEMBERS', key(identity)])) as string[]); },
    async add(identity, tools) { await redis.command(['SADD', key(identity), ...tools]); },
  };
}

export function memoryToolHistory(): ToolHistory {
  const seen = new Map<string, Set<string>>();
  const key = (i: SkillIdentity) => `${i.namespace}/${i.skill}`;
  return {
    async seen(identity) { return new Set(seen.get(key(identity)) ?? []); },
    async add(identity, tools) {
      const s = seen.get(key(identity)) ?? new Set<string>();
      for (const t of tools) s.add(t);
      seen.set(key(identity), s);
    },
  };
}
