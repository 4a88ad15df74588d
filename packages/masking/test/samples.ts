// Fragments that tests and property tests assemble into texts: values of every entity, near
// misses, and ordinary prose. Synthetic values only (test cards, documentation keys, faker-style names).
import { crc32 } from '../src/checksums.js';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export function githubToken(random30: string, prefix = 'ghp_'): string {
  let c = crc32(random30);
  let enc = '';
  for (let i = 0; i < 6; i++) { enc = B62[c % 62] + enc; c = Math.floor(c / 62); }
  return prefix + random30 + enc;
}

export const SENSITIVE = [
  'john.smith@example.com', 'a.b-c+tag@mail.example.co.uk', '4111 1111 1111 1111', '5555-5555-5555-4444', '378282246310005',
  '123-45-6788', 'SSN 078 05 1121', '+1 (415) 555-0132', '415-555-0199', '+44 20 7946 0958', 'DE89 3704 0044 0532 0130 00',
  'GB29NWBK60161331926819', 'routing 021000021', 'account 12345678901', '192.168.10.20', 'fe80::1ff:fe23:4567:890a',
  '00:1A:2B:3C:4D:5E', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
  'wallet 0x52908400098527886E0F7030069857D2E4169EE7', 'born on March 3, 1990', 'DOB: 1985-07-12',
  'John Smith', 'Dr. Kowalski', 'Maria Garcia', 'Ludwig van Beethoven', 'Berlin', 'New York', '1600 Amphitheatre Parkway, Mountain View, CA 94043',
  `sk-ant-api03-${'Ab3_'.repeat(23)}xAA`, 'AKIAIOSFODNN7EXAMPLE', githubToken('abcdefghijklmnopqrstuvwxyz0123'),
  `xoxb-1234567890-${'a1B2'.repeat(6)}`, `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`, 'AIzaSyD-1234567890abcdefghijklmnopqrstu',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'password=hunter22', 'api_key: "Zx8fK2pLq9Rm4TtW77"', '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq83r+/==\n-----END RSA PRIVATE KEY-----',
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg', 'EMP-123456', 'Project Falcon',
  'f5Rx%9qLm2Tz#Wb7', 'k8Qz3vJp^N1dWx',
  // As CJK input methods and copied text write them (fold.ts): full-width forms, no-break spaces, Unicode hyphens.
  '４１１１ １１１１ １１１１ １１１１', 'ｊｏｈｎ．ｓｍｉｔｈ＠ｅｘａｍｐｌｅ．ｃｏｍ', '１２３－４５－６７８８', '+1\u00a0(415)\u00a0555\u20110132',
  '4111\u202f1111\u202f1111\u202f1111', '123\u201145\u20116788', 'ＥＭＰ－１２３４５６', 'ｐａｓｓｗｏｒｄ＝ｈｕｎｔｅｒ２２',
  // As web pages write them to keep scrapers off, and copied text keeps (fold.ts): characters that vanish inside a value.
  'jane.doe\u200b@example.com', '4111\u200b1111\u200b1111\u200b1111', '123-45\u00ad-6788', 'John\u200d Smith', 'sk-ant-api03-\ufeff' + 'Ab3_'.repeat(23) + 'xAA',
  '\u200e+1 (415) 555-0132\u200e', '\u20664111 1111\u200f 1111 1111\u2069',
  // Written in the digits of the text around them (fold.ts).
  '٤١١١ ١١١١ ١١١١ ١١١١', '+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹', 'SSN १२३-४५-६७८८',
  // In mathematical bold, as posts on sites without formatting write them (fold.ts).
  '\u{1D423}\u{1D41A}\u{1D427}\u{1D41E}@example.com', '\u{1D7D2}\u{1D7CF}\u{1D7CF}\u{1D7CF} 1111 1111 1111',
  // Addresses in other scripts and under any top-level domain, IBANs in lower case or with dashes, Basic credentials.
  'josé@example.com', 'jürgen.müller@firma.de', 'иван@пример.рф', 'jane@example.berlin', '連絡先jane@example.comまで',
  'de89 3704 0044 0532 0130 00', 'DE89-3704-0044-0532-0130-00', 'gb29nwbk60161331926819', 'Authorization: Basic YWRtaW46UzNjcjN0UGFzc3cwcmQ=',
  // Connection strings: the password of a URL's user information, whatever the host.
  'postgres://app:Xk9pQ2mWv7Lr@db:5432/app', 'redis://:s3cr3t-pw@redis-master:6379', 'mysql://root:pw!42$x@10.0.0.5/db',
  // As PHP's and Java's JSON encoders write a '/': escaped.
  'aws_secret_access_key = wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY',
];

export const NEAR_MISSES = [
  '550e8400-e29b-41d4-a716-446655440000', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  'order #100234', 'v1.2.3.4', '2024-05-01T12:00:00Z', '12:30:45', 'std::vector', 'version 10.0.1', '3.14159',
  'image@2x.png', '@types/node', 'sk-', 'gh', 'eyJ', '-----BEGIN CERTIFICATE-----', 'AKIA', 'xox', '1234', '(see below)',
  '$ 100.00', '+', '(', '- - -', 'useEffectCallback2', 'https://example.com:8443/path', 'http://user@host/', 'postgres://app:${DB_PASSWORD}@db/app', 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', 'A-Za-z0-9_', 'The', 'I', 'A', 'May', 'Will', 'de', 'van', 'St.', 'Mr.', '...', '"quoted"',
];

export const PROSE = [
  'the deploy failed because', 'please check the logs', 'and then', 'We restarted the pod.', 'It works now!', 'Hello,',
  'Thanks', 'in the cluster', 'see the runbook', 'which is odd', ', ', '. ', '\n', ' ', '  ', '\t', 'émoji 🚀 here', '日本語のテキスト',
  'über', 'naïve café', '😀', 'x', 'is', 'The quick brown fox', 'Meeting at 10am', 'call me', 'contact', 'email:', 'card:',
];

/** Split a string at the given fractions (code-unit positions: surrogate pairs may be split), for chunking property tests. */
export function splitAt(s: string, cuts: number[]): string[] {
  const pos = [...new Set(cuts.map((c) => Math.floor(c * s.length)))].filter((p) => p > 0 && p < s.length).sort((a, b) => a - b);
  const out: string[] = [];
  let last = 0;
  for (const p of pos) { out.push(s.slice(last, p)); last = p; }
  out.push(s.slice(last));
  return out;
}
