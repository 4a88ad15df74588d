// Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
// whitespace, numbers and strings serialised as ECMAScript does. Two parties that hold the same
// value get the same bytes, so a hash over them is a commitment to the value. Pure; it must never
// accept a value whose serialisation would be ambiguous (NaN, Infinity, functions, bigint).

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Serialise `value` canonically. Object members whose value is `undefined` are omitted. */
export function canonicalJson(value: unknown): string {
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
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what JCS prescribes.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0) out += ',';
        out += `${JSON.stringify(k)}:${canonicalJson(obj[k])}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}
