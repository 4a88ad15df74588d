// Duplicate member names in a JSON text. JSON.parse keeps the last of `{"model":"a","model":"b"}`;
// another parser may keep the first, and the Claude API's is not ours. A body that names a member
// twice in one object can therefore be read one way by skillgate's policy, masking and record and
// another way by the upstream: the sidecar refuses such a body instead of guessing. Pure.
//
// One pass over a text JSON.parse has already accepted: strings are skipped with indexOf (their
// content is most of a Claude request), and only member names are compared, decoded when they hold
// escapes ("\u006dodel" is "model"), per object on a stack.

/** Objects with more names than this keep them in a Set instead of comparing them one by one. */
const SMALL_OBJECT = 16;

/**
 * The first member name that appears a second time in the same object of `json`, in text order, or
 * undefined when every object names each member once. `json` must be a text JSON.parse accepts.
 */
export function firstDuplicateMember(json: string): string | undefined {
  // One entry per open container: the names an object has so far, or null for an array.
  const open: Array<string[] | Set<string> | null> = [];
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
            if (names.has(name)) return name;
            names.add(name);
          } else {
            if (names.includes(name)) return name;
            names.push(name);
            if (names.length > SMALL_OBJECT) open[open.length - 1] = new Set(names);
          }
        }
      }
      i = end;
    }
  }
  return undefined;
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
