// Reading a JSON text as the Claude API will. Pure.
//
// Duplicate member names. JSON.parse keeps the last of `{"model":"a","model":"b"}`; another parser
// may keep the first, and the Claude API's is not ours. A body that names a member twice in one
// object can therefore be read one way by skillgate's policy, masking and record and another way by
// the upstream: the sidecar refuses such a body instead of guessing.
//
// Long numbers. JSON.parse turns a number of more than 15 significant digits into the nearest
// double: a 19-digit card number a tool input writes as a number loses its last digits, so its
// checksum fails and masking cannot find it, and a body rewritten after masking would send Claude
// other digits than the skill wrote (the Claude API reads integers exactly). parseJson keeps each
// number a double cannot hold as JSON.rawJSON of its source text (Node 22+): JSON.stringify writes
// it back byte for byte, and jsonNumberText gives its digits to masking. Texts without such a
// number (nearly all) take JSON.parse's fast path: the reviver that sees source text costs ~0.7 µs
// a value.
//
// One pass over a text JSON.parse has already accepted finds both: strings are skipped with indexOf
// (their content is most of a Claude request), member names are compared, decoded when they hold
// escapes ("\u006dodel" is "model"), per object on a stack, and number tokens are counted.

/** What one pass over a JSON text finds (readJsonText). */
export interface JsonTextFacts {
  /** The first member name that appears a second time in the same object, in text order. */
  repeatedMember?: string;
  /** Whether some number token has more than 15 significant digits (JSON.parse may lose some). */
  longNumber: boolean;
}

/** Digits a double always holds exactly (DBL_DIG). */
const EXACT_DIGITS = 15;

/** Objects with more names than this keep them in a Set instead of comparing them one by one. */
const SMALL_OBJECT = 16;

/**
 * One pass over `json`, which must be a text JSON.parse accepts: its first repeated member name
 * and whether it holds a long number.
 */
export function readJsonText(json: string): JsonTextFacts {
  // One entry per open container: the names an object has so far, or null for an array.
  const open: Array<string[] | Set<string> | null> = [];
  let longNumber = false;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x7b /* { */) open.push([]);
    else if (c === 0x5b /* [ */) open.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) open.pop();
    else if (c === 0x22 /* " */) {
      const end = stringEnd(json, i);
      if (isName(json, end + 1)) {
        const names = open[open.length - 1];
        if (names) {
          const raw = json.slice(i + 1, end);
          const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
          if (names instanceof Set) {
            if (names.has(name)) return { repeatedMember: name, longNumber };
            names.add(name);
          } else {
            if (names.includes(name)) return { repeatedMember: name, longNumber };
            names.push(name);
            if (names.length > SMALL_OBJECT) open[open.length - 1] = new Set(names);
          }
        }
      }
      i = end;
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d /* - */) {
      const end = numberEnd(json, i);
      if (!longNumber && isLongNumber(json, i, end)) longNumber = true;
      i = end - 1;
    }
  }
  return { longNumber };
}

/**
 * Whether a text JSON.parse accepted holds a number of more than 15 significant digits: readJsonText's
 * number check alone, for answers (no member names kept; a number's digits come in one run, so a run
 * of 16 digits outside strings is the only place to look further).
 */
function hasLongNumber(json: string): boolean {
  let run = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = stringEnd(json, i);
      run = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (++run > EXACT_DIGITS) {
        // Where its number token starts: back over digits, '.', '-' (a fraction's leading zeros do not count).
        let start = i;
        while (start > 0 && isNumberChar(json.charCodeAt(start - 1))) start--;
        const end = numberEnd(json, start);
        if (isLongNumber(json, start, end)) return true;
        i = end - 1;
        run = 0;
      }
    } else if (c !== 0x2e /* . */) {
      run = 0;
    }
  }
  return false;
}


/** JSON's raw text values (JSON.rawJSON, JSON.isRawJSON): Node 22 and later. */
const rawJson = JSON as JSON & { rawJSON?: (text: string) => object; isRawJSON?: (value: unknown) => boolean };

