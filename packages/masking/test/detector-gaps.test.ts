// Values a security review found the engine let through, each masked whole and streamed: the
// concatenated stream output equals whole-text masking at random chunk boundaries and in
// one-character chunks. Percent-encoded values in URLs, a card with tabs between its groups, an
// address with a file extension after it, names with accents, apostrophes and hyphens or in
// capitals, passphrases after a password keyword, and long lists of phone numbers. And what the
// fixes for those masked that they must not: rows of a tab-separated table read as cards, and the
// command after a shell assignment or the sentence after "password:" read as a passphrase.
import fc from 'fast-check';
import { MaskerCore, TextStream } from '../src/index.js';
import { splitAt } from './samples.js';

const core = new MaskerCore(undefined, { key: 'detector-gaps-key-0123456789' });

const masked = (text: string): string => core.maskText(text).masked;
const typesOf = (text: string): string[] => core.maskText(text).findings.map((f) => f.type);

function streamText(chunks: string[]): string {
  const ts = new TextStream(core);
  let out = '';
  for (const c of chunks) out += ts.push(c);
  return out + ts.end();
}

/** Whole-text masking of `text` equals streaming it at random cuts and character by character. */
function streamsAsWhole(text: string): void {
  const whole = masked(text);
  expect(streamText([...Array(text.length).keys()].map((i) => text[i]!))).toBe(whole);
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (cuts) => {
    expect(streamText(splitAt(text, cuts))).toBe(whole);
  }), { numRuns: 150 });
}

const PHONES = Array.from({ length: 30 }, (_, i) => `+1 415 555 ${String(100 + i).padStart(4, '0')}`);

