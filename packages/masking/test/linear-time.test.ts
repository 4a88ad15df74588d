// Guards against catastrophic backtracking: every detector gets 1 MB of input built to make a
// backtracking pattern blow up. This is not a performance claim (see bench/masking for those), and
// it holds on a slow or busy machine: what is checked is how the time GROWS, in CPU time of this
// thread (time the machine spent on other processes is not counted). 1 MB must take less than 8
// times what its first quarter takes (linear: about 4; quadratic: 16), with 250 ms of slack for
// noise on fast inputs. An exponential pattern never finishes and hits the test timeout.
import { createMasker, TextStream, MaskerCore } from '../src/index.js';

const MB = 1 << 20;
const masker = createMasker({ custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}' }, { name: 'TICKET', pattern: '[A-Z]{2,5}-[0-9]{1,6}' }, { name: 'PROJECT', keywords: ['project falcon', 'aaa'] }] }, { key: 'linear-time-key-0123456789', memo: false });

const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);

/** CPU time of this thread so far (ms): process.threadCpuUsage where this Node has it, else the process's. */
const cpuMs = (): number => {
  const p = process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage ? p.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const timeOf = (f: () => void): number => {
  const t0 = cpuMs();
  f();
  return cpuMs() - t0;
};
/** The most the whole input may take, given its first quarter's time (ms). */
const bound = (quarter: number): number => 8 * quarter + 250;

/**
 * Time of `run` on the whole input and on its first quarter (the best of two runs). The whole is
 * timed again when it is over the bound, and the better time kept: a collection or a cache cold
 * from another suite's work is not growth, while a superlinear pattern is slow every time.
 */
function growth(input: string, run: (text: string) => void): { quarter: number; whole: number } {
  const quarter = input.slice(0, input.length / 4);
  const q = Math.min(timeOf(() => run(quarter)), timeOf(() => run(quarter)));
  let whole = timeOf(() => run(input));
  if (whole >= bound(q)) whole = Math.min(whole, timeOf(() => run(input)));
  return { quarter: q, whole };
}

const ADVERSARIAL: Array<[string, string]> = [
  ['a long digit run', fill('1')],
  ['digits and single spaces', fill('4 ')],
  ['digits and dashes', fill('12-')],
  ['repeated @', fill('@')],
  ['an email local part without end', `${fill('a.')}@`],
  ['addresses in other scripts with domains that never end', fill('josé@müller.ü')],
  ['@ between scripts written without spaces', fill('連a@例b.')],
  ['Basic and a long base64 run', `Authorization: Basic ${fill('QUJD')}`],
  ['lower-case IBAN starts', fill('de89 3704 ')],
  ['dashed IBAN starts', fill('de89-3704-')],
  ['a*1e6', fill('a')],
  ['sk- repeated', fill('sk-')],
  ['sk-ant-api03- repeated', fill('sk-ant-api03-')],
  ['unclosed PEM headers', fill('-----BEGIN RSA PRIVATE KEY-----\n')],
  ['PEM BEGIN without header end', fill('-----BEGIN ')],
  ['eyJ repeated', fill('eyJ')],
  ['eyJ segments without dots', fill('eyJhbGciOiJIUzI1NiJ9')],
  ['colons and hex', fill('a:')],
  ['hex pairs with separators', fill('aa:bb-')],
  ['keyword assignments', fill('password=')],
  ['keywords without values', fill('token ')],
  ['capitalised words', fill('Alice ')],
  ['title case without end', fill('Maria Garcia Lopez ')],
  // Capitalised words with a new two-letter start each time (Latin Extended-A pairs, 25,600 of them):
  // prefixes the name and place lists lack, and one-letter words, never accumulate (word-list.ts).
  ['title case, a new prefix each word', fill(Array.from({ length: 25_600 }, (_, i) => `${String.fromCharCode(0x100 + 2 * (i % 160))}${String.fromCharCode(0x101 + 2 * Math.floor(i / 160))}ab ${String.fromCharCode(0x100 + 2 * (i % 64))} `).join(''))],
  ['digit words and commas', fill('1600, ')],
  ['upper-case groups', fill('DE89 ')],
  ['base58 alphabet', fill('1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf')],
  ['dots', fill('.')],
  ['IPv4-like', fill('1.1.')],
  ['custom ticket prefixes', fill('ABCDE-')],
  ['custom keyword prefix', fill('project ')],
  ['surrogate pairs', fill('🚀')],
  ['password-like tokens', fill('f5Rx%9qLm2Tz#Wb7 ')],
  ['one 1 MB password-character run', fill('aB3#')],
  ['a list of phone numbers joined by spaces', fill('+1 415 555 0100 415-555-0101 ')],
  ['random digits and single spaces', Array.from({ length: MB / 2 }, (_, i) => `${(i * 7919) % 10} `).join('')],
  ['percent escapes', fill('%4')],
  ['password keys with passphrases', fill('password: a b ')],
  ['names in capitals', fill("JOHN O'BRIEN-SMITH ")],
];

/**
 * Text dense with password keywords, streamed in deltas of one to three characters, and the same
 * text with each keyword changed into a word that is none ("pwd" → "pwx"): the baseline. Every push
 * looks for passphrases (stream-text.ts), so a push that rereads its whole window for them makes the
 * stream slower by a constant as large as the window, which the growth test above cannot see.
 */
const KEYWORD_STREAMS: Array<[string, string, string, number]> = [
  ['pwd= repeated, one character a delta', fill('pwd=').slice(0, 12_000), fill('pwx=').slice(0, 12_000), 1],
  ['pwd: repeated, one character a delta', fill('pwd:').slice(0, 12_000), fill('pwx:').slice(0, 12_000), 1],
  ['password: a b repeated, three characters a delta', fill('password: a b pwd=x ').slice(0, 48_000), fill('pasXword: a b pwx=x ').slice(0, 48_000), 3],
];

describe('every detector runs in linear time on 1 MB adversarial input', () => {
  test.each(ADVERSARIAL)('%s', (_name, input) => {
    const { quarter, whole } = growth(input, (text) => masker.maskText(text));
    expect(whole).toBeLessThan(bound(quarter));
  });

  test.each(ADVERSARIAL.filter((_, i) => i % 3 === 0))('streamed in 64-character deltas: %s', (_name, input) => {
    const core = new MaskerCore(undefined, { key: 'linear-time-key-0123456789' });
    const { quarter, whole } = growth(input, (text) => {
      const ts = new TextStream(core);
      for (let i = 0; i < text.length; i += 64) ts.push(text.slice(i, i + 64));
      ts.end();
    });
    expect(whole).toBeLessThan(bound(quarter));
  });

  test.each(KEYWORD_STREAMS)('streamed in small deltas, within a bound of the same text without keywords: %s', (_name, input, baseline, size) => {
    const core = new MaskerCore(undefined, { key: 'linear-time-key-0123456789' });
    const run = (text: string) => {
      const ts = new TextStream(core);
      for (let i = 0; i < text.length; i += size) ts.push(text.slice(i, i + size));
      ts.end();
    };
    run(input.slice(0, 2000)); // warm both paths
    run(baseline.slice(0, 2000));
    const base = Math.min(timeOf(() => run(baseline)), timeOf(() => run(baseline)));
    let keyed = timeOf(() => run(input));
    if (keyed >= bound(base)) keyed = Math.min(keyed, timeOf(() => run(input)));
    expect(keyed).toBeLessThan(bound(base));
  });
});
