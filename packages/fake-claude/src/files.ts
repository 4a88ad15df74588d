// The Files API store: metadata in memory, bytes on disk in the fake's temp directory. Downloads
// stream from disk. Deviation from upstream, on purpose: uploaded files are downloadable here (the
// real API only lets you download files that tools created), so clients can round-trip them.
import { rm } from 'node:fs/promises';
import { fakeId } from './reply.js';
import type { StoredUpload } from './multipart.js';

export interface FileMetadata {
  id: string;
  type: 'file';
  filename: string;
  mime_type: string;
  size_bytes: number;
  created_at: string;
  downloadable: boolean;
}

export class FileStore {
  private readonly files = new Map<string, { meta: FileMetadata; path: string }>();

  add(upload: StoredUpload): FileMetadata {
    const meta: FileMetadata = {
      id: fakeId('file_011'),
      type: 'file',
      filename: upload.filename.replace(/^.*[\\/]/, ''),
      mime_type: upload.mimeType,
      size_bytes: upload.size,
      created_at: new Date().toISOString(),
      downloadable: true,
    };
    this.files.set(meta.id, { meta, path: upload.path });
    return meta;
  }

  get(id: string): { meta: FileMetadata; path: string } | undefined {
    return this.files.get(id);
  }

  /** Newest first. */
  list(): FileMetadata[] {
    return [...this.files.values()].reverse().map((f) => f.meta);
  }

  async delete(id: string): Promise<boolean> {
    const file = this.files.get(id);
    if (!file) return false;
    this.files.delete(id);
    await rm(file.path, { force: true });
    return true;
  }
}
