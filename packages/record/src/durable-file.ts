// Appending to files so that a write is on disk when it resolves — the file's name included. An
// fsync'd file whose directory entry was never synced can vanish in a crash with everything in it,
// so a file's first write is followed by an fsync of its directory. The local store, the spool and
// the recorder's archive all append this way. A file a crash left with half a line at its end (a
// write that never completed, so was never acknowledged) is cut back to its last whole line before
// anything is appended: the next line must not be glued onto the fragment and lost with it.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Open `file` for appending; `created` when this call made it (its name is not durable yet), `cut`
 * the bytes of a torn last line removed (see above).
 */
export async function openAppend(file: string): Promise<{ fh: FileHandle; created: boolean; cut: number }> {
  try {
    return { fh: await open(file, 'ax'), created: true, cut: 0 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const fh = await open(file, 'a+');
  try {
    return { fh, created: false, cut: await cutTornTail(fh) };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Truncate after the last '\n' when the file does not end with one; returns the bytes removed. */
async function cutTornTail(fh: FileHandle): Promise<number> {
  const size = (await fh.stat()).size;
  let end = size;
  const buf = Buffer.alloc(64 * 1024);
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl !== -1) {
      end = start + nl + 1;
      break;
    }
    end = start;
  }
  if (end === size) return 0;
  await fh.truncate(end);
  await fh.datasync();
  return size - end;
}

/** Make the entries of `dir` (files made in it) durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

/** Files a writer made whose names are not durable yet; sync() makes them so, one fsync per directory. */
export class NewFiles {
  private readonly files = new Set<string>();

  add(file: string): void {
    this.files.add(file);
  }

  async sync(): Promise<void> {
    if (this.files.size === 0) return;
    const files = [...this.files];
    for (const dir of new Set(files.map((f) => dirname(f)))) await syncDir(dir);
    for (const f of files) this.files.delete(f); // kept until synced: a failed sync is tried again
  }
}
