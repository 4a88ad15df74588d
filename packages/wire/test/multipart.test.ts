import fc from 'fast-check';
import { MultipartError, MultipartRewriter, multipartBoundary, partInfo, type PartInfo, type PartTransform } from '../src/multipart.js';

const B = '----formdata-undici-0123456789';

/** A body as clients write it: each part's headers, a blank line, its content, then the closing delimiter. */
function body(parts: Array<{ headers: string; content: Buffer | string }>, opts: { preamble?: string; epilogue?: string } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from(opts.preamble ?? '')];
  for (const p of parts) chunks.push(Buffer.from(`--${B}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.content), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${B}--\r\n${opts.epilogue ?? ''}`));
  return Buffer.concat(chunks);
}

const upper: PartTransform = { push: (b) => Buffer.from(b.toString('latin1').toUpperCase(), 'latin1'), end: () => Buffer.from('!') };

function rewrite(bytes: Buffer, cuts: number[], choose: (p: PartInfo) => PartTransform | undefined): Buffer {
  const r = new MultipartRewriter(B, choose);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b).concat(bytes.length)) {
    out.push(...r.push(bytes.subarray(prev, c)));
    prev = c;
  }
  out.push(...r.end());
  return Buffer.concat(out);
}

const fileHeaders = 'Content-Disposition: form-data; name="file"; filename="people.csv"\r\nContent-Type: text/csv';
const fieldHeaders = 'Content-Disposition: form-data; name="purpose"';

describe('multipart bodies rewritten as they stream', () => {
  test('with nothing chosen, bytes out equal bytes in for every chunking', () => {
    const content = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
    // Contents that come close to the delimiter: its prefixes, CR LF and dashes (never the whole
    // delimiter: a client picks a boundary its contents do not hold).
    const tricky = fc.array(fc.constantFrom('\r', '\n', '-', '--', `\r\n--${B.slice(0, 10)}`, `\r\n--${B.slice(0, -1)}`, 'a'), { maxLength: 12 }).map((a) => Buffer.from(a.join('')));
    fc.assert(fc.property(fc.array(fc.oneof(content, tricky), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (contents, cuts) => {
      const bytes = body(contents.map((c) => ({ headers: fileHeaders, content: c })), { preamble: 'ignored\r\n', epilogue: 'bye' });
      expect(rewrite(bytes, cuts.map((c) => c % (bytes.length + 1)), () => undefined).equals(bytes)).toBe(true);
    }), { numRuns: 500 });
  });

  test('a chosen transform sees each part\'s content whole and nothing else, at any chunking', () => {
    const parts = [{ headers: fieldHeaders, content: 'user_data' }, { headers: fileHeaders, content: 'name,email\r\nann,ann@example.com\r\n-- not a delimiter' }];
    const bytes = body(parts);
    const expected = body([parts[0]!, { headers: fileHeaders, content: 'NAME,EMAIL\r\nANN,ANN@EXAMPLE.COM\r\n-- NOT A DELIMITER!' }]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (const second of [cut + 1, cut + 7]) {
        const out = rewrite(bytes, [cut, Math.min(second, bytes.length)], (p) => (p.filename ? upper : undefined));
        expect(out.toString('latin1')).toBe(expected.toString('latin1'));
      }
    }
  });

  test('a part with no headers, and a body that opens with a line break', () => {
    const bytes = Buffer.from(`\r\n--${B}\r\n\r\nplain\r\n--${B}--`);
    expect(rewrite(bytes, [3, 9], () => upper).toString()).toBe(`\r\n--${B}\r\n\r\nPLAIN!\r\n--${B}--`);
  });

  test.each([
    ['no delimiter at all', Buffer.from('just some bytes'), /no multipart boundary/],
    ['no closing delimiter', Buffer.from(`--${B}\r\n${fileHeaders}\r\n\r\ncut short`), /before the closing/],
    ['no line break after a delimiter', Buffer.from(`--${B}xx${fileHeaders}`), /not followed by a line break/],
    ['headers without end', Buffer.from(`--${B}\r\n${'X-Long: y\r\n'.repeat(2000)}`), /headers exceed/],
  ])('refuses a body with %s', (_what, bytes, message) => {
    const r = new MultipartRewriter(B, () => undefined);
    expect(() => { r.push(bytes); r.end(); }).toThrow(MultipartError);
    expect(() => { const again = new MultipartRewriter(B, () => undefined); again.push(bytes); again.end(); }).toThrow(message);
  });

  test('reads a content type\'s boundary and a part\'s name, file name and media type', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${B}`)).toBe(B);
    expect(multipartBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary('multipart/form-data')).toBeUndefined();
    expect(partInfo('Content-Disposition: form-data; name="file"; filename="a \\"q\\".txt"\r\ncontent-type: Text/Plain; charset=utf-8'))
      .toEqual({ headers: { 'content-disposition': 'form-data; name="file"; filename="a \\"q\\".txt"', 'content-type': 'Text/Plain; charset=utf-8' }, name: 'file', filename: 'a "q".txt', contentType: 'text/plain' });
  });
});
