import { createMasker, Vault } from '../src/index.js';
import { PlaceholderCollision } from '../src/actions.js';

const key = 'actions-test-key-0123456789';
const text = 'card 4111 1111 1111 1111 mail maria@example.com key AKIAIOSFODNN7EXAMPLE';

describe('actions', () => {
  test('redact replaces each value with its entity type', () => {
    expect(createMasker(undefined, { key }).maskText(text).masked).toBe('card [CREDIT_CARD] mail [EMAIL_ADDRESS] key [SECRET]');
  });

  test('partial keeps the last four digits of a card, the domain of an email and the vendor prefix of a secret', () => {
    const m = createMasker({ defaultAction: 'partial' }, { key });
    expect(m.maskText(text).masked).toBe('card [CREDIT_CARD ****1111] mail [EMAIL_ADDRESS ***@example.com] key [SECRET:aws AKIA…]');
  });

  test('hash gives the same tag for the same value and key, another for another key', () => {
    const a = createMasker({ defaultAction: 'hash' }, { key }).maskText('maria@example.com and maria@example.com').masked;
    expect(a).toMatch(/^\[EMAIL_ADDRESS:([0-9a-f]{8})\] and \[EMAIL_ADDRESS:\1\]$/);
    const b = createMasker({ defaultAction: 'hash' }, { key: 'another-key-0123456789abc' }).maskText('maria@example.com').masked;
    expect(b).not.toBe(a.split(' and ')[0]);
  });

  test('actions and enablement are chosen per entity type', () => {
    const m = createMasker({ entities: [{ type: 'EMAIL_ADDRESS', action: 'partial' }, { type: 'SECRET', enabled: false }] }, { key });
    expect(m.maskText(text).masked).toBe('card [CREDIT_CARD] mail [EMAIL_ADDRESS ***@example.com] key AKIAIOSFODNN7EXAMPLE');
  });

  test('tokenize is stable across maskers (turns) and reversible through the vault', () => {
    const vault = new Vault();
    const m1 = createMasker({ mode: 'tokenize' }, { key, vault });
    const turn1 = m1.maskText('write to maria@example.com').masked;
    const turn2 = createMasker({ mode: 'tokenize' }, { key }).maskText('history: write to maria@example.com; also bob@example.org').masked;
    const p = /<EMAIL_ADDRESS_[0-9a-f]{16}>/.exec(turn1)![0];
    expect(turn2).toContain(p);
    expect(m1.restoreText(`Sent to ${p}.`)).toBe('Sent to maria@example.com.');
    expect(m1.restoreText('unknown <EMAIL_ADDRESS_0000000000000000> stays')).toBe('unknown <EMAIL_ADDRESS_0000000000000000> stays');
  });

  test('placeholders carry 64 bits: values whose 32-bit tags collide get their own placeholders and values back', () => {
    // Under this key the first 32 bits of these two addresses' tags are equal (the placeholders before).
    const k = 'k'.repeat(32);
    const [a, b] = ['customer13139@example.com', 'customer13775@example.com'];
    const m = createMasker({ mode: 'tokenize' }, { key: k });
    const masked = m.maskText(`Refund ${a} and notify ${b}`).masked;
    const [pa, pb] = masked.match(/<EMAIL_ADDRESS_[0-9a-f]{16}>/g)!;
    expect(pa!.slice(0, 23)).toBe(pb!.slice(0, 23));
    expect(pa).not.toBe(pb);
    expect(m.restoreText(`Send to ${pa} and ${pb}`)).toBe(`Send to ${a} and ${b}`);
  });

  test('a vault refuses a second value under a placeholder it holds, and takes the same value written another way', () => {
    const vault = new Vault();
    vault.set('<EMAIL_ADDRESS_0123456789abcdef>', 'jane@example.com');
    expect(() => vault.set('<EMAIL_ADDRESS_0123456789abcdef>', 'john@example.com')).toThrow(PlaceholderCollision);
    expect(() => vault.set('<EMAIL_ADDRESS_0123456789abcdef>', 'john@example.com')).toThrow(/two different values would both become <EMAIL_ADDRESS_0123456789abcdef>/);
    expect(vault.get('<EMAIL_ADDRESS_0123456789abcdef>')).toBe('jane@example.com');
    vault.set('<CREDIT_CARD_0123456789abcdef>', '4111 1111 1111 1111');
    expect(() => vault.set('<CREDIT_CARD_0123456789abcdef>', '４１１１ １１１１ １１１１ １１１１')).not.toThrow();
  });

  test('partial keeps the last four characters of an IBAN written with dashes', () => {
    expect(createMasker({ defaultAction: 'partial' }, { key }).maskText('IBAN DE89-3704-0044-0532-0130-00').masked).toBe('IBAN [IBAN_CODE ****3000]');
  });

  test('findings carry an HMAC fingerprint an investigator can recompute, never the value', () => {
    const m = createMasker(undefined, { key });
    const r = m.maskText('mail maria@example.com');
    expect(r.findings).toEqual([{ type: 'EMAIL_ADDRESS', start: 5, end: 22, fingerprint: m.fingerprint('maria@example.com') }]);
    expect(JSON.stringify(r.findings)).not.toContain('maria');
  });

  test('a short installation key is refused', () => {
    expect(() => createMasker(undefined, { key: 'short' })).toThrow(/at least 16 bytes/);
  });
});
