// Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
// whitespace, numbers and strings serialised as ECMAScript does. Two parties that hold the same
// value get the same bytes, so a hash over them is a commitment to the value. Pure; it must never
// accept a value whose serialisation would be ambiguous (NaN, Infinity, functions, bigint), and its
// output must never change for a given value: every stored hash chain depends on these bytes (a
// property test holds it byte-equal to the first, plainly recursive implementation).
//
// It sits on the record's hot path (every event is hashed over it), so it is written for speed:
// objects whose keys are out of order are copied with the keys inserted in sorted order (the rest
// is shared), and the native JSON.stringify writes the result. That is exact because JSON.stringify
// walks own enumerable keys in insertion order (index-like keys excepted: such objects take the
// general path), writes strings and numbers as below, and sees no toJSON on plain objects. Anything unusual (index-like or
// `__proto__` keys, values canonical JSON refuses) goes through the general, member-by-member path.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Serialise `value` canonically. Object members whose value is `undefined` are omitted. */
export function canonicalJson(value: unknown): string {
  const ordered = orderedCopy(value);
  return ordered === UNORDERABLE ? generalJson(value) : JSON.stringify(ordered);
}

const UNORDERABLE: unique symbol = Symbol('unorderable');

/**
 * `value` with object keys in canonical order, or UNORDERABLE when the general path must decide.
 * Objects and arrays already in order (plain ones, whose members are too) are returned as they
 * are, not copied: builders that insert keys in sorted order (requestData, recordHeaders, the
 * stream batcher) are serialised without any copy.
 */
function orderedCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : UNORDERABLE;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        // JSON.stringify writes undefined elements (and holes) as null, as canonical JSON does.
        const plain = Object.getPrototypeOf(value) === Array.prototype && (value as { toJSON?: unknown }).toJSON === undefined;
        let out: unknown[] | undefined = plain ? undefined : [];
        for (let i = 0; i < value.length; i++) {
          const v = value[i] as unknown;
          const c = v === undefined ? null : orderedCopy(v);
          if (c === UNORDERABLE) return UNORDERABLE;
          if (out === undefined) {
            if (c === v || v === undefined) continue;
            out = value.slice(0, i).map((x: unknown) => (x === undefined ? null : x));
          }
          out.push(c);
        }
        return out ?? value;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      let sorted = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const c0 = k.charCodeAt(0);
        // Keys an engine orders first (array indexes) or that assignment treats specially.
        if ((c0 >= 48 && c0 <= 57) || k === '__proto__') return UNORDERABLE;
        if (sorted && i > 0 && keys[i - 1]! > k) sorted = false;
      }
      if (!sorted) sortKeys(keys);
      const proto = Object.getPrototypeOf(obj) as unknown;
      // Shared as is only when in order and plain (no toJSON to honour or ignore).
      let out: Record<string, unknown> | undefined = sorted && (proto === Object.prototype || proto === null) ? undefined : {};
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined) continue;
        const c = orderedCopy(v);
        if (c === UNORDERABLE) return UNORDERABLE;
        if (out === undefined) {
          if (c === v) continue;
          out = {};
          for (let j = 0; j < i; j++) {
            const kj = keys[j]!;
            if (obj[kj] !== undefined) out[kj] = obj[kj];
          }
        }
        out[k] = c;
      }
      return out ?? obj;
    }
    default:
      return UNORDERABLE;
  }
}

/**
 * Sort keys by UTF-16 code units (what JCS prescribes; `<` on strings and the default sort both
 * compare that way). Objects here are small: an insertion sort beats the generic sort on them.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

/**
 * The general path: member by member, refusing what canonical JSON cannot hold. It stays on this
 * path all the way down (linear in the size of the value, whatever its shape).
 */
function generalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
      // ECMAScript's Number-to-String is exactly JCS's number serialisation (RFC 8785 §3.2.2.3).
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          if (i > 0) out += ',';
          out += generalJson(v === undefined ? null : v);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      sortKeys(keys);
      let out = '{';
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined) continue;
        if (first) first = false;
        else out += ',';
        out += `${JSON.stringify(k)}:${generalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}
