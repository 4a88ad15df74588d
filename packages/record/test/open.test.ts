// Opening a record for reading, and the signing key a reader uses: a reader creates nothing in a
// local store (no directories, no key), refuses to write to it, and a key file that is not an
// Ed25519 key is named in one line. Local files only.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sealEvent } from '../src/chain.js';
import { RecordSigner } from '../src/checkpoint.js';
import { FileSessionStore } from '../src/file-store.js';
import { loadSigner, openSessionStore } from '../src/open.js';
import { requestDraft, tempDir } from './support.js';

describe('a local store opened read-only', () => {
  it('creates nothing, not even its directories, and reads an empty record as one with no sessions', async () => {
    const dir = tempDir('readonly');
    const store = await openSessionStore({ recordDir: dir }, { readOnly: true });
    expect(await store.listSessions()).toEqual([]);
    expect(await store.readSession('ses_none')).toEqual([]);
    expect(await store.checkpoints()).toEqual([]);
    expect(await store.publicKeys()).toEqual({});
    await store.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses every write, leaving the directory as it was', async () => {
    const dir = tempDir('readonly-write');
    const store = new FileSessionStore(dir, { readOnly: true });
    const event = sealEvent(requestDraft('ses_ro', 0), undefined);
    await expect(store.append([{ type: 'event', event }])).rejects.toThrow(/opened read-only/);
    await expect(store.publishKey('k', 'pem')).rejects.toThrow(/opened read-only/);
    await expect(store.keepAside([{ event }], 'w', '2026-01-01T00:00:00.000Z')).rejects.toThrow(/opened read-only/);
    await store.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is written as before when opened for writing', async () => {
    const dir = tempDir('readwrite');
    const store = await openSessionStore({ recordDir: dir });
    expect(readdirSync(dir).sort()).toEqual(['keys', 'sessions']);
    await store.close();
  });
});

describe('the signing key', () => {
  it('of a local store is made and kept there by its writer, never by a reader', () => {
    const reader = tempDir('signer-reader');
    expect(loadSigner({ dir: reader, create: false })).toMatchObject({ ephemeral: true });
    expect(existsSync(join(reader, 'signing-key.pem'))).toBe(false);
    const writer = tempDir('signer-writer');
    const made = loadSigner({ dir: writer });
    expect(made.ephemeral).toBe(false);
    expect(existsSync(join(writer, 'signing-key.pem'))).toBe(true);
    // A reader uses the key the store keeps.
    expect(loadSigner({ dir: writer, create: false })).toMatchObject({ ephemeral: false, signer: { keyId: made.signer.keyId } });
  });

  it('from a file that is not a PKCS#8 Ed25519 private key is refused naming the file, not in OpenSSL\'s words', () => {
    const dir = tempDir('signer-bad');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    expect(() => loadSigner({ keyFile: garbage })).toThrow(`${garbage} is not a PKCS#8 Ed25519 private key in PEM`);
    const publicOnly = join(dir, 'public.pem');
    writeFileSync(publicOnly, RecordSigner.generate().publicKeyPem);
    expect(() => loadSigner({ keyFile: publicOnly })).toThrow(`${publicOnly} is not a PKCS#8 Ed25519 private key in PEM`);
    expect(() => loadSigner({ keyFile: join(dir, 'missing.pem') })).toThrow(`cannot read ${join(dir, 'missing.pem')}: no such file`);
    mkdirSync(join(dir, 'a-dir'));
    expect(() => loadSigner({ keyFile: join(dir, 'a-dir') })).toThrow(`cannot read ${join(dir, 'a-dir')}: a directory`);
  });
});
