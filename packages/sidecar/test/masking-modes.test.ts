// Response masking: a body the upstream labels JSON but that is not is masked as text, never passed
// on raw (and never a 500 after the request was forwarded).
import { MaskerBook, maskingVerdict } from '../src/masking-modes.js';
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
