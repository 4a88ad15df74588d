// Recorded Anthropic SSE streams (packages/fake-claude/fixtures/anthropic-sse, MIT, copied unchanged from
// Anthropic's Python SDK tests; or SKILLGATE_FIXTURES, or a directory given at start-up), replayed byte for byte.
// A fixture name is a plain file name: never a path that could leave the directory.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url)); // packages/fake-claude/dist/src/

export function defaultFixturesDir(): string {
  return process.env.SKILLGATE_FIXTURES ?? resolve(here, '../../fixtures/anthropic-sse');
}

export class FixtureLibrary {
  private readonly cache = new Map<string, Buffer>();

  constructor(readonly dir: string = defaultFixturesDir()) {}

  /** The recorded streams available (.txt and .sse files). */
  names(): string[] {
    return readdirSync(this.dir).filter((n) => /\.(txt|sse)$/.test(n)).sort();
  }

  bytes(name: string): Buffer {
    if (basename(name) !== name) throw new Error(`fixture name must be a file name, got ${JSON.stringify(name)}`);
    let bytes = this.cache.get(name);
    if (!bytes) {
      bytes = readFileSync(resolve(this.dir, name));
      this.cache.set(name, bytes);
    }
    return bytes;
  }
}

/** Cut bytes into successive chunks of the given sizes (the last size repeats). */
export function chunkBytes(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, Math.floor(sizes[Math.min(i, sizes.length - 1)] ?? bytes.length));
    out.push(bytes.subarray(offset, offset + size));
    offset += size;
    i++;
  }
  return out;
}

/** Cut bytes at event boundaries (after each blank line), as the real API writes them. */
export function chunkByEvent(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0a) {
      out.push(bytes.subarray(start, i + 2));
      start = i + 2;
      i++;
    }
  }
  if (start < bytes.length) out.push(bytes.subarray(start));
  return out;
}
