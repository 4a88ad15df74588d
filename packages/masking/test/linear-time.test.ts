// Guards against catastrophic backtracking: every detector gets 1 MB of input built to make a
// backtracking pattern blow up, and must finish well inside a generous budget. This is not a
// performance claim (see bench/masking for those): a super-linear pattern takes minutes here.
// The budget scales with the machine: 25 times what masking 1 MB of ordinary prose takes on it
// right now (at least 2 s), so a slow or busy machine does not fail it and a quadratic pattern,
// thousands of times slower on 1 MB, still does.
import { createMasker, TextStream, MaskerCore } from '../src/index.js';

const MB = 1 << 20;
const masker = createMasker({ custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}' }, { name: 'TICKET', pattern: '[A-Z]{2,5}-[0-9]{1,6}' }, { name: 'PROJECT', keywords: ['project falcon', 'aaa'] }] }, { key: 'linear-time-key-0123456789' });

const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);

let BUDGET_MS = 2000;
beforeAll(() => {
  const prose = fill('The quarterly report was sent to the team on Tuesday, and the review went well. ');
  masker.maskText(prose.slice(0, 4096)); // warm up
  const t0 = performance.now();
  createMasker(undefined, { key: 'linear-time-key-0123456789', memo: false }).maskText(prose);
  BUDGET_MS = Math.max(2000, 25 * (performance.now() - t0));
});

const ADVERSARIAL: Array<[string, string]> = [
  ['a long digit run', fill('1')],
  ['digits and single spaces', fill('4 ')],
  ['digits and dashes', fill('12-')],
  ['repeated @', fill('@')],
  ['an email local part without end', `${fill('a.')}@`],
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
];

describe('every detector runs in linear time on 1 MB adversarial input', () => {
  test.each(ADVERSARIAL)('%s', (_name, input) => {
    const t0 = performance.now();
    masker.maskText(input);
    expect(performance.now() - t0).toBeLessThan(BUDGET_MS);
  });

  test.each(ADVERSARIAL.filter((_, i) => i % 3 === 0))('streamed in 64-character deltas: %s', (_name, input) => {
    const core = new MaskerCore(undefined, { key: 'linear-time-key-0123456789' });
    const ts = new TextStream(core);
    const t0 = performance.now();
    for (let i = 0; i < input.length; i += 64) ts.push(input.slice(i, i + 64));
    ts.end();
    expect(performance.now() - t0).toBeLessThan(BUDGET_MS * 2);
  });
});
