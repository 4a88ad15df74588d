import fc from 'fast-check';
import { isRawJsonNumber, jsonNumberText, jsonNumberValue, parseJson, readJsonText } from '../src/json-text.js';
import { isRecord } from '../src/types.js';

describe('readJsonText: the first member named twice in one object', () => {
  const firstDuplicateMember = (json: string): string | undefined => readJsonText(json).repeatedMember;
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

describe('numbers JSON.parse cannot hold (readJsonText, parseJson)', () => {
  test.each([
    ['a Messages request', '{"model":"m","max_tokens":64000,"temperature":0.7}', false],
    ['a 16-digit card that fits a double exactly', '{"card":4111111111111111}', true],
    ['a 19-digit number', '{"card":4111111111111111110}', true],
    ['a long fraction', '[0.12345678901234567]', true],
    ['leading zeros of a fraction are not significant', '[0.000000000000000012345]', false],
    ['an exponent is not a digit of the value', '[1.5e-300,-2E+308]', false],
    ['long digit runs inside strings', '{"id":"12345678901234567890","t":"1 2 3"}', false],
    ['a name of digits', '{"12345678901234567890":1}', false],
  ])('%s', (_name, json, long) => {
    expect(readJsonText(json).longNumber).toBe(long);
    // parseJson's own look (for answers) finds what readJsonText finds.
    expect(JSON.stringify(parseJson(json))).toBe(JSON.stringify(parseJson(json, long)));
  });

  test('a number a double holds stays a number; one it cannot is kept as its text and written back as sent', () => {
    const text = '{"a":4111111111111111,"b":4111111111111111110,"c":-98765432109876543210.5e-3,"d":[0.1,1.0,100000000000000000000],"e":"4111111111111111110"}';
    const v = parseJson(text) as Record<string, unknown> & { d: unknown[] };
    expect(v.a).toBe(4111111111111111);
    expect(isRawJsonNumber(v.b)).toBe(true);
    expect(jsonNumberText(v.b)).toBe('4111111111111111110');
    expect(jsonNumberText(v.c)).toBe('-98765432109876543210.5e-3');
    expect(jsonNumberValue(v.b)).toBe(4111111111111111110);
    expect(v.d).toEqual([0.1, 1, 1e20]); // 1e20 is exact, and ECMAScript writes it so
    expect(v.e).toBe('4111111111111111110');
    expect(JSON.stringify(v)).toBe('{"a":4111111111111111,"b":4111111111111111110,"c":-98765432109876543210.5e-3,"d":[0.1,1,100000000000000000000],"e":"4111111111111111110"}');
    expect(isRecord(v.b)).toBe(false); // not an object of the JSON: no walk goes into it
    expect(isRecord(parseJson('{"rawJSON":"4111111111111111110"}'))).toBe(true); // a member of that name is just a member
    expect(jsonNumberText('1')).toBeUndefined();
    expect(jsonNumberText(Number.NaN)).toBeUndefined();
  });

  test('parseJson throws what JSON.parse throws', () => {
    expect(() => parseJson('{"a":')).toThrow(SyntaxError);
  });

  test('every integer keeps its digits through parseJson and JSON.stringify, and readJsonText finds the ones that need it', () => {
    const integer = fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String);
    const value = fc.oneof(integer, integer.map((i) => `"${i}"`), fc.constantFrom('true', 'null', '0.5'));
    fc.assert(fc.property(fc.array(value, { maxLength: 6 }), fc.array(value, { maxLength: 6 }), (items, members) => {
      const text = `{"items":[${items.join(',')}],"m":{${members.map((v, i) => `"k${i}": ${v}`).join(',')}}}`;
      const out = JSON.stringify(parseJson(text));
      const numbers = (t: string) => [...t.matchAll(/(?<=[[,:] ?)-?\d+(?=[\],}])/g)].map((m) => BigInt(m[0]));
      expect(numbers(out)).toEqual(numbers(text));
      expect(JSON.stringify(parseJson(text, readJsonText(text).longNumber))).toBe(out);
      const long = [...items, ...members].some((v) => /^-?\d+$/.test(v) && v.replace(/^-?0*/, '').length > 15);
      expect(readJsonText(text).longNumber).toBe(long);
    }), { numRuns: 2000 });
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
