// Parts of requests found clean, passed over when resent (CleanParts). Claude Code resends the same
// tools (tens of kilobytes of descriptions and schemas) and the same tool calls on every request of
// a session, and almost always none of it holds anything to mask. A part found so is remembered,
// and an identical copy of it later is passed over whole: compared member by member with the
// remembered copy (strings by `===`, a memory compare) — no walk, no lookup per string, no copy of
// the body. Sound for any masker: masking is a pure function of (spec, key, text), and a part with
// nothing to mask touches no vault. A masker keeps one when it memoises (index.ts).

import { isRawJsonNumber } from '@skillgate/wire';

/** What CleanParts may hold, in characters (its copies' strings and names, and a fixed cost a node). */
export const DEFAULT_CLEAN_PARTS_CHARS = 4 * 1024 * 1024;

/** What a node of a copy (an object, an array, a member, a value) costs beyond its strings, in characters. */
const NODE_OVERHEAD = 16;

interface CleanEntry {
  /** A copy of the part (never the caller's own object, which it may change); undefined: seen once, not yet kept. */
  copy: unknown;
  chars: number;
  used: boolean;
  /** The part under this key was too large to keep (a quarter of the bound): not copied again. */
  large?: boolean;
}

/**
 * Parts of request bodies (a tools array, a tool call's input) found to hold nothing to mask, by a
 * key their caller gives (the tools' names, the tool call's id): a hint, never trusted — a part is
 * clean only if it equals the copy kept under its key. A part is copied the second time its key
 * is seen, so a masker that sees a body once (tokenize mode's, made per request) never copies
 * one. Bounded by characters; eviction as TextMemo's (clock).
 */
export class CleanParts {
  private readonly entries = new Map<string, CleanEntry>();
  private chars = 0;

  constructor(private readonly maxChars = DEFAULT_CLEAN_PARTS_CHARS) {}

  /** Whether `part` equals the part kept clean under `key`. */
  has(key: string, part: unknown): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.copy === undefined || !sameJson(part, entry.copy)) return false;
    entry.used = true;
    return true;
  }

  /** `part` was walked and holds nothing to mask: kept under `key` if the key was seen before. */
  add(key: string, part: unknown): void {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.keep(key, { copy: undefined, chars: key.length + NODE_OVERHEAD, used: false });
      return;
    }
    if (entry.large) return;
    const size = { chars: key.length + NODE_OVERHEAD };
    const copy = copyJson(part, size);
    this.chars -= entry.chars;
    this.entries.delete(key);
    // A part this large would push out most of the rest: its key is kept, so that it is not copied again.
    if (size.chars > this.maxChars / 4) this.keep(key, { copy: undefined, chars: key.length + NODE_OVERHEAD, used: false, large: true });
    else this.keep(key, { copy, chars: size.chars, used: false });
  }

  /** `key` was seen with a part that is not clean: whatever was kept under it goes. */
  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.chars -= entry.chars;
    this.entries.delete(key);
  }

  private keep(key: string, entry: CleanEntry): void {
    this.entries.set(key, entry);
    this.chars += entry.chars;
    if (this.chars <= this.maxChars) return;
    for (const [k, e] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(k);
      if (e.used) {
        e.used = false;
        this.entries.set(k, e);
      } else {
        this.chars -= e.chars;
      }
    }
  }
}

/** A kept object: its own members' names, in order, and their values (kept alike). */
class KeptObject {
  constructor(readonly names: readonly string[], readonly values: readonly unknown[]) {}
}

/**
 * Whether JSON value `v` equals `kept` (copyJson's): the same strings, numbers, booleans and
 * nulls, arrays of equal items, objects with equal members in the same order (names compare as
 * pointers: JSON.parse interns them, and the kept names are the parsed ones).
 */
function sameJson(v: unknown, kept: unknown): boolean {
  if (v === kept) return true;
  if (typeof v !== 'object' || v === null || typeof kept !== 'object' || kept === null) return false;
  if (Array.isArray(v)) {
    if (!Array.isArray(kept) || v.length !== kept.length) return false;
    for (let i = 0; i < v.length; i++) if (!sameJson(v[i], kept[i])) return false;
    return true;
  }
  if (!(kept instanceof KeptObject)) return false;
  const { names, values } = kept;
  const o = v as Record<string, unknown>;
  let i = 0;
  // An inherited enumerable member (none, for what JSON.parse makes) is one the copy does not have.
  for (const k in o) {
    if (i === names.length || names[i] !== k || !sameJson(o[k], values[i])) return false;
    i++;
  }
  return i === names.length;
}

/** A copy of JSON value `v` for sameJson (sharing nothing with it but its strings), counting what it holds into `size`. */
function copyJson(v: unknown, size: { chars: number }): unknown {
  size.chars += NODE_OVERHEAD;
  if (typeof v === 'string') {
    size.chars += v.length;
    return v;
  }
  // A number kept as its text (parseJson's) is frozen: kept as itself, so only that very value is the same.
  if (typeof v !== 'object' || v === null || isRawJsonNumber(v)) return v;
  if (Array.isArray(v)) return v.map((x) => copyJson(x, size));
  const names = Object.keys(v);
  for (const k of names) size.chars += k.length;
  return new KeptObject(names, names.map((k) => copyJson((v as Record<string, unknown>)[k], size)));
}
