import fc from 'fast-check';
import { MultipartError, MultipartRewriter, multipartBoundary, partInfo, renamedPart, type PartInfo, type PartTransform } from '../src/multipart.js';

const B = '----formdata-undici-0123456789';

/** A body as clients write it: each part's headers, a blank line, its content, then the closing delimiter. */
function body(parts: Array<{ headers: string; content: Buffer | string }>, opts: { preamble?: string; epilogue?: string } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from(opts.preamble ?? '')];
  for (const p of parts) chunks.push(Buffer.from(`--${B}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.content), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${B}--\r\n${opts.epilogue ?? ''}`));
  return Buffer.concat(chunks);
}

const upper: PartTransform = { push: (b) => Buffer.from(b.toString('latin1').toUpperCase(), 'latin1'), end: () => Buffer.from('!') };

function rewrite(bytes: Buffer, cuts: number[], choose: (p: PartInfo) => PartTransform | undefined, head?: (p: PartInfo, text: string) => string): Buffer {
  const r = new MultipartRewriter(B, choose, head);
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

  test('a head rewrite replaces a part\'s headers at any chunking; the content\'s transform is chosen from the headers as sent', () => {
    const parts = [{ headers: fieldHeaders, content: 'x' }, { headers: fileHeaders, content: 'a,b' }];
    const bytes = body(parts);
    const expected = body([parts[0]!, { headers: fileHeaders.replace('people.csv', 'renamed.csv'), content: 'A,B!' }]);
    const seen: Array<string | undefined> = [];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const out = rewrite(bytes, [cut], (p) => { seen.push(p.filename); return p.filename ? upper : undefined; }, (p, text) => (p.filename ? text.replace('people.csv', 'renamed.csv') : text));
      expect(out.toString('latin1')).toBe(expected.toString('latin1'));
    }
    expect(new Set(seen)).toEqual(new Set([undefined, 'people.csv']));
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

describe('a part renamed (renamedPart)', () => {
  const upperName = (name: string): string => name.toUpperCase();

  test('rewrites filename and filename*, reads them as a server does, and writes them back quoted', () => {
    expect(renamedPart('Content-Disposition: form-data; name="file"; filename="people.csv"\r\nContent-Type: text/csv', upperName))
      .toBe('Content-Disposition: form-data; name="file"; filename="PEOPLE.CSV"\r\nContent-Type: text/csv');
    // A token, a quoted-pair, and RFC 5987's extended form (always written back as UTF-8).
    expect(renamedPart('content-disposition: form-data; name=file; filename=a.txt', upperName)).toBe('content-disposition: form-data; name=file; filename="A.TXT"');
    expect(renamedPart('Content-Disposition: form-data; name="f"; filename="a \\"q\\".txt"', (n) => `${n}!`)).toBe('Content-Disposition: form-data; name="f"; filename="a %22q%22.txt!"');
    expect(renamedPart("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''na%C3%AFve%20(1).txt", upperName))
      .toBe("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''NA%C3%8FVE%20%281%29.TXT");
    expect(renamedPart("Content-Disposition: form-data; name=\"f\"; filename*=iso-8859-1'en'caf%E9.txt", upperName))
      .toBe("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''CAF%C3%89.TXT");
  });

  test('leaves the name of the field, other headers and an unchanged file name byte for byte', () => {
    const text = 'Content-Disposition: form-data; name="filename"; filename="same.txt"\r\nX-Filename: "other.txt"';
    expect(renamedPart(text, (n) => n)).toBe(text);
    expect(renamedPart('Content-Disposition: form-data; name="title"', upperName)).toBe('Content-Disposition: form-data; name="title"');
  });

  test('a new name cannot end the quoted string or the header line', () => {
    const out = renamedPart('Content-Disposition: form-data; name="f"; filename="a.txt"', () => 'x"\r\nX-Injected: 1\\.txt');
    expect(out).toBe('Content-Disposition: form-data; name="f"; filename="x%22%0D%0AX-Injected: 1%5C.txt"');
    expect(partInfo(out).filename).toBe('x%22%0D%0AX-Injected: 1%5C.txt');
  });
});
