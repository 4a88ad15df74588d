import { createMasker } from '@skillgate/masking';
import { SNIFF_BYTES, UPLOAD_FINDINGS, downloadMasking, isTextFile, uploadMaskFilter, uploadReader } from '../src/file-masking.js';

describe('which files are masked as text', () => {
  test.each([
    [{ contentType: 'text/csv', filename: 'a.csv' }, true],
    [{ contentType: 'text/plain' }, true], // a download named by its type alone
    [{ contentType: 'application/json', filename: 'x.bin' }, true],
    [{ contentType: 'application/ld+json' }, true],
    [{ contentType: 'application/vnd.api+json', filename: 'a' }, true],
    [{ contentType: 'application/octet-stream', filename: 'notes.MD' }, true],
    [{ filename: 'people.tsv' }, true],
    [{ contentType: 'application/pdf', filename: 'report.txt' }, false], // the type says binary
    [{ contentType: 'image/png', filename: 'scan.png' }, false],
    [{ contentType: 'application/octet-stream', filename: 'dump.bin' }, false],
    [{ contentType: 'application/octet-stream' }, false],
  ])('%j: %s', (file, text) => {
    expect(isTextFile({ headers: {}, ...file })).toBe(text);
  });
});

describe('the record\'s reader of an upload (record mode)', () => {
  const masker = createMasker(undefined, { key: 'reader-test-key-0123456789' });
  const B = 'reader-boundary';
  const upload = (text: string) => Buffer.from(`--${B}\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\n${text}\r\n--${B}--\r\n`);

  test('passes every byte on as it came and counts what it read', () => {
    const body = upload('mail ann.lee@example.com and bob.ray@example.com');
    const reader = uploadReader(`multipart/form-data; boundary=${B}`, masker, () => undefined, 1 << 20);
    const out = Buffer.concat([...reader.push(body.subarray(0, 50)), ...reader.push(body.subarray(50)), ...reader.end()]);
    expect(out.equals(body)).toBe(true);
    expect(reader.found).toBe(2);
    expect(reader.findings.map((f) => f.type)).toEqual(['EMAIL_ADDRESS', 'EMAIL_ADDRESS']);
    expect(reader.unread).toBeUndefined();
  });

  test('reads the first bytes only, and says so', () => {
    const body = upload(`mail ann.lee@example.com ${'x'.repeat(2000)} and bob.ray@example.com`);
    const reader = uploadReader(`multipart/form-data; boundary=${B}`, masker, () => undefined, 1000);
    const out: Buffer[] = [];
    for (let at = 0; at < body.length; at += 500) out.push(...reader.push(body.subarray(at, at + 500)));
    out.push(...reader.end());
    expect(Buffer.concat(out).equals(body)).toBe(true);
    expect(reader.found).toBe(1);
    expect(reader.unread).toBe('only its first 1000 bytes were read');
  });

  test('keeps at most UPLOAD_FINDINGS distinct values, each once, and counts every one', () => {
    const lines = Array.from({ length: UPLOAD_FINDINGS + 200 }, (_, i) => `user${i}@example.com`);
    const body = upload([...lines, ...lines.slice(0, 50)].join('\n'));
    const reader = uploadReader(`multipart/form-data; boundary=${B}`, masker, () => undefined, 1 << 20);
    reader.push(body);
    reader.end();
    expect(reader.found).toBe(UPLOAD_FINDINGS + 250);
    expect(reader.findings).toHaveLength(UPLOAD_FINDINGS);
    expect(new Set(reader.findings.map((f) => f.fingerprint)).size).toBe(UPLOAD_FINDINGS);
  });

  test('leaves a body that is not multipart unread, and passes it on', () => {
    const reader = uploadReader('application/octet-stream', masker, () => undefined, 1 << 20);
    expect(reader.push(Buffer.from('raw'))).toEqual([Buffer.from('raw')]);
    expect(reader.end()).toEqual([]);
    expect(reader.unread).toBe('not multipart/form-data with a boundary');
  });
});

