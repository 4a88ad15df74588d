import { isTextFile } from '../src/file-masking.js';

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
