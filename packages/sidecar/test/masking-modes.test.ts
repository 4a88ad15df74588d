// Response masking: a body the upstream labels JSON but that is not is masked as text, never passed
// on raw (and never a 500 after the request was forwarded).
import { BATCH_VAULTS, MaskerBook, maskingVerdict } from '../src/masking-modes.js';
import type { Exchange } from '../src/exchange.js';

const x = { route: { kind: 'messages' } } as unknown as Exchange;
const book = new MaskerBook('masking-modes-test-key');

test('a response body that is not JSON is masked as text', () => {
  const { responseFilter } = maskingVerdict(x, { mode: 'response' }, book, {});
  const out = responseFilter!.body(Buffer.from('upstream said: mail maria@example.com {not json'));
  expect(out.toString()).toBe('upstream said: mail [EMAIL_ADDRESS] {not json');
  const plain = Buffer.from('nothing to see {');
  expect(responseFilter!.body(plain)).toBe(plain);
});

test('a JSON response body is masked where Messages put text', () => {
  const { responseFilter } = maskingVerdict(x, { mode: 'response' }, book, {});
  const out = JSON.parse(responseFilter!.body(Buffer.from(JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'maria@example.com' }] }))).toString());
  expect(out.content[0].text).toBe('[EMAIL_ADDRESS]');
});

test('the shared masker of a tokenize policy (the record\'s) keeps no values, while a conversation\'s does', () => {
  const b = new MaskerBook('masking-modes-test-key');
  const spec = { mode: 'tokenize' as const };
  for (let i = 0; i < 50; i++) {
    const recorded = b.forSpec(spec).maskAnswerText(JSON.stringify({ type: 'message', content: [{ type: 'text', text: `Reply to customer${i}@example.com` }] }), { forRecord: true });
    expect(recorded.masked).toMatch(/Reply to <EMAIL_ADDRESS_[0-9a-f]{16}>/); // the placeholder Claude saw
  }
  expect(b.forSpec(spec).vault.size).toBe(0);
  const conversation = b.fresh(spec);
  conversation.maskText('mail customer1@example.com');
  expect(conversation.vault.size).toBe(1);
});

describe('tokenize mode keeps a batch\'s vault for its results, within bounds', () => {
  const filled = (b: MaskerBook, n: number, prefix = 'user') => {
    const m = b.fresh({ mode: 'tokenize' });
    for (let i = 0; i < n; i++) m.maskText(`mail ${prefix}${i}@example.com`);
    return m;
  };
  const restores = (m: ReturnType<MaskerBook['fresh']> | undefined, placeholderOf: ReturnType<MaskerBook['fresh']>, value: string): boolean => {
    const placeholder = /<EMAIL_ADDRESS_\w+>/.exec(placeholderOf.maskText(`mail ${value}`).masked)![0];
    return m !== undefined && m.restoreText(placeholder) === value;
  };

  it('keeps the newest batches, drops one past its time, and never an empty vault', () => {
    let t = 0;
    const b = new MaskerBook('batch-vault-key-0123', { now: () => t, batchVaults: { ...BATCH_VAULTS, batches: 3 } });
    const first = filled(b, 2);
    b.keepForBatch('msgbatch_first', first);
    expect(restores(b.forBatch('msgbatch_first', { mode: 'tokenize' }), first, 'user1@example.com')).toBe(true);
    b.keepForBatch('msgbatch_empty', b.fresh({ mode: 'tokenize' }));
    expect(b.forBatch('msgbatch_empty', { mode: 'tokenize' })).toBeUndefined();
    for (let i = 0; i < 3; i++) b.keepForBatch(`msgbatch_${i}`, filled(b, 1));
    expect(b.forBatch('msgbatch_first', { mode: 'tokenize' })).toBeUndefined(); // the oldest made room
    expect(b.forBatch('msgbatch_2', { mode: 'tokenize' })).toBeDefined();
    t += BATCH_VAULTS.keepMs + 1;
    expect(b.forBatch('msgbatch_2', { mode: 'tokenize' })).toBeUndefined();
  });

  it('holds at most its bytes of placeholders and values in all, and a batch over them not at all', () => {
    const probe = new MaskerBook('batch-vault-key-0123');
    const sizeOf = (m: ReturnType<MaskerBook['fresh']>) => m.vault.detached().bytes;
    const b = new MaskerBook('batch-vault-key-0123', { batchVaults: { ...BATCH_VAULTS, bytes: sizeOf(filled(probe, 10)) + 10 } });
    b.keepForBatch('msgbatch_big', filled(b, 10, 'big'));
    expect(b.forBatch('msgbatch_big', { mode: 'tokenize' })).toBeDefined();
    const small = filled(b, 2, 'small');
    b.keepForBatch('msgbatch_small', small); // together past the bound: the older goes
    expect(b.forBatch('msgbatch_big', { mode: 'tokenize' })).toBeUndefined();
    expect(restores(b.forBatch('msgbatch_small', { mode: 'tokenize' }), small, 'small0@example.com')).toBe(true);
    b.keepForBatch('msgbatch_huge', filled(b, 40, 'huge')); // alone past the bound: not kept
    expect(b.forBatch('msgbatch_huge', { mode: 'tokenize' })).toBeUndefined();
  });

  it('keeps copies of the values, not the text they were found in', () => {
    const m = new MaskerBook('batch-vault-key-0123').fresh({ mode: 'tokenize' });
    m.maskText(`${'x'.repeat(100_000)} mail keep.me@example.com ${'y'.repeat(100_000)}`);
    const { vault, bytes } = m.vault.detached();
    expect(vault.size).toBe(1);
    expect(bytes).toBeLessThan(200); // a placeholder and an address, not the 200 KB around them
  });
});
