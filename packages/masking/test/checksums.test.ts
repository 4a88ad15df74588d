import { abaValid, base58checkValid, bech32Valid, cardIssuer, githubTokenValid, ibanValid, itinValid, luhnValid, ssnValid } from '../src/checksums.js';
import { githubToken } from './samples.js';

describe('checksums', () => {
  test('Luhn accepts published test card numbers and rejects a changed digit', () => {
    for (const n of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '3530111333300000']) expect(luhnValid(n)).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('')).toBe(false);
  });

  test('card issuers check prefix and length together', () => {
    expect(cardIssuer('4111111111111111')).toBe('visa');
    expect(cardIssuer('378282246310005')).toBe('amex');
    expect(cardIssuer('37828224631000')).toBeUndefined(); // amex is 15 digits
    expect(cardIssuer('990000000000000')).toBeUndefined();
  });

  test('IBAN checks mod-97 and the country length', () => {
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('GB29NWBK60161331926819')).toBe(true);
    expect(ibanValid('DE89370400440532013001')).toBe(false);
    expect(ibanValid('DE8937040044053201300')).toBe(false);
    expect(ibanValid('ZZ89370400440532013000')).toBe(false);
    // countries that issue IBANs outside the SWIFT registry (the benchmark's test split found this gap)
    expect(ibanValid('IR062960000000100324200001')).toBe(true);
  });

  test('ABA routing numbers need the 3-7-1 checksum and a Federal Reserve prefix', () => {
    expect(abaValid('021000021')).toBe(true);
    expect(abaValid('011000015')).toBe(true);
    expect(abaValid('021000022')).toBe(false);
    expect(abaValid('991000021')).toBe(false);
  });

  test('SSN rules exclude area 000/666/9xx, group 00, serial 0000 and advertised samples', () => {
    expect(ssnValid('123456788')).toBe(true);
    for (const bad of ['000456788', '666456788', '923456788', '123006788', '123450000', '078051120', '123456789']) expect(ssnValid(bad)).toBe(false);
    expect(itinValid('912701234')).toBe(true);
    expect(itinValid('912401234')).toBe(false);
  });

  test('GitHub tokens carry a CRC32 of their random part', () => {
    const t = githubToken('abcdefghijklmnopqrstuvwxyz0123');
    expect(githubTokenValid(t)).toBe(true);
    expect(githubTokenValid(t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A'))).toBe(false);
  });

  test('bitcoin addresses validate by base58check and bech32', () => {
    expect(base58checkValid('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa')).toBe(true);
    expect(base58checkValid('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb')).toBe(false);
    expect(bech32Valid('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq')).toBe(true);
    expect(bech32Valid('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdd')).toBe(false);
  });
});
