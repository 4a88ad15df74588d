import fc from 'fast-check';
import { firstDuplicateMember } from '../src/duplicate-members.js';

describe('firstDuplicateMember', () => {
  test.each([
    ['a Messages request as an SDK sends it', '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}', undefined],
    ['a member named twice at the top', '{"model":"claude-haiku-4-5","max_tokens":64,"model":"claude-opus-4-1"}', 'model'],
    ['a member named twice in a content block', '{"messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}', 'text'],
    ['the same name in sibling and nested objects', '{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":{"b":{"a":3}}}', undefined],
    ['a name spelled once plainly and once with an escape', '{"model":"x","\\u006dodel":"y"}', 'model'],
    ['whitespace between a name and its colon', '{"a" : 1,\n "b"\t:2, "a"\r\n: 3}', 'a'],
    ['quotes, backslashes and colons inside values', '{"a":"say \\"a\\": no","b":"\\\\","c":"\\\\\\":","d":["a","a"]}', undefined],
    ['a value equal to a name is not a name', '{"a":"b","b":"a"}', undefined],
    ['a name after a value that ends in an escaped backslash', '{"a":"\\\\","a":1}', 'a'],
    ['an empty name twice', '{"":1,"":2}', ''],
    ['__proto__ twice', '{"__proto__":1,"__proto__":2}', '__proto__'],
    ['an object with many members, the last repeating the first', `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k0":0}`, 'k0'],
  ])('%s', (_name, json, expected) => {
    JSON.parse(json); // every case is a text JSON.parse accepts
    expect(firstDuplicateMember(json)).toBe(expected);
  });

  test('agrees with a plain recursive-descent reader on random texts with and without repeated names', () => {
    fc.assert(fc.property(jsonText, (text) => {
      JSON.parse(text);
      expect(firstDuplicateMember(text)).toBe(referenceDuplicate(text));
    }), { numRuns: 3000 });
  });
});

// Random JSON texts: objects draw their names from a small pool (so names repeat), names and
// strings are written with escapes now and then, and whitespace lands wherever JSON allows it.
const ws = fc.constantFrom('', ' ', '\n', '\t ', '\r\n');
const nameText = fc.tuple(fc.constantFrom('a', 'b', 'model', 'text', '', 'ü', '"', '\\', 'a"b:'), fc.boolean()).map(([name, escapeAll]) =>
  escapeAll ? `"${[...name].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(name));
const stringText = fc.constantFrom('"x"', '"a"', '"\\"a\\": 1"', '"\\\\"', '"\\\\\\""', '"{\\"a\\":1,\\"a\\":2}"', '"}]"', '""');
const { value: jsonText } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    stringText,
    fc.constantFrom('1', '-0.5e3', 'true', 'false', 'null'),
    fc.tuple(fc.array(fc.tuple(ws, tie('value'), ws), { maxLength: 4 })).map(([items]) => `[${items.map(([a, v, b]) => `${a}${v}${b}`).join(',')}]`),
    fc.array(fc.tuple(ws, nameText, ws, ws, tie('value'), ws), { maxLength: 5 })
      .map((members) => `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}`),
  ),
}));

/** The reference: read the whole text as JSON, noting the first name repeated within its object. */
function referenceDuplicate(text: string): string | undefined {
  let i = 0;
  let found: string | undefined;
  const skipWs = (): void => { while (/\s/.test(text[i] ?? '')) i++; };
  const readString = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const readValue = (): void => {
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const names = new Set<string>();
      skipWs();
      while (text[i] !== '}') {
        skipWs();
        const name = readString();
        if (names.has(name) && found === undefined) found = name;
        names.add(name);
        skipWs();
        i++; // :
        readValue();
        skipWs();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '[') {
      i++;
      skipWs();
      while (text[i] !== ']') {
        readValue();
        skipWs();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '"') {
      readString();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
    }
    skipWs();
  };
  readValue();
  return found;
}
