import { createMasker } from '@skillgate/masking';
import { UPLOAD_FINDINGS, isTextFile, uploadReader } from '../src/file-masking.js';

describe('which files are masked as text', () => {
  test.each([
    [{ contentType: 'text/csv', filename: 'a.csv' }, true],
    [{ contentType: 'text/plain' }, true], // a download named by its type alone
    [{ contentType: 'application/json', filename: 'x.bin' }, true],
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
