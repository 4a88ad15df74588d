// Keyword rules read the newest turn as Claude reads it: a keyword's words apart by any whitespace,
// letters under combining marks, a dotted capital İ, and Cyrillic or Greek letters that look Latin.
import fc from 'fast-check';
import { combine, evaluate, policyProblems, type Decision } from '@skillgate/policy';
import { readAsKeywords } from '@skillgate/policy/keyword-reading';
import type { SkillPolicy } from '@skillgate/api';
import { policy, request } from './policy-fixtures.js';

const keywordPolicy = (keywords: string[]): SkillPolicy => policy('p', { approval: { rules: [{ name: 'kw', when: { keywords } }] } });
const decide = (p: SkillPolicy, turn: string): Decision =>
  evaluate(combine([p]), { route: 'messages', request: request({}, turn) }, { now: new Date('2026-03-04T10:00:00Z'), findings: [], estimatedTokens: 10 });
const reasons = (d: Decision): string[] => (d.kind === 'approval' ? d.reasons : []);
const watched = keywordPolicy(['salary', 'secret project', 'credit card']);

describe('a keyword of several words', () => {
  test.each([
    ['two spaces', 'the secret  project'],
    ['a line break', 'the secret\nproject'],
    ['a tab', 'the secret\tproject'],
    ['a Windows line break and an indent', 'the secret\r\n    project'],
    ['a no-break space', 'the secret\u00a0project'],
    ['an em space', 'the secret\u2003project'],
    ['an ideographic space', 'the secret\u3000project'],
    ['a next-line character (Unicode White_Space, not JavaScript\'s \\s)', 'the secret\u0085project'],
  ])('matches its words with %s between them', (_name, turn) => {
    expect(reasons(decide(watched, turn))).toEqual(['team-a/p/kw: keyword "secret project" in the newest turn']);
  });

  test('matches however the policy spaced its words', () => {
    expect(decide(keywordPolicy(['  secret \t project ']), 'the secret project').kind).toBe('approval');
  });

  test.each([
    ['run together', 'the secretproject'],
    ['joined by an underscore', 'the secret_project'],
    ['as part of longer words', 'the secrets projects'],
  ])('does not match its words %s', (_name, turn) => {
    expect(decide(watched, turn).kind).toBe('allow');
  });
});

describe('a keyword written with letters that read as its own', () => {
  test.each([
    ['combining underlines', 's\u0332a\u0332l\u0332a\u0332r\u0332y\u0332'],
    ['an acute accent on a letter', 'sa\u0301lary'],
    ['a precomposed accented letter', 'sal\u00e1ry'],
    ['a Cyrillic а', 's\u0430lary'],
    ['Cyrillic ѕ, а, ӏ and у', '\u0455\u0430\u04cf\u0430r\u0443'],
    ['Cyrillic capitals Ѕ and А', '\u0405\u0410LARY'],
    ['Greek capitals Α and Υ', 'S\u0391L\u0391R\u03a5'],
    ['circled letters', '\u24e2\u24d0\u24db\u24d0\u24e1\u24e8'],
    ['a trade mark sign after it (NFKD would spell it TM, glued to the word)', 'salary\u2122'],
    ['a circled ten before it', '\u2469salary'],
    ['an emoji after it', 'salary\u{1f4b0}'],
  ])('matches it spelled with %s', (_name, turn) => {
    expect(reasons(decide(watched, `the ${turn} table`))).toEqual(['team-a/p/kw: keyword "salary" in the newest turn']);
  });

  test.each([
    ['a dotted capital İ', 'CRED\u0130T CARD'],
    ['a dotless ı', 'cred\u0131t card'],
    ['a Cyrillic с and а', '\u0441redit \u0441\u0430rd'],
  ])('matches a keyword of two words spelled with %s', (_name, turn) => {
    expect(reasons(decide(watched, `my ${turn} number`))).toEqual(['team-a/p/kw: keyword "credit card" in the newest turn']);
  });

  test('a keyword in Greek or Cyrillic still matches its own words, in either case', () => {
    const native = keywordPolicy(['μισθός', 'зарплата']);
    for (const turn of ['ο μισθός μου', 'Ο ΜΙΣΘΌΣ ΜΟΥ', 'моя зарплата', 'МОЯ ЗАРПЛАТА']) expect(decide(native, turn).kind).toBe('approval');
    expect(decide(native, 'μισθοί και зарплаты').kind).toBe('allow'); // other words
  });

  test('a keyword matches itself whatever the case of each letter and the whitespace between its words', () => {
    const letter = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzабвгдежзийклмнопрстуфхцчшщыэюяαβγδεζηθικλμνξοπρστυφχψωéüıİ');
    const word = fc.array(letter, { minLength: 1, maxLength: 8 }).map((ls) => ls.join(''));
    const space = fc.constantFrom(' ', '  ', '\n', '\t', '\u00a0', '\u2009', '\u3000', '\r\n');
    const recase = fc.constantFrom((w: string) => w, (w: string) => w.toUpperCase(), (w: string) => w.toLowerCase());
    fc.assert(fc.property(fc.array(fc.tuple(word, space, recase), { minLength: 1, maxLength: 3 }), (words) => {
      const keyword = words.map(([w]) => w).join(' ');
      const turn = words.map(([w, s, r], i) => (i === 0 ? '' : s) + r(w)).join('');
      expect(decide(keywordPolicy([keyword]), `(${turn})`).kind).toBe('approval');
    }), { numRuns: 1000 });
  });
});

describe('how keywords read a text', () => {
  test('an ASCII text reads as it is', () => {
    expect(readAsKeywords('Secret  Project\n')).toBe('Secret  Project\n');
  });
  test('marks go, compatibility forms and look-alikes read as Latin, case stays for the expressions to fold', () => {
    expect(readAsKeywords('CRED\u0130T s\u0332\u0430l\u00e1ry \ufb01le \u0405\u0391')).toBe('CREDIT salary file SA');
  });
  test('a sign whose compatibility form is several characters reads as a space; one of one character as it', () => {
    expect(readAsKeywords('salary\u2122 \u00bd \u24e2 \u2460')).toBe('salary    s 1');
  });
});

describe('validating keywords', () => {
  test.each([
    ['only whitespace', ' \t '],
    ['only combining marks', '\u0301\u0332'],
    ['only zero-width characters', '\u200b\u200b'],
  ])('a keyword of %s, which would match anywhere, is refused naming its field', (_name, keyword) => {
    expect(policyProblems(keywordPolicy(['salary', keyword])).join('\n')).toMatch(/spec\.approval\.rules\[0\]\.when\.keywords\[1\]: .* reads as no word/);
  });
});