describe('values a review found unmasked are masked, whole and streamed', () => {
  test('percent-encoded values in a URL are read decoded and masked as written', () => {
    const url = 'https://x.example/cb?email=jane.doe%40example.com&card=4111%201111%201111%201111&n=1';
    expect(masked(url)).toBe('https://x.example/cb?email=[EMAIL_ADDRESS]&card=[CREDIT_CARD]&n=1');
    const { findings } = core.maskText(url);
    expect(findings.map((f) => url.slice(f.start, f.end))).toEqual(['jane.doe%40example.com', '4111%201111%201111%201111']);
    // One value has one fingerprint however it is written.
    expect(findings[0]!.fingerprint).toBe(core.maskText('jane.doe@example.com').findings[0]!.fingerprint);
    streamsAsWhole(`See ${url} and ?to=ops%2Bdesk%40example.org next`);
  });

  test('an escape that writes no printable ASCII character, or is written twice, reads as written', () => {
    expect(masked('100% sure, 50%off, 4111%0A1111%0A1111%0A1111')).toBe('100% sure, 50%off, 4111%0A1111%0A1111%0A1111');
    expect(masked('mail jane.doe%2540example.com')).toBe('mail jane.doe%2540example.com');
  });

  test('a card with tabs between its groups is masked; one with mixed joiners is not a card', () => {
    expect(masked('card 4111\t1111\t1111\t1111 ok')).toBe('card [CREDIT_CARD] ok');
    expect(masked('card\t4111\t\t1111\t1111\t1111\n')).toBe('card\t[CREDIT_CARD]\n');
    expect(typesOf('4111\t1111 1111-1111')).not.toContain('CREDIT_CARD');
    streamsAsWhole('row\t4111\t1111\t1111\t1111\tnext 5500\t0000\t0000\t0004 end');
  });

  test('tab-separated rows of numbers are table cells, not cards; a card in its printed shape still is one', () => {
    // Seeded rows of four quarterly figures: before, about one in ten read as a Luhn-valid card.
    let seed = 20261128;
    const next = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    const figure = () => String(1000 + Math.floor(next() * 9000));
    const rows = Array.from({ length: 3000 }, (_, i) => [`Store ${i % 10}`, figure(), figure(), figure(), figure()].join('\t'));
    const tsv = `Region\tQ1\tQ2\tQ3\tQ4\n${rows.join('\n')}\n`;
    expect(typesOf(tsv)).not.toContain('CREDIT_CARD');
    const bare = Array.from({ length: 3000 }, () => [figure(), figure(), figure(), figure()].join('\t'));
    expect(typesOf(`Q1\tQ2\tQ3\tQ4\n${bare.join('\n')}\n`)).not.toContain('CREDIT_CARD');
    expect(masked('Region\tQ1\tQ2\tQ3\tQ4\nStore 0\t6123\t3322\t9071\t3888\n')).toBe('Region\tQ1\tQ2\tQ3\tQ4\nStore 0\t6123\t3322\t9071\t3888\n');
    // A card in a printed shape, on a line of its own or after a card word.
    expect(masked('4111\t1111\t1111\t1111')).toBe('[CREDIT_CARD]');
    expect(masked('notes\n  4111\t1111\t1111\t1111\n')).toBe('notes\n  [CREDIT_CARD]\n');
    expect(masked('card_number:\t4111\t1111\t1111\t1111')).toBe('card_number:\t[CREDIT_CARD]');
    expect(masked('Amex\t3782\t822463\t10005')).toBe('Amex\t[CREDIT_CARD]');
    expect(masked('visa\t4111\t1111\t1111\t1111\t003')).toBe('visa\t[CREDIT_CARD]');
    // Not a card's shape, or a row of a table.
    expect(masked('card\t41\t111111\t11111111')).toBe('card\t41\t111111\t11111111');
    expect(masked('Q1\tQ2\tQ3\tQ4\n4111\t1111\t1111\t1111\n')).toBe('Q1\tQ2\tQ3\tQ4\n4111\t1111\t1111\t1111\n');
    expect(masked('4111\t1111\t1111\t1111\t2024')).toBe('4111\t1111\t1111\t1111\t2024');
    // Spaces and dashes join a card in any grouping, as before.
    expect(masked('4111 1111 1111 1111 and 4111-1111-1111-1111')).toBe('[CREDIT_CARD] and [CREDIT_CARD]');
    streamsAsWhole(`Region\tQ1\tQ2\tQ3\tQ4\n${rows.slice(0, 12).join('\n')}\n4111\t1111\t1111\t1111\ncard\t5500\t0000\t0000\t0004\n`);
  });

  test('an address with a file extension after it is masked without the extension', () => {
    expect(masked('saved jane.doe@example.com.csv and jane@example.co.uk.pdf')).toBe('saved [EMAIL_ADDRESS].csv and [EMAIL_ADDRESS].pdf');
    // Not an address: the part before the extension ends in no top-level domain people use.
    expect(masked('icon@2x.png and report@v2.final.pdf')).toBe('icon@2x.png and report@v2.final.pdf');
    streamsAsWhole('files: (jane.doe@example.com.csv), <ops@example.org.json>.');
  });

  test('names with accents, apostrophes and hyphens, and names in capitals, are people', () => {
    expect(masked("Contact Seán O'Brien today")).toBe('Contact [PERSON] today');
    expect(masked('Ask Patrick O’Brien')).toBe('Ask [PERSON]');
    expect(masked('Catherine Zeta-Jones called')).toBe('[PERSON] called');
    expect(masked('Name: JOHN SMITH')).toBe('Name: [PERSON]');
    expect(masked("Dear MARY O'BRIEN,")).toBe('Dear [PERSON],');
    // Capitals alone are headings and acronyms.
    for (const t of ['WARNING: DO NOT USE', 'AWS IAM POLICY', 'MAY JUNE', 'GRANT ACCESS', 'JOHN DEERE tractors']) expect(masked(t)).toBe(t);
    streamsAsWhole("Hi, I'm Seán O'Brien. cc: JOHN SMITH, Mary-Jane Watson and Zoë Müller.");
  });

  test('a passphrase after a password key is masked whole, to the closing quote or the end of the line', () => {
    expect(masked('password: correct horse battery staple\nnext: 1')).toBe('password: [SECRET]\nnext: 1');
    expect(masked('{"password": "correct horse battery staple", "user": "x"}')).toBe('{"password": "[SECRET]", "user": "x"}');
    expect(masked("  DB_PASSWORD='correct horse battery staple'")).toBe("  DB_PASSWORD='[SECRET]'");
    expect(masked('- passphrase = correct horse battery staple.')).toBe('- passphrase = [SECRET].');
    // In prose the value is one word; a placeholder is no value.
    expect(masked('the password=hunter22 worked fine')).toBe('the password=[SECRET] worked fine');
    expect(masked('password: ${DB_PASSWORD} here')).toBe('password: ${DB_PASSWORD} here');
    // A passphrase stops at PASSPHRASE_MAX characters, at a word boundary.
    const long = `password: ${'word '.repeat(40)}end`;
    const out = masked(long);
    expect(out.startsWith('password: [SECRET] word')).toBe(true);
    expect(out.length).toBeLessThan(long.length);
    streamsAsWhole('config:\npassword: correct horse battery staple\n"pass": "tr0ub4dor and 3 more"\nthe password=hunter22 worked\n');
  });

  test('a shell assignment ends at a space; a passphrase ends at a shell operator and at prose', () => {
    // KEY=value glued to its '=' is a shell or ENV assignment: the command after it stays.
    expect(masked('DB_PASSWORD=s3cret npm run migrate')).toBe('DB_PASSWORD=[SECRET] npm run migrate');
    expect(masked('export DB_PASSWORD=hunter22 && npm start')).toBe('export DB_PASSWORD=[SECRET] && npm start');
    expect(masked('PGPASSWORD=hunter22 psql -h db -U app')).toBe('PGPASSWORD=[SECRET] psql -h db -U app');
    // Quoted, the value runs to its quote and the command after it stays.
    expect(masked("DB_PASSWORD='correct horse battery staple' npm start")).toBe("DB_PASSWORD='[SECRET]' npm start");
    // A "key: value" line ends at a shell operator, a comment or a word of prose.
    expect(masked('password: hunter22 && npm start')).toBe('password: [SECRET] && npm start');
    expect(masked('password: hunter22 2>/dev/null')).toBe('password: [SECRET] 2>/dev/null');
    expect(masked('password: hunter22 # the old one')).toBe('password: [SECRET] # the old one');
    expect(masked('password: hunter22 is the old one')).toBe('password: [SECRET] is the old one');
    expect(masked('password: correct horse battery; echo done')).toBe('password: [SECRET]; echo done');
    // A first value that is prose is no password, and nothing after it is read as one.
    expect(masked('password: must be at least 12 characters long')).toBe('password: must be at least 12 characters long');
    expect(masked('Password: should contain a digit')).toBe('Password: should contain a digit');
    // Passphrases stay masked whole.
    expect(masked('password: correct horse battery staple')).toBe('password: [SECRET]');
    expect(masked('"password": "correct horse battery staple"')).toBe('"password": "[SECRET]"');
    expect(masked('{"password": "must be at least twelve"}')).toBe('{"password": "[SECRET]"}');
    streamsAsWhole('$ DB_PASSWORD=s3cret npm run migrate\n$ export DB_PASSWORD=hunter22 && npm start\n'
      + 'password: must be at least 12 characters long\npassword: correct horse battery staple\npassword: hunter22 && ls\n');
  });

  test('shell commands and passphrase lines stream as they mask whole', () => {
    const unit = fc.constantFrom('DB_PASSWORD=', 'password: ', 'pwd=', '"password": "', "'", '"', 's3cret', 'hunter22', 'correct', 'horse',
      'must', 'be', 'is', ' ', '  ', '\n', '&&', '&', '||', ';', '|', '>', '2>', '#', 'npm', 'run', 'export ', 'a', 'X');
    const textArb = fc.array(unit, { minLength: 1, maxLength: 24 }).map((parts) => parts.join(''));
    fc.assert(fc.property(textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (text, cuts) => {
      const whole = masked(text);
      expect(streamText(splitAt(text, cuts))).toBe(whole);
      expect(streamText([...Array(text.length).keys()].map((i) => text[i]!))).toBe(whole);
    }), { numRuns: 600 });
  });

  test('every number of a long list of phone numbers is masked', () => {
    for (const sep of [' ', ' / ', ', ']) {
      const text = PHONES.join(sep);
      expect(typesOf(text).filter((t) => t === 'PHONE_NUMBER')).toHaveLength(PHONES.length);
    }
    const dashed = Array.from({ length: 25 }, (_, i) => `415-555-${String(100 + i).padStart(4, '0')}`).join(' ');
    expect(masked(dashed)).toBe(Array(25).fill('[PHONE_NUMBER]').join(' '));
    streamsAsWhole(`Call ${PHONES.slice(0, 20).join(' ')} today`);
  });

  test('texts made of these values and their pieces stream as they mask whole', () => {
    const unit = fc.constantFrom('jane.doe%40example.com', '%40', '%4', '%', '0', '%20', '4111', '1111', '\t', ' ', '\n', '"', '.csv',
      'jane.doe@example.com', 'password: ', '"password": "', 'DB_PASSWORD=', 'correct', 'horse', 'the ', "Seán O'Brien", 'O', "'", 'Brien',
      'JOHN', 'SMITH', 'Name: ', '+1 415 555 0100', '415-555-0101', ' / ', 'a', 'X');
    const textArb = fc.array(unit, { minLength: 1, maxLength: 24 }).map((parts) => parts.join(''));
    fc.assert(fc.property(textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (text, cuts) => {
      const whole = masked(text);
      expect(streamText(splitAt(text, cuts))).toBe(whole);
      expect(streamText([...Array(text.length).keys()].map((i) => text[i]!))).toBe(whole);
    }), { numRuns: 600 });
  });
});
