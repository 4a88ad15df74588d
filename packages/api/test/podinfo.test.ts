import fc from 'fast-check';
import { PodInfoFormatError, parsePodLabelsFile } from '../src/podinfo.js';

// Written by the kubelet's own formatter (k8s.io/kubernetes v1.36.3 pkg/fieldpath.FormatMap, run with
// Go 1.26 over the map in the test below): the exact bytes a downward API volume holds.
const KUBELET_FILE = 'app="triage"\nbad="a\\xffb"\nctl="\\x00\\x1b\\u200b\\u00ad\\U000e0001"\nempty=""\neq="a=b,c=d"\n'
  + 'note="she said \\"hi\\"\\\\ then\\nleft\\ttab\\a\\b\\f\\r\\v"\npod-template-hash="7d9f8b6c5"\nskillgate.dev/skill="triage"\nuni="héllo ✓ 🚀"';

/** strconv.Quote for valid UTF-8 text, as Go writes it (printable runes kept, others escaped). */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const named: Record<number, string> = { 0x07: '\\a', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x0b: '\\v', 0x5c: '\\\\', 0x22: '\\"' };
    if (named[cp]) out += named[cp];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/u.test(ch) || (/\p{Z}/u.test(ch) && cp !== 0x20)) {
      out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

describe('parsePodLabelsFile', () => {
  test("reads the kubelet's file for the pod's labels back into the map it was written from", () => {
    expect(parsePodLabelsFile(KUBELET_FILE)).toEqual({
      app: 'triage',
      bad: 'a\ufffdb',
      ctl: '\u0000\u001b\u200b\u00ad\u{e0001}',
      empty: '',
      eq: 'a=b,c=d',
      note: 'she said "hi"\\ then\nleft\ttab\u0007\b\f\r\v',
      'pod-template-hash': '7d9f8b6c5',
      'skillgate.dev/skill': 'triage',
      uni: 'héllo ✓ 🚀',
    });
  });

  test('an empty file (a pod without labels) is an empty map, and a trailing newline is tolerated', () => {
    expect(parsePodLabelsFile('')).toEqual({});
    expect(parsePodLabelsFile('app="x"\n')).toEqual({ app: 'x' });
  });

  test('a value that splits a multi-byte character into byte escapes comes back whole', () => {
    expect(parsePodLabelsFile('k="\\xc3\\xa9\\342\\234\\223"')).toEqual({ k: 'é✓' });
  });

  test('a key named __proto__ is an ordinary entry, never the prototype', () => {
    const labels = parsePodLabelsFile('__proto__="x"');
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['__proto__']);
  });

  test.each([
    ['ok="1"\napp=triage', 2, /not a double-quoted string/],
    ['ok="1"\napp', 2, /no "=" between key and value/],
    ['="x"', 1, /empty key/],
    ['a="x"y"', 1, /unescaped "/],
    ['a="x\\"', 1, /lone backslash/],
    ['a="\\q"', 1, /unknown escape \\q/],
    ['a="\\x4"', 1, /short escape/],
    ['a="\\uZZZZ"', 1, /bad hex digits/],
    ['a="\\ud800"', 1, /not a Unicode scalar value/],
    ['a="\\400"', 1, /above \\377/],
  ])('a malformed line (%j) is refused, naming the line', (text, line, reason) => {
    const err = (() => { try { parsePodLabelsFile(text); } catch (e) { return e; } return undefined; })();
    expect(err).toBeInstanceOf(PodInfoFormatError);
    expect((err as PodInfoFormatError).line).toBe(line);
    expect((err as Error).message).toMatch(reason);
  });

  test('for any labels, the file the kubelet would write parses back to the same labels', () => {
    const text = fc.string({ unit: 'binary', maxLength: 24 });
    const key = fc.stringMatching(/^[a-z0-9]([a-z0-9.\-/_]{0,20}[a-z0-9])?$/);
    fc.assert(fc.property(fc.dictionary(key, text, { maxKeys: 6 }), (labels) => {
      const file = Object.keys(labels).sort().map((k) => `${k}=${goQuote(labels[k]!)}`).join('\n');
      expect(parsePodLabelsFile(file)).toEqual(labels);
    }));
  });
});