describe('a file whose type and name do not say text, read by its first bytes', () => {
  const masker = createMasker(undefined, { key: 'sniff-test-key-0123456789' });
  const B = 'sniff-boundary';
  const part = (type: string, name: string, content: Buffer) => Buffer.concat([
    Buffer.from(`--${B}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\ncontent-type: ${type}\r\n\r\n`), content, Buffer.from(`\r\n--${B}--\r\n`)]);
  const sent = (body: Buffer, chunk: number): string => {
    const filter = uploadMaskFilter(`multipart/form-data; boundary=${B}`, masker, () => undefined);
    const out: Buffer[] = [];
    for (let at = 0; at < body.length; at += chunk) out.push(...filter.push(body.subarray(at, at + chunk)));
    out.push(...filter.end());
    return Buffer.concat(out).toString('latin1');
  };
  const csv = Buffer.from(`name,email,card\nJane Doe,jane.doe@example.com,4111 1111 1111 1111\n${'row,x@y.org,0\n'.repeat(600)}`);

  test.each([['application/vnd.ms-excel', 'customers.csv'], ['application/octet-stream', 'customers'], ['application/x-unknown', 'export.dat']])(
    'masks a CSV sent as %s (%s), short or longer than the bytes read first, in any chunking', (type, name) => {
      for (const content of [csv, csv.subarray(0, 100)]) {
        for (const chunk of [1, 7, 4096, 1 << 20]) {
          const out = sent(part(type, name, content), chunk);
          expect(out).not.toContain('jane.doe@example.com');
          expect(out).not.toContain('4111 1111 1111 1111');
          expect(out).toContain('[EMAIL_ADDRESS]');
        }
      }
      expect(csv.length).toBeGreaterThan(SNIFF_BYTES);
    });

  test('passes a binary file on byte for byte: a NUL, or bytes that are not UTF-8', () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('jane.doe@example.com'), Buffer.alloc(9000, 7)]);
    const nul = Buffer.concat([Buffer.from('jane.doe@example.com\0'), Buffer.alloc(10, 1)]);
    for (const content of [png, nul]) {
      const body = part('application/octet-stream', 'blob', content);
      for (const chunk of [3, 5000]) expect(sent(body, chunk)).toBe(body.toString('latin1'));
    }
  });

  test('masks a downloaded file the same way, whatever type it was served as, and passes a binary one as it came', () => {
    for (const contentType of ['application/octet-stream', 'image/png']) {
      const t = downloadMasking({ headers: {}, contentType }, masker, () => undefined);
      const out = Buffer.concat([t.push(csv.subarray(0, 10)), t.push(csv.subarray(10)), t.end()]).toString('utf8');
      expect(out).not.toContain('jane.doe@example.com');
    }
    const bin = downloadMasking({ headers: {}, contentType: 'image/png' }, masker, () => undefined);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]);
    expect(Buffer.concat([bin.push(png), bin.end()]).equals(png)).toBe(true);
  });

  test('a binary type is the sender\'s word only: a CSV sent as image/png or application/pdf is masked', () => {
    for (const type of ['image/png', 'application/pdf', 'application/zip']) {
      const out = sent(part(type, 'customers.csv', csv), 1000);
      expect(out).not.toContain('jane.doe@example.com');
      expect(out).not.toContain('4111 1111 1111 1111');
    }
  });

  test('passes an all-ASCII PDF byte for byte, by its signature: its offsets must not move', () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Author (jane.doe@example.com) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    expect(isTextFile({ headers: {}, contentType: 'application/pdf', filename: 'a.pdf' })).toBe(false); // read by its bytes
    for (const type of ['application/pdf', 'application/octet-stream']) {
      const body = part(type, 'report.pdf', pdf);
      expect(sent(body, 9)).toBe(body.toString('latin1'));
    }
  });
});

