// Appending durably: openAppend says when it made the file (whose name then needs its directory
// synced), and NewFiles keeps a file until its directory has been synced. Real files, no mocks.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NewFiles, openAppend } from '../src/durable-file.js';
import { tempDir } from './support.js';

test('openAppend makes the file once, and appends to it after that', async () => {
  const file = join(tempDir('durable'), 'a.jsonl');
  const first = await openAppend(file);
  await first.fh.writeFile('one\n');
  await first.fh.close();
  const again = await openAppend(file);
  await again.fh.writeFile('two\n');
  await again.fh.close();
  expect([first.created, again.created]).toEqual([true, false]);
  expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
});

test('openAppend fails on a path it cannot open, rather than calling it made', async () => {
  await expect(openAppend(join(tempDir('durable'), 'missing', 'a.jsonl'))).rejects.toThrow(/ENOENT/);
});

test('NewFiles keeps a file until its directory was synced, and tries again after a failure', async () => {
  const dir = join(tempDir('durable'), 'day');
  mkdirSync(dir);
  const files = new NewFiles();
  files.add(join(dir, 'a.jsonl'));
  rmSync(dir, { recursive: true });
  await expect(files.sync()).rejects.toThrow(/ENOENT/);
  mkdirSync(dir);
  await files.sync(); // the same directory again: it was not forgotten
  rmSync(dir, { recursive: true });
  await files.sync(); // nothing left to sync
});
