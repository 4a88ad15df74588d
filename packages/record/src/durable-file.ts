// Appending to files so that a write is on disk when it resolves — the file's name included. An
// fsync'd file whose directory entry was never synced can vanish in a crash with everything in it,
// so a file's first write is followed by an fsync of its directory. The local store, the spool and
// the recorder's archive all append this way.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Open `file` for appending; `created` when this call made it (its name is not durable yet). */
export async function openAppend(file: string): Promise<{ fh: FileHandle; created: boolean }> {
  try {
    return { fh: await open(file, 'ax'), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { fh: await open(file, 'a'), created: false };
  }
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
