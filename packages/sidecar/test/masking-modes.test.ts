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

describe('tokenize mode keeps a batch\'s vault for its results, within bounds', () => {
  const filled = (b: MaskerBook, n: number) => {
    const m = b.fresh({ mode: 'tokenize' });
    for (let i = 0; i < n; i++) m.maskText(`mail user${i}@example.com`);
    return m;
  };

  it('keeps the newest batches, drops one past its time, and never an empty vault', () => {
    let t = 0;
    const b = new MaskerBook('batch-vault-key-0123', () => t);
    const first = filled(b, 2);
    b.keepForBatch('msgbatch_first', first);
    expect(b.forBatch('msgbatch_first')).toBe(first);
    b.keepForBatch('msgbatch_empty', b.fresh({ mode: 'tokenize' }));
    expect(b.forBatch('msgbatch_empty')).toBeUndefined();
    for (let i = 0; i < BATCH_VAULTS.batches; i++) b.keepForBatch(`msgbatch_${i}`, filled(b, 1));
    expect(b.forBatch('msgbatch_first')).toBeUndefined(); // the oldest made room
    expect(b.forBatch(`msgbatch_${BATCH_VAULTS.batches - 1}`)).toBeDefined();
    t += BATCH_VAULTS.keepMs + 1;
    expect(b.forBatch(`msgbatch_${BATCH_VAULTS.batches - 1}`)).toBeUndefined();
  });

  it('holds at most BATCH_VAULTS.values values in all', () => {
    const b = new MaskerBook('batch-vault-key-0123');
    const big = filled(b, 3);
    Object.defineProperty(big.vault, 'size', { value: BATCH_VAULTS.values - 1 });
    b.keepForBatch('msgbatch_big', big);
    expect(b.forBatch('msgbatch_big')).toBe(big);
    b.keepForBatch('msgbatch_small', filled(b, 2)); // together past the bound: the older goes
    expect(b.forBatch('msgbatch_big')).toBeUndefined();
    expect(b.forBatch('msgbatch_small')).toBeDefined();
    const huge = filled(b, 1);
    Object.defineProperty(huge.vault, 'size', { value: BATCH_VAULTS.values + 1 });
    b.keepForBatch('msgbatch_huge', huge); // alone past the bound: not kept
    expect(b.forBatch('msgbatch_huge')).toBeUndefined();
  });
});