describe('an upload\'s form fields and file names', () => {
  const masker = createMasker(undefined, { key: 'fields-test-key-0123456789' });
  const B = 'fields-boundary';
  const field = (name: string, content: Buffer | string) => Buffer.concat([Buffer.from(`--${B}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n`), Buffer.from(content), Buffer.from('\r\n')]);
  const file = (filename: string, content = 'nothing here') => Buffer.from(`--${B}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\ncontent-type: text/plain\r\n\r\n${content}\r\n`);
  const end = Buffer.from(`--${B}--\r\n`);
  const sent = (body: Buffer, chunk: number) => {
    const found: string[] = [];
    const filter = uploadMaskFilter(`multipart/form-data; boundary=${B}`, masker, (f) => found.push(...f.map((x) => `${x.path}:${x.type}`)));
    const out: Buffer[] = [];
    for (let at = 0; at < body.length; at += chunk) out.push(...filter.push(body.subarray(at, at + chunk)));
    out.push(...filter.end());
    return { text: Buffer.concat(out).toString('latin1'), found };
  };

  test('masks a form field as a text file is masked, in any chunking', () => {
    for (const chunk of [1, 5, 1 << 16]) {
      const { text, found } = sent(Buffer.concat([field('display_title', 'Skill for jane.doe@example.com card 4111 1111 1111 1111'), end]), chunk);
      expect(text).toBe(`--${B}\r\ncontent-disposition: form-data; name="display_title"\r\n\r\nSkill for [EMAIL_ADDRESS] card [CREDIT_CARD]\r\n--${B}--\r\n`);
      expect(found).toEqual(['field#0:EMAIL_ADDRESS', 'field#0:CREDIT_CARD']);
    }
  });

  test('passes a binary form field byte for byte', () => {
    const body = Buffer.concat([field('blob', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2])), end]);
    expect(sent(body, 3).text).toBe(body.toString('latin1'));
  });

  test.each([
    ['jane.doe@example.com 4111 1111 1111 1111.csv', '[EMAIL_ADDRESS] [CREDIT_CARD].csv'],
    ['jane.doe@example.com.csv', '[EMAIL_ADDRESS].csv'], // no email address reads `.csv` as its domain: masked without it
    ['jane.doe@example.com', '[EMAIL_ADDRESS].com'],
    ['exports/jane.doe@example.com/SKILL.md', 'exports/[EMAIL_ADDRESS]/SKILL.md'],
    ['report 2026-11-01.txt', 'report 2026-11-01.txt'],
  ])('names the file %j as %j', (name, masked) => {
    const { text, found } = sent(Buffer.concat([file(name), end]), 7);
    expect(text).toContain(`filename="${masked}"\r\n`);
    expect(found.every((f) => f.startsWith('filename#0:'))).toBe(true);
    expect(found.length > 0).toBe(name !== masked);
  });

  test('masks a file name given as filename* (RFC 5987) only, and writes it back as UTF-8', () => {
    const body = Buffer.concat([Buffer.from(`--${B}\r\ncontent-disposition: form-data; name="file"; filename*=UTF-8''j%C3%A4ne%20jane.doe%40example.com.txt\r\n\r\nhi\r\n`), end]);
    const { text, found } = sent(body, 4);
    expect(text).toContain("filename*=UTF-8''j%C3%A4ne%20%5BEMAIL_ADDRESS%5D.txt\r\n");
    expect(found).toEqual(['filename#0:EMAIL_ADDRESS']);
  });

  test('the record\'s reader (record mode) finds what form fields and file names hold, and passes every byte on', () => {
    const body = Buffer.concat([field('display_title', 'for jane.doe@example.com'), file('ann.lee@example.com.txt'), end]);
    const reader = uploadReader(`multipart/form-data; boundary=${B}`, masker, () => undefined, 1 << 20);
    const out = Buffer.concat([...reader.push(body.subarray(0, 40)), ...reader.push(body.subarray(40)), ...reader.end()]);
    expect(out.equals(body)).toBe(true);
    expect(reader.findings.map((f) => `${f.path}:${f.type}`)).toEqual(['field#0:EMAIL_ADDRESS', 'filename#0:EMAIL_ADDRESS']);
  });
});
