// Multipart uploads (Files, Skills) parsed as a stream with busboy: each file goes straight to disk
// in the fake's temp directory, so a 500 MB upload never sits in memory. It must never buffer a
// file body, and it stops writing at the size limit.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { newId } from '@skillgate/wire';

export interface StoredUpload {
  field: string;
  /** As sent, directory part kept (Skills uploads name files `my-skill/SKILL.md`). */
  filename: string;
  mimeType: string;
  size: number;
  /** Where the bytes were written. */
  path: string;
}

export class UploadTooLarge extends Error {}
export class UploadMalformed extends Error {}

export function receiveMultipart(req: IncomingMessage, dir: string, maxBytes: number): Promise<{ fields: Map<string, string>; files: StoredUpload[] }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, preservePath: true, limits: { fileSize: maxBytes, fields: 100, files: 1000 } });
    } catch (err) {
      reject(new UploadMalformed((err as Error).message));
      return;
    }
    const fields = new Map<string, string>();
    const files: StoredUpload[] = [];
    const writes: Array<Promise<void>> = [];
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain what is left so the response can be written
      reject(err);
    };
    parser.on('field', (name, value) => fields.set(name, value));
    parser.on('file', (field, stream, info) => {
      const upload: StoredUpload = { field, filename: info.filename ?? 'upload', mimeType: info.mimeType, size: 0, path: join(dir, newId('blob_')) };
      files.push(upload);
      const out = createWriteStream(upload.path);
      stream.on('data', (chunk: Buffer) => { upload.size += chunk.length; });
      stream.on('limit', () => fail(new UploadTooLarge(`file exceeds ${maxBytes} bytes`)));
      writes.push(new Promise((done, bad) => {
        out.on('finish', done);
        out.on('error', bad);
      }));
      stream.pipe(out);
    });
    parser.on('error', (err: Error) => fail(new UploadMalformed(err.message)));
    parser.on('close', () => {
      if (failed) return;
      Promise.all(writes).then(() => resolve({ fields, files }), (err: Error) => fail(err));
    });
    req.pipe(parser);
  });
}
