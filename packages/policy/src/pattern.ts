// Approval patterns (`when.patterns` of a SkillPolicy rule) on RE2, as custom masking entities are
// (the masking package's detectors/re2.ts loads the engine and checks the syntax for both): linear
// time by construction. A pattern comes from a policy and the text it reads (the newest turn) from
// the skill, so on JavaScript's backtracking RegExp either side could stall the sidecar's event loop
// — `(\w+\s?)+$` took 4.7 s on 27 characters — and with it every request of the skill.
// `approvalPatternProblem` is the one validation: the policy compile (every sidecar) and the webhook
// (`kubectl apply`) both use it, so a policy the API server admits is one every sidecar can load.
// This module must never hand policy text to RegExp.
import { compileRe2, type Re2Compiled } from '@skillgate/masking/detectors/re2';

/** A compiled approval pattern: its text as the policy wrote it, and an unanchored test. */
export interface ApprovalPattern {
  readonly source: string;
  test(text: string): boolean;
}

/** An approval pattern on RE2, or why it cannot be one: RE2 must run it, and it must say something. */
function compiled(pattern: string): Re2Compiled {
  if (typeof pattern !== 'string' || pattern.length === 0) return { problem: 'a pattern must be a non-empty string' };
  return compileRe2(pattern, 'approval patterns');
}

/** Why `pattern` cannot be an approval pattern (in words a policy author can act on), or undefined. */
export function approvalPatternProblem(pattern: string): string | undefined {
  return compiled(pattern).problem;
}

/** Compiles an approval pattern; throws an Error whose message is approvalPatternProblem's. */
export function compileApprovalPattern(pattern: string): ApprovalPattern {
  const { re, problem } = compiled(pattern);
  if (!re) throw new Error(problem);
  return { source: pattern, test: (text) => re.test(text) };
}

/**
 * One test over several patterns: true when any of them matches `text`. The alternation is one scan
 * (re2js's NFA) after its literal prefilter, so a turn that holds none of the patterns' required
 * literals is dismissed with a few indexOf calls. Undefined when the patterns cannot be combined
 * (two name the same capture group; a \Q quote, which would run on past its group): each then runs
 * on its own.
 */
export function anyApprovalPattern(patterns: readonly string[]): ApprovalPattern | undefined {
  if (patterns.length === 0 || patterns.some((p) => p.includes('\\Q'))) return undefined;
  try {
    return compileApprovalPattern(patterns.map((p) => `(?:${p})`).join('|'));
  } catch {
    return undefined;
  }
}
