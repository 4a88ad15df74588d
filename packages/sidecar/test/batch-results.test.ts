// A batch's JSONL results rewritten a line at a time (batch-results.ts): each result's message goes
// through the rewrite, lines it leaves alone keep their bytes, and any chunking gives the same output.
import fc from 'fast-check';
import { batchResultsRewriter, type ResultsRewrite } from '../src/batch-results.js';

const line = (id: string, text: string) => `{"custom_id": "${id}", "result": {"type": "succeeded", "message": {"type": "message", "content": [{"type": "text", "text": "${text}"}]}}}`;
const results = [
  line('a', 'mail ann.lee@example.com'),
  '{"custom_id": "b", "result": {"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}}}',
  line('c', 'nothing here — ünïcödé 😀'),
  'not json ann.lee@example.com',
  line('d', 'again ann.lee@example.com'),
].join('\n') + '\n';

/** Masks the address in every text block (a stand-in for the masker). */
const masking: ResultsRewrite = {
  message(m) {
    const s = JSON.stringify(m);
    return s.includes('ann.lee@example.com') ? JSON.parse(s.replaceAll('ann.lee@example.com', '[EMAIL_ADDRESS]')) : undefined;
  },
  unreadable: (l) => l.replaceAll('ann.lee@example.com', '[EMAIL_ADDRESS]'),
};

function run(bytes: Buffer, cuts: number[], rewrite = masking, max?: number): string {
  const t = batchResultsRewriter(rewrite, max);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(t.push(bytes.subarray(prev, c)));
    prev = c;
  }
  out.push(t.push(bytes.subarray(prev)), t.end());
  return Buffer.concat(out).toString('utf8');
}

describe('batch results rewritten line by line', () => {
  it('rewrites the messages that need it, keeps the other lines byte for byte, for any chunking', () => {
    const bytes = Buffer.from(results);
    const whole = run(bytes, []);
    const lines = whole.split('\n');
    expect(JSON.parse(lines[0]!).result.message.content[0].text).toBe('mail [EMAIL_ADDRESS]');
    expect(lines[1]).toBe(results.split('\n')[1]);
    expect(lines[2]).toBe(results.split('\n')[2]);
    expect(lines[3]).toBe('not json [EMAIL_ADDRESS]');
    expect(JSON.parse(lines[4]!).result.message.content[0].text).toBe('again [EMAIL_ADDRESS]');
    expect(whole).not.toContain('ann.lee');
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 20 }), (cuts) => {
      expect(run(bytes, cuts)).toBe(whole);
    }), { numRuns: 200 });
  });

  it('reads a last line without a newline, and lines it is told need nothing are not parsed', () => {
    let parsed = 0;
    const counting: ResultsRewrite = { untouched: (l) => !l.includes('@'), message: (m) => { parsed++; return masking.message(m); }, unreadable: masking.unreadable };
    expect(run(Buffer.from(line('z', 'x@y.z')), [], counting)).toContain('x@y.z');
    expect(parsed).toBe(1);
    expect(run(Buffer.from(`${line('q', 'plain')}\n`), [], counting)).toBe(`${line('q', 'plain')}\n`);
    expect(parsed).toBe(1);
  });

  it('cuts the answer (throws) on a line past its bound instead of holding it all', () => {
    expect(() => run(Buffer.from('x'.repeat(100)), [50], masking, 64)).toThrow(/longer than 64 bytes/);
  });
});
