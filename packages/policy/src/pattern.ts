// Approval patterns (`when.patterns` of a SkillPolicy rule) on re2js, the pure-JS port of RE2 that
// custom masking entities run on: linear time by construction. A pattern comes from a policy and
// the text it reads (the newest turn) from the skill, so on JavaScript's backtracking RegExp either
// side could stall the sidecar's event loop — `(\w+\s?)+$` took 4.7 s on 27 characters — and with
// it every request of the skill. `approvalPatternProblem` is the one validation: the policy compile
// (every sidecar) and the webhook (`kubectl apply`) both use it, so a policy the API server admits
// is one every sidecar can load. This module must never hand policy text to RegExp.
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

// re2js is loaded on first use, as the masking package does: its import builds Unicode tables
// (~1 MB of a sidecar's resident memory) that a sidecar whose policies have no pattern never needs.
let engine: typeof RE2JS | undefined;
const re2 = (): typeof RE2JS => (engine ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS);

/** A compiled approval pattern: its text as the policy wrote it, and an unanchored test. */
export interface ApprovalPattern {
  readonly source: string;
  test(text: string): boolean;
}

const SYNTAX_HINT = 'approval patterns are RE2 syntax (github.com/google/re2/wiki/Syntax): e.g. \\x{e9} for a code point, (?i) for case-insensitive';

/** Why `pattern` cannot be an approval pattern (in words a policy author can act on), or undefined. */
export function approvalPatternProblem(pattern: string): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'a pattern must be a non-empty string';
  if (/\(\?<?[=!]/.test(pattern)) return 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported: patterns run on RE2, in linear time, which has none';
  if (/\\[1-9]|\\k</.test(pattern)) return 'backreferences (\\1, \\k<name>) are not supported: patterns run on RE2, in linear time, which has none';
  try {
    re2().compile(pattern);
  } catch (err) {
    return `not a valid RE2 pattern: ${(err as Error).message.replace(/^error parsing regexp: /, '')} (${SYNTAX_HINT})`;
  }
  return undefined;
}

/** Compiles an approval pattern; throws an Error whose message is approvalPatternProblem's. */
export function compileApprovalPattern(pattern: string): ApprovalPattern {
  const problem = approvalPatternProblem(pattern);
  if (problem) throw new Error(problem);
  const re = re2().compile(pattern);
  return { source: pattern, test: (text) => re.test(text) };
}

/**
 * One test over several patterns: true when any of them matches `text`. The alternation runs as one
 * lazy DFA after re2js's literal prefilter, so a turn that holds none of the patterns' required
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
