// RE2 for the patterns a policy writes: custom masking entities (custom.ts) and approval patterns
// (@skillgate/policy). Both run on re2js, the pure-JS port of RE2: linear time by construction, so
// neither a policy's pattern nor the text a skill sends can stall a sidecar's event loop as
// JavaScript's backtracking RegExp can. This module is the one place that loads the engine and says
// whether a pattern is RE2 it can run; each caller names its patterns in the messages (`subject`)
// and adds its own rules. It must never hand a policy's pattern to RegExp.
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

// Loaded on first use: re2js's import builds Unicode tables (~0.6 MB of heap, ~1 MB of a sidecar's
// resident memory) that a sidecar whose policies declare no pattern would carry for nothing.
let engine: typeof RE2JS | undefined;
/** The engine (re2js's RE2JS class), loaded on the first call. */
export const re2 = (): typeof RE2JS => (engine ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS);

/** A pattern compiled on RE2, or why it cannot be (in words a policy author can act on). */
export type Re2Compiled = { re: RE2JS; problem?: undefined } | { re?: undefined; problem: string };

/**
 * Compiles `pattern` on RE2, or says why RE2 cannot run it: lookaround and backreferences (which RE2
 * lacks, named as such rather than as a parse error) and RE2 syntax errors, with a hint on RE2
 * syntax that names `subject` — what the pattern is, in the plural ("approval patterns").
 */
export function compileRe2(pattern: string, subject: string): Re2Compiled {
  if (/\(\?<?[=!]/.test(pattern)) return { problem: 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported: patterns run on RE2, in linear time, which has none' };
  if (/\\[1-9]|\\k</.test(pattern)) return { problem: 'backreferences (\\1, \\k<name>) are not supported: patterns run on RE2, in linear time, which has none' };
  try {
    return { re: re2().compile(pattern) };
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    return { problem: `not a valid RE2 pattern: ${why} (${subject} are RE2 syntax (github.com/google/re2/wiki/Syntax): e.g. \\x{e9} for a code point, (?i) for case-insensitive)` };
  }
}
