// Value generators for the masking benchmark: every sensitive value is valid for its format
// (checksums included) and every hard negative is something masking must leave alone. Seeded:
// the same seed gives the same corpus. Faker (pinned in packages/masking devDependencies) supplies
// names, places, cards, IBANs and routing numbers.
import { createHash } from 'node:crypto';
import { Faker, base, en, de, fr, es, it, nl, pl, sv, tr, fi, hu } from '@faker-js/faker';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export const DICT_LOCALES = { en, de, fr, es, it, nl };
export const HELDOUT_LOCALES = { pl, sv, tr, fi, hu }; // not used to build src/data/names.ts

export function fakers(seed) {
  const mk = (l, i) => { const f = new Faker({ locale: [l, en, base] }); f.seed(seed * 31 + i); return f; };
  return {
    dict: Object.values(DICT_LOCALES).map(mk),
    heldout: Object.values(HELDOUT_LOCALES).map((l, i) => mk(l, 100 + i)),
    en: mk(en, 7),
  };
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58check(payload) {
  const check = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest().subarray(0, 4);
  const bytes = Buffer.concat([payload, check]);
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let s = '';
  while (n > 0n) { s = B58[Number(n % 58n)] + s; n /= 58n; }
  for (const b of bytes) { if (b !== 0) break; s = `1${s}`; }
  return s;
}
const BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function polymod(values) {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) { const b = chk >>> 25; chk = ((chk & 0x1ffffff) << 5) ^ v; for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= gen[i]; }
  return chk >>> 0;
}
function bech32(hrp, data5) {
  const hv = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
  const pm = polymod(hv.concat(data5, [0, 0, 0, 0, 0, 0])) ^ 1;
  const cs = []; for (let i = 0; i < 6; i++) cs.push((pm >>> (5 * (5 - i))) & 31);
  return `${hrp}1${data5.concat(cs).map((v) => BECH[v]).join('')}`;
}
function to5(bytes) { let acc = 0; let bits = 0; const out = []; for (const b of bytes) { acc = (acc << 8) | b; bits += 8; while (bits >= 5) { bits -= 5; out.push((acc >>> bits) & 31); } } if (bits) out.push((acc << (5 - bits)) & 31); return out; }
function crc32(s) { let c = 0xffffffff; for (let i = 0; i < s.length; i++) { c ^= s.charCodeAt(i); for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return (c ^ 0xffffffff) >>> 0; }
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const pick = (f, a) => a[f.number.int({ min: 0, max: a.length - 1 })];
const rand = (f, alphabet, n) => { let s = ''; for (let i = 0; i < n; i++) s += alphabet[f.number.int({ min: 0, max: alphabet.length - 1 })]; return s; };
const ALNUM = B62;
const B64URL = `${B62}-_`;
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function luhnComplete(prefix, len, f) {
  let s = prefix + rand(f, '0123456789', len - prefix.length - 1);
  for (let d = 0; d <= 9; d++) {
    const c = s + d; let sum = 0; let dbl = false;
    for (let i = c.length - 1; i >= 0; i--) { let x = +c[i]; if (dbl) { x *= 2; if (x > 9) x -= 9; } sum += x; dbl = !dbl; }
    if (sum % 10 === 0) return c;
  }
  return s + '0';
}

/** Sensitive values: [type, subtype?, text] (text is what appears; the whole text is the span). */
export const SENSITIVE = {
  EMAIL_ADDRESS: (F) => F.en.internet.email(),
  PHONE_NUMBER: (F) => {
    for (let i = 0; i < 20; i++) {
      const f = pick(F.en, [F.en, ...F.dict]);
      const style = pick(F.en, ['international', 'national', 'human']);
      const v = f.phone.number({ style }).replace(/\s*x\d+$/, '');
      const p = parsePhoneNumberFromString(v, 'US');
      if (p?.isValid() && (v.startsWith('+') || /[ ().\-]/.test(v))) return v;
    }
    return '+1 (415) 555-0132';
  },
  CREDIT_CARD: (F) => {
    const v = F.en.finance.creditCardNumber(pick(F.en, ['visa', 'mastercard', 'amex', 'discover', 'jcb']));
    const digits = v.replace(/\D/g, '');
    const style = F.en.number.int({ min: 0, max: 2 });
    return style === 0 ? v : style === 1 ? digits : digits.replace(/(\d{4})(?=\d)/g, '$1 ');
  },
  IBAN_CODE: (F) => F.en.finance.iban(F.en.datatype.boolean()),
  ABA_ROUTING_NUMBER: (F) => F.en.finance.routingNumber(),
  US_BANK_NUMBER: (F) => F.en.finance.accountNumber(F.en.number.int({ min: 8, max: 12 })),
  US_SSN: (F) => {
    const area = F.en.number.int({ min: 1, max: 899 }); const a = area === 666 ? 667 : area;
    const g = F.en.number.int({ min: 1, max: 99 }); const s = F.en.number.int({ min: 1, max: 9999 });
    const sep = pick(F.en, ['-', '-', ' ']);
    return `${String(a).padStart(3, '0')}${sep}${String(g).padStart(2, '0')}${sep}${String(s).padStart(4, '0')}`;
  },
  US_ITIN: (F) => `9${rand(F.en, '0123456789', 2)}-${pick(F.en, ['70', '78', '88', '90', '92', '94', '99', '50', '65'])}-${rand(F.en, '0123456789', 4)}`,
  IP_ADDRESS: (F) => (F.en.datatype.boolean({ probability: 0.7 }) ? F.en.internet.ipv4() : F.en.internet.ipv6()),
  MAC_ADDRESS: (F) => F.en.internet.mac(pick(F.en, [':', '-'])),
  CRYPTO: (F) => {
    const kind = F.en.number.int({ min: 0, max: 2 });
    const payload = Buffer.from(rand(F.en, '0123456789abcdef', 40), 'hex');
    if (kind === 0) return base58check(Buffer.concat([Buffer.from([pick(F.en, [0, 5])]), payload]));
    if (kind === 1) return bech32('bc', [0, ...to5(payload)]);
    return F.en.finance.ethereumAddress();
  },
  DATE_OF_BIRTH: (F) => {
    const d = F.en.date.birthdate({ min: 18, max: 90, mode: 'age' });
    const y = d.getUTCFullYear(); const m = d.getUTCMonth() + 1; const day = d.getUTCDate();
    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
    return pick(F.en, [
      `${y}-${String(m).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      `${String(m).padStart(2, '0')}/${String(day).padStart(2, '0')}/${y}`,
      `${months[m - 1]} ${day}, ${y}`,
      `${day} ${months[m - 1]} ${y}`,
    ]);
  },
  PERSON: (F) => {
    const f = pick(F.en, F.dict);
    return F.en.datatype.boolean({ probability: 0.75 }) ? `${f.person.firstName()} ${f.person.lastName()}` : f.person.firstName();
  },
  PERSON_HELDOUT: (F) => { const f = pick(F.en, F.heldout); return `${f.person.firstName()} ${f.person.lastName()}`; },
  LOCATION: (F) => {
    const f = pick(F.en, F.dict);
    const kind = F.en.number.int({ min: 0, max: 3 });
    if (kind === 0) return pick(F.en, f.rawDefinitions.location?.city_name ?? F.en.rawDefinitions.location.city_name);
    if (kind === 1) return F.en.location.country();
    if (kind === 2) return F.en.location.state();
    return `${F.en.location.streetAddress()}, ${F.en.location.city()}, ${F.en.location.state({ abbreviated: true })} ${F.en.location.zipCode('#####')}`;
  },
  LOCATION_HELDOUT: (F) => { const f = pick(F.en, F.heldout); return pick(F.en, f.rawDefinitions.location?.city_name ?? ['Kraków']); },
  SECRET: (F) => {
    const f = F.en;
    const kind = pick(f, ['anthropic', 'anthropic', 'openai', 'aws', 'github', 'github_pat', 'slack', 'stripe', 'google', 'jwt', 'private_key', 'generic']);
    switch (kind) {
      case 'anthropic': return `sk-ant-${pick(f, ['api03', 'admin01', 'oat01'])}-${rand(f, B64URL, 93)}AA`;
      case 'openai': return `sk-proj-${rand(f, B64URL, 74)}T3BlbkFJ${rand(f, B64URL, 74)}`;
      case 'aws': return `${pick(f, ['AKIA', 'ASIA'])}${rand(f, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
      case 'github': { const r = rand(f, ALNUM, 30); let c = crc32(r); let e = ''; for (let i = 0; i < 6; i++) { e = B62[c % 62] + e; c = Math.floor(c / 62); } return `${pick(f, ['ghp_', 'gho_', 'ghs_'])}${r}${e}`; }
      case 'github_pat': return `github_pat_${rand(f, ALNUM, 22)}_${rand(f, ALNUM, 59)}`;
      case 'slack': return `xoxb-${rand(f, '0123456789', 12)}-${rand(f, '0123456789', 13)}-${rand(f, ALNUM, 24)}`;
      case 'stripe': return `${pick(f, ['sk', 'rk'])}_live_${rand(f, ALNUM, 24)}`;
      case 'google': return `AIza${rand(f, B64URL, 35)}`;
      case 'jwt': return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: f.string.uuid(), name: f.person.firstName(), iat: 1700000000 })}.${rand(f, B64URL, 43)}`;
      case 'private_key': {
        const lines = []; for (let i = 0; i < 6; i++) lines.push(rand(f, `${B62}+/`, 64));
        const label = pick(f, ['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
        return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
      }
      default: return rand(f, `${B62}!#%^*`, f.number.int({ min: 12, max: 24 }));
    }
  },
};

/** Context words that go before some values (a realistic writer would put them there). */
export const CONTEXT = {
  EMAIL_ADDRESS: ['', 'email: ', 'reach me at ', 'cc '],
  PHONE_NUMBER: ['phone: ', 'call ', 'mobile ', 'tel. ', ''],
  CREDIT_CARD: ['card ', 'card number: ', 'paid with ', ''],
  IBAN_CODE: ['IBAN ', 'iban: ', 'transfer to '],
  ABA_ROUTING_NUMBER: ['routing number ', 'ABA: ', 'routing '],
  US_BANK_NUMBER: ['account number ', 'acct ', 'bank account: '],
  US_SSN: ['SSN ', 'SSN: ', 'social security number ', ''],
  US_ITIN: ['ITIN ', 'taxpayer id '],
  IP_ADDRESS: ['', 'host ', 'from ', 'client ip '],
  MAC_ADDRESS: ['', 'mac ', 'hwaddr '],
  CRYPTO: ['wallet ', 'send to ', 'eth address '],
  DATE_OF_BIRTH: ['born on ', 'DOB: ', 'date of birth: ', 'birthday '],
  PERSON: ['', 'my name is ', 'from ', 'assignee: ', 'Dear ', 'spoke to '],
  LOCATION: ['in ', 'from ', 'address: ', 'moved to ', 'office in '],
  SECRET: ['', 'key ', 'token: ', 'API key: '],
};

export const NEGATIVES = [
  (F) => F.en.string.uuid(),
  (F) => F.en.git.commitSha(),
  (F) => `sha256:${rand(F.en, '0123456789abcdef', 64)}`,
  (F) => `order #${F.en.number.int({ min: 100000, max: 9999999 })}`,
  (F) => `ORD-${rand(F.en, '0123456789', 8)}`,
  (F) => F.en.date.recent().toISOString(),
  (F) => `v${F.en.system.semver()}`,
  (F) => F.en.system.semver(),
  (F) => Buffer.from(rand(F.en, ALNUM, 48)).toString('base64'),
  (F) => `IMEI ${luhnComplete(pick(F.en, ['35', '86', '01']) + rand(F.en, '0123456789', 6), 15, F.en)}`,
  (F) => `tracking ${luhnComplete(pick(F.en, ['9', '1', '7']), 16, F.en)}`,
  (F) => `build ${luhnComplete('8', 12, F.en)}`,
  (F) => `${F.en.number.int({ min: 1, max: 999 })}ms`,
  (F) => `port ${F.en.internet.port()}`,
  (F) => `$${F.en.finance.amount()}`,
  (F) => `pod/${F.en.word.noun()}-${rand(F.en, '0123456789abcdef', 10)}-${rand(F.en, 'bcdfghjklmnpqrstvwxz2456789', 5)}`,
  (F) => `${F.en.number.int({ min: 1, max: 12 })}:${String(F.en.number.int({ min: 0, max: 59 })).padStart(2, '0')} UTC`,
  (F) => `${F.en.number.int({ min: 1, max: 500 })} requests in ${F.en.number.int({ min: 2, max: 90 })} seconds`,
  (F) => `README.md line ${F.en.number.int({ min: 1, max: 400 })}`,
  (F) => `exit code ${F.en.number.int({ min: 0, max: 255 })}`,
];
