// Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
// whitespace, numbers and strings serialised as ECMAScript does. Two parties that hold the same
// value get the same bytes, so a hash over them is a commitment to the value. Pure; it must never
// accept a value whose serialisation would be ambiguous (NaN, Infinity, functions, bigint), and its
// output must never change for a given value: every stored hash chain depends on these bytes (a
// property test holds it byte-equal to the first, plainly recursive implementation).
//
// It sits on the record's hot path (every event is hashed over it), so it is written for speed:
// one output string grown by appending (V8 ropes, flattened once by the hash), keys sorted only
// when they are not already in order, quoted object keys cached, strings quoted natively.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Serialise `value` canonically. Object members whose value is `undefined` are omitted. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return numberJson(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? arrayJson(value) : objectJson(value as Record<string, unknown>);
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

function numberJson(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
  // ECMAScript's Number-to-String is exactly JCS's number serialisation (RFC 8785 §3.2.2.3);
  // JSON.stringify applies it (and writes -0 as 0).
  return JSON.stringify(value);
}

/** One member or element: the fast cases inline, containers by recursion. */
function memberJson(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return numberJson(v);
  return canonicalJson(v);
}

function arrayJson(value: unknown[]): string {
  const n = value.length;
  if (n === 0) return '[]';
  let out = '[';
  for (let i = 0; i < n; i++) {
    const v = value[i];
    if (i > 0) out += ',';
    out += v === undefined ? 'null' : memberJson(v);
  }
  return `${out}]`;
}

// Object keys repeat across events (header names, "type", "role", "text", ...): quote each once.
// Bounded so that a stream of unique keys (e.g. arbitrary tool-input objects) cannot grow it
// without end; when full it starts over.
const QUOTED_KEYS_MAX = 4096;
let quotedKeys = new Map<string, string>();

function quotedKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size >= QUOTED_KEYS_MAX) quotedKeys = new Map();
    quotedKeys.set(k, q);
  }
  return q;
}

function objectJson(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  const n = keys.length;
  // Default sort compares UTF-16 code units, which is what JCS prescribes; `<` on strings compares
  // the same way, so an object whose keys are already in order (most, for small ones) skips it.
  for (let i = 1; i < n; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const v = obj[k];
    if (v === undefined) continue;
    if (first) first = false;
    else out += ',';
    out += quotedKey(k);
    out += ':';
    out += memberJson(v);
  }
  return `${out}}`;
}
