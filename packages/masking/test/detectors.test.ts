import fc from 'fast-check';
import { createMasker } from '../src/index.js';

const masker = createMasker(undefined, { key: 'test-key-0123456789abcdef' });
const found = (text: string) => masker.maskText(text).findings.map((f) => ({ type: f.subtype ? `${f.type}:${f.subtype}` : f.type, value: text.slice(f.start, f.end) }));

describe('detectors find each entity with its exact span', () => {
  test.each([
    ['Mail me at john.smith@example.com today', 'EMAIL_ADDRESS', 'john.smith@example.com'],
    ['card 4111 1111 1111 1111 exp 12/29', 'CREDIT_CARD', '4111 1111 1111 1111'],
    ['amex 378282246310005.', 'CREDIT_CARD', '378282246310005'],
    ['SSN 123-45-6788 on file', 'US_SSN', '123-45-6788'],
    ['social security number: 123 45 6788', 'US_SSN', '123 45 6788'],
    ['ITIN 912-70-1234', 'US_ITIN', '912-70-1234'],
    ['IBAN DE89 3704 0044 0532 0130 00 please', 'IBAN_CODE', 'DE89 3704 0044 0532 0130 00'],
    ['pay GB29NWBK60161331926819', 'IBAN_CODE', 'GB29NWBK60161331926819'],
    ['routing number 021000021', 'ABA_ROUTING_NUMBER', '021000021'],
    ['bank account 12345678901', 'US_BANK_NUMBER', '12345678901'],
    ['call +1 (415) 555-0132 now', 'PHONE_NUMBER', '+1 (415) 555-0132'],
    ['UK office +44 20 7946 0958', 'PHONE_NUMBER', '+44 20 7946 0958'],
    ['host 192.168.10.20:8080', 'IP_ADDRESS', '192.168.10.20'],
    ['v6 fe80::1ff:fe23:4567:890a.', 'IP_ADDRESS', 'fe80::1ff:fe23:4567:890a'],
    ['nic 00:1A:2B:3C:4D:5E up', 'MAC_ADDRESS', '00:1A:2B:3C:4D:5E'],
    ['date of birth: 1985-07-12', 'DATE_OF_BIRTH', '1985-07-12'],
    ['she was born on March 3, 1990 in', 'DATE_OF_BIRTH', 'March 3, 1990'],
    ['btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'CRYPTO', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'],
    ['eth wallet 0x52908400098527886E0F7030069857D2E4169EE7', 'CRYPTO', '0x52908400098527886E0F7030069857D2E4169EE7'],
    ['Please ask Maria Garcia about it', 'PERSON', 'Maria Garcia'],
    ['Dr. Kowalski signed off', 'PERSON', 'Kowalski'],
    ['we flew to Berlin last week', 'LOCATION', 'Berlin'],
    ['ship to 1600 Amphitheatre Parkway, Mountain View, CA 94043.', 'LOCATION', '1600 Amphitheatre Parkway, Mountain View, CA 94043'],
  ])('%s → %s', (text, type, value) => {
    expect(found(text)).toContainEqual({ type, value });
  });

  test.each([
    ['anthropic', `ANTHROPIC_API_KEY=sk-ant-api03-${'Ab3_'.repeat(23)}xAA`],
    ['openai', `key sk-proj-${'a1B2c3D4'.repeat(6)}T3BlbkFJ${'x9'.repeat(10)}`],
    ['aws', 'AKIAIOSFODNN7EXAMPLE'],
    ['aws', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['slack', `xoxb-1234567890-${'a1B2'.repeat(6)}`],
    ['stripe', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['google', 'AIzaSyD-1234567890abcdefghijklmnopqrstu'],
    ['jwt', 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
    ['private_key', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----'],
    ['generic', 'DB_PASSWORD=hunter22'],
    ['generic', '"client_secret": "Zx8fK2pLq9Rm4TtW77"'],
    ['password', 'Someone committed f5Rx%9qLm2Tz#Wb7 in the repo, please revoke it.'],
    ['password', 'the server leaks k8Qz3vJp^N1dWx.'],
  ])('a %s secret is found', (subtype, text) => {
    expect(found(text).some((f) => f.type === `SECRET:${subtype}`)).toBe(true);
  });

  test('a GitHub token is found only when its CRC32 checks', async () => {
    const { githubToken } = await import('./samples.js');
    const good = githubToken('abcdefghijklmnopqrstuvwxyz0123');
    expect(found(`token ${good}`)).toContainEqual({ type: 'SECRET:github', value: good });
    expect(found(`ghp_${'a'.repeat(36)}`).some((f) => f.type === 'SECRET:github')).toBe(false);
  });

  test('an unterminated private key is masked to the end of the text', () => {
    const text = 'key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nmore base64 and words';
    expect(masker.maskText(text).masked).toBe('key: [SECRET]');
  });

  test.each([
    'uuid 550e8400-e29b-41d4-a716-446655440000',
    'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'released v1.2.3.4 yesterday',
    'at 2024-05-01T12:00:00Z the job ran',
    'order #100234 shipped',
    'IMEI 490154203237518',
    'image@2x.png and @types/node',
    'The meeting is on Monday in the main room.',
    'timeout 12:30:45 and std::vector',
    'the password field is required',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    'ghp_short and sk-ant- alone',
    'call getElementById and base64UrlEncode, then useEffectCallback2',
    'tool toolu_01D7FLrfh4GYq7yT1ULFeyMV and msg_01XJ5kqQ7TzW3mNpR8vYbC2d',
    'the class [A-Za-z0-9_-] and SSL_OP_NO_TLSv1_2',
    'UUID 550E8400-E29B-41D4-A716-446655440000 and **Lightweight** and ECMAScript2023',
    'see %E2%80%94Linear%20Time in the docs',
  ])('no finding in %s', (text) => {
    expect(found(text)).toEqual([]);
  });

  test('a valid bitcoin address stays CRYPTO although it also looks random', () => {
    expect(found('send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa now')).toEqual([{ type: 'CRYPTO', value: '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa' }]);
  });

  test('emails found from each @ are exactly those a global regex scan finds', () => {
    const unit = fc.constantFrom('a', 'b.', 'x', '@', '.com', '.io', '-', '.', 'foo', ' ', 'é', '_', '%', '+', '..', 'q'.repeat(30), 'z'.repeat(70), '@ex.org', 'john.smith@example.com');
    fc.assert(fc.property(fc.array(unit, { maxLength: 14 }), (parts) => {
      const text = parts.join('');
      const got = masker.maskText(text).findings.filter((f) => f.type === 'EMAIL_ADDRESS').map((f) => [f.start, f.end]);
      expect(got).toEqual(referenceEmails(text));
    }), { numRuns: 3000 });
  });

  test('offsets are UTF-16 indices into the input, end exclusive', () => {
    const text = '🚀 café → john@example.com';
    const [f] = masker.maskText(text).findings;
    expect(text.slice(f!.start, f!.end)).toBe('john@example.com');
  });
});

/** The email detector as it was written first: one global regex over the whole text. */
function referenceEmails(text: string): Array<[number, number]> {
  const EMAIL = /[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}/g;
  const TLDS = new Set(['com', 'org', 'io']);
  const local = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
  const out: Array<[number, number]> = [];
  let m: RegExpExecArray | null;
  while ((m = EMAIL.exec(text)) !== null) {
    const s = m.index;
    let e = s + m[0].length;
    const at = m[0].indexOf('@');
    if (s > 0 && local(text.charCodeAt(s - 1))) { EMAIL.lastIndex = s + at + 1; continue; }
    const lp = m[0].slice(0, at);
    if (lp.startsWith('.') || lp.endsWith('.') || lp.includes('..')) continue;
    while (e > s && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--;
    const domain = text.slice(s + at + 1, e);
    const tld = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
    // With the units above, a top-level domain is valid when it is two letters or one of these three.
    if (!/^[a-z]{2,24}$/.test(tld) || !(tld.length === 2 || TLDS.has(tld))) continue;
    if (domain.split('.').some((l) => l.length === 0 || l.startsWith('-') || l.endsWith('-'))) continue;
    out.push([s, e]);
  }
  return out;
}