/** A number JSON.parse could not hold, kept as its source text (parseJson). */
export interface RawJsonNumber { readonly rawJSON: string }

/**
 * `text` parsed as JSON.parse does, except that a number a double cannot hold exactly is kept as
 * JSON.rawJSON of its source text. Throws what JSON.parse throws. Give `longNumber` when the text
 * was read already (readJsonText); otherwise the text is read for it after parsing.
 */
export function parseJson(text: string, longNumber?: boolean): unknown {
  if (rawJson.rawJSON === undefined) return JSON.parse(text);
  // Known to hold one: straight to the parse that sees source text (a body can be megabytes).
  if (longNumber === true) return JSON.parse(text, keepLongNumbers as (this: unknown, key: string, value: unknown) => unknown);
  const value: unknown = JSON.parse(text);
  if (longNumber === false || !hasLongNumber(text)) return value;
  return JSON.parse(text, keepLongNumbers as (this: unknown, key: string, value: unknown) => unknown);
}

function keepLongNumbers(_key: string, value: unknown, context?: { source?: string }): unknown {
  const source = context?.source;
  if (typeof value !== 'number' || source === undefined || source.length <= EXACT_DIGITS) return value;
  // Kept as sent whenever ECMAScript would write it otherwise: digits lost, or an exact integer of
  // 22 digits and more that JSON.stringify would write as 1e+21 (a float to the Claude API).
  return String(value) === source ? value : rawJson.rawJSON!(source);
}

/** Whether `value` is a number parseJson kept as its source text. */
export function isRawJsonNumber(value: unknown): value is RawJsonNumber {
  // The `in` check first: JSON.isRawJSON is a call into the runtime, and this runs on every object walked.
  return typeof value === 'object' && value !== null && 'rawJSON' in value && rawJson.isRawJSON?.(value) === true;
}

/** A JSON number's text: a number as ECMAScript writes it, a kept one as it was sent; undefined for anything else. */
export function jsonNumberText(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  return isRawJsonNumber(value) ? value.rawJSON : undefined;
}

/** A JSON number's value as a double (a kept one rounded as JSON.parse rounds it); undefined for anything else. */
export function jsonNumberValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  return isRawJsonNumber(value) ? Number(value.rawJSON) : undefined;
}

/** Index just past the number token starting at `start`. */
function numberEnd(json: string, start: number): number {
  let k = start + 1;
  while (k < json.length && isNumberChar(json.charCodeAt(k))) k++;
  return k;
}

/** A character a JSON number token is written with: digits, '.', 'e', 'E', '+', '-'. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** Whether the number token json[start, end) has more significant digits than a double holds. */
function isLongNumber(json: string, start: number, end: number): boolean {
  return end - start > EXACT_DIGITS && significantDigits(json, start, end) > EXACT_DIGITS;
}

/** The significant digits of the number token json[start, end): its mantissa's, leading zeros left out. */
function significantDigits(json: string, start: number, end: number): number {
  let count = 0;
  for (let k = start; k < end; k++) {
    const c = json.charCodeAt(k);
    if (c === 0x65 || c === 0x45) break;
    if (c >= 0x30 && c <= 0x39 && (count > 0 || c !== 0x30)) count++;
  }
  return count;
}

/** Index of the quote that closes the string opening at `start` (one not escaped by a backslash). */
function stringEnd(json: string, start: number): number {
  let end = json.indexOf('"', start + 1);
  while (end !== -1) {
    let backslashes = 0;
    for (let k = end - 1; json.charCodeAt(k) === 0x5c /* \ */; k--) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = json.indexOf('"', end + 1);
  }
  return json.length; // not reached for a text JSON.parse accepted
}

/** Whether the string that ended just before `at` is a member name: a colon follows it. */
function isName(json: string, at: number): boolean {
  for (let k = at; k < json.length; k++) {
    const c = json.charCodeAt(k);
    if (c === 0x3a /* : */) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}
