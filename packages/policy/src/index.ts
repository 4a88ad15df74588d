// @skillgate/policy — SkillPolicy semantics: selecting and combining policies, evaluating a request
// to a decision (allow / deny naming policy and rule / hold for approval), rate-limit arithmetic.
// Pure: no I/O, no clocks (callers pass `now`), no Kubernetes or Redis.
export { compileGlobs, compileDomains, normalizeHost, type GlobSet } from './glob.js';
export { compileWindow, insideWindow, localTime, parseClock, type CompiledWindow } from './schedule.js';
export { requestFacts, requestFactsOn, newestTurnText, openAiChatFacts, estimateInputTokens, urlHosts, type RequestFacts, type FetchTool } from './request-facts.js';
export { approvalPatternProblem, compileApprovalPattern, anyApprovalPattern, type ApprovalPattern } from './pattern.js';
export { compilePolicy, policyProblems, policyName, PolicyInvalidError, DEFAULT_APPROVAL_TIMEOUT_SECONDS, type CompiledPolicy, type CompiledRule } from './compile.js';
export { selects, selectPolicies } from './select.js';
export { combine, combineMaskingModes, NO_POLICY, type EffectivePolicy, type Limit } from './combine.js';
export { evaluate, matchRule, newScratch, type Scratch, type Decision, type EvaluationInput, type EvaluationContext, type Finding, type Approvers } from './evaluate.js';
export { approvalOutcome, deciderProblem, requirementsOf, type ApprovalOutcome, type RecordedDecision } from './approval.js';
