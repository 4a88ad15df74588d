// The forensics commands at their edges, as a responder meets them: a --dir that is no record (or an
// empty one), a value `find` cannot find, where an export goes and what it signs with, a session the
// store does not hold, a Redis that drops the connection, and `verify` of a file that is no bundle or
// of one signed by a key not trusted. The built CLI as a child process, on a local store written by
// the real recorder; a TCP server that closes every connection stands in for a Redis that drops it
// (a real Redis cannot be made to do that on cue).
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { FileSessionStore, RecordSigner, RedisSessionStore, SessionRecorder, fingerprintOf, headOf, sealEvent, type EvidenceBundle, type SessionEvent } from '@skillgate/record';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const KEY = 'cli-test-installation-key';
const PLANTED = 'jane.doe@example.com';
const SID = 'ses_edges';
const TEXT = 'Compute (a+b)*[c]? for 日本語, then mail <EMAIL_ADDRESS>';

const run = (args: string[], input = '', env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...process.env, SKILLGATE_MASKING_KEY: KEY, SKILLGATE_RECORD_SIGNING_KEY_FILE: '', ...env } });

/** As `run`, without blocking this process (whose server the command talks to). */
function runAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let work: string;
let rec: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sg-cli-edges-'));
  rec = join(work, 'records');
  // What a sidecar's recorder writes, with its key kept in memory (as in a cluster): no signing-key.pem.
  const store = new FileSessionStore(rec);
  const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0 });
  const identity = { namespace: 'payments', serviceAccount: 'sa', pod: 'pod-1', skill: 'refunds', owner: 'contractor@example.com' };
  await recorder.append({
    sessionId: SID, identity, kind: 'response', requestId: 'req_1',
    data: { status: 200, headers: {}, stream: false, body: JSON.stringify({ content: [{ type: 'text', text: TEXT }] }), findings: [{ type: 'EMAIL_ADDRESS', start: 46, end: 61, fingerprint: fingerprintOf(KEY, PLANTED) }] },
  });
  await recorder.checkpoint();
  await recorder.close();
  await store.close();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the record a --dir names', () => {
  it('is read, never written: an empty directory holds no sessions and stays empty', () => {
    const empty = mkdtempSync(join(work, 'empty-'));
    expect(run(['sessions', 'list', '--dir', empty])).toMatchObject({ status: 0, stdout: 'no sessions\n', stderr: '' });
    for (const args of [['sessions', 'show', SID], ['sessions', 'replay', SID, '--instant'], ['sessions', 'find', '--value', PLANTED], ['sessions', 'verify', '--all'], ['sessions', 'export', SID, '--out', join(work, 'from-empty.json')]]) {
      run([...args, '--dir', empty]);
    }
    expect(readdirSync(empty)).toEqual([]);
  });

  it('is refused, exit 2 in one line, when it is missing or a file, and nothing is made there', () => {
    const missing = join(work, 'no-such-record');
    expect(run(['sessions', 'list', '--dir', missing])).toMatchObject({ status: 2, stderr: `skillgate: not a record directory: ${missing} (no such directory; pass --dir DIR, or --redis URL / REDIS_URL for Redis)\n` });
    expect(existsSync(missing)).toBe(false);
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    expect(run(['sessions', 'show', SID, '--dir', file])).toMatchObject({ status: 2, stderr: `skillgate: not a record directory: ${file} (not a directory; pass --dir DIR, or --redis URL / REDIS_URL for Redis)\n` });
  });

  it('is refused when it holds other things but nothing of a record, rather than read as a record with no sessions', () => {
    const other = mkdtempSync(join(work, 'project-'));
    writeFileSync(join(other, 'package.json'), '{}');
    mkdirSync(join(other, 'src'));
    for (const args of [['sessions', 'list'], ['sessions', 'verify', '--all']]) {
      expect(run([...args, '--dir', other])).toMatchObject({ status: 2, stderr: `skillgate: not a record directory: ${other} (it holds 2 entries, none of a record's: sessions, sessions.jsonl, checkpoints.jsonl, keys, conflicts.jsonl; pass --dir DIR, or --redis URL / REDIS_URL for Redis)\n` });
    }
    // A record being written (its index only, say) is still a record.
    writeFileSync(join(other, 'sessions.jsonl'), '');
    expect(run(['sessions', 'list', '--dir', other])).toMatchObject({ status: 0, stdout: 'no sessions\n' });
  });
});

describe('sessions find', () => {
  it('says what it matches when nothing matched, and where to read text it cannot find', () => {
    // The text is in the record (show prints it), but masking never found it: find cannot.
    expect(run(['sessions', 'show', SID, '--dir', rec, '--output', 'json']).stdout).toContain('(a+b)*[c]?');
    for (const value of ['(a+b)*[c]?', '日本語']) {
      const r = run(['sessions', 'find', '--value', value, '--dir', rec]);
      expect({ value, status: r.status, stdout: r.stdout }).toEqual({ value, status: 0, stdout: expect.stringMatching(/^no masking finding has that value's fingerprint: find matches values masking detected .*, not any text; to read what sessions said: skillgate sessions show ID --output json, or sessions replay ID\n$/) });
      expect(r.stdout).not.toMatch(/no event contains/);
    }
    expect(run(['sessions', 'find', '--fingerprint', 'a'.repeat(64), '--dir', rec]).stdout).toMatch(/^no masking finding has that fingerprint: /);
  });

  it('trims the whitespace around a value, and refuses one with nothing in it', () => {
    const hits = (args: string[], input = '') => (JSON.parse(run(['sessions', 'find', ...args, '--dir', rec, '--output', 'json'], input).stdout) as { hits: unknown[] }).hits;
    expect(hits(['--value', PLANTED])).toHaveLength(1);
    expect(hits(['--value', ` ${PLANTED}\t `])).toHaveLength(1);
    expect(hits(['--value', '-'], `  ${PLANTED}\n\n`)).toHaveLength(1);
    for (const value of ['', '   ']) {
      expect(run(['sessions', 'find', '--value', value, '--dir', rec])).toMatchObject({ status: 2, stderr: 'skillgate: --value is empty (or only whitespace): give the value to find\n' });
    }
    expect(run(['sessions', 'find', '--value', '-', '--dir', rec], '\n')).toMatchObject({ status: 2, stderr: 'skillgate: stdin is empty (or only whitespace): give the value to find\n' });
    expect(run(['sessions', 'find', '--help']).stdout).toMatch(/Whitespace around the value[\s\S]*is trimmed/);
  });
});

describe('sessions export', () => {
  it('never writes a key into a store that has none: it signs with a key made for the export, said to be one', () => {
    const out = join(work, 'ephemeral.json');
    expect(run(['sessions', 'export', SID, '--dir', rec, '--out', out])).toMatchObject({ status: 0, stdout: expect.stringMatching(/\(ephemeral key\)\n$/) });
    expect(existsSync(join(rec, 'signing-key.pem'))).toBe(false);
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as EvidenceBundle;
    expect(bundle.manifest.exporterKeyEphemeral).toBe(true);
    expect(run(['verify', out])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^manifest: ok \(signed by .*, a key made for this export alone: it shows the bundle is unchanged since it was signed, not who signed it\)$/m) });
  });

  it('signs with the key a local store keeps, when it keeps one', () => {
    const withKey = join(work, 'keyed');
    cpSync(rec, withKey, { recursive: true });
    const storeKey = RecordSigner.generate();
    writeFileSync(join(withKey, 'signing-key.pem'), storeKey.privateKeyPem(), { mode: 0o600 });
    const out = join(work, 'store-key.json');
    expect(run(['sessions', 'export', SID, '--dir', withKey, '--out', out]).status).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as EvidenceBundle).manifest).toMatchObject({ exporterKeyId: storeKey.keyId, exporterKeyEphemeral: false });
  });

  it('checks where the bundle goes and the key it is signed with before reading any record', () => {
    // The --dir names no record: a check made after opening the store would complain about that instead.
    const nowhere = ['--dir', join(work, 'no-record-here')];
    const outDir = mkdtempSync(join(work, 'out-'));
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', outDir])).toMatchObject({ status: 1, stderr: `skillgate: cannot write ${outDir}: it is a directory; give the bundle's file name (e.g. ${join(outDir, 'evidence.json')})\n` });
    expect(run(['sessions', 'export', SID, '--dir', rec, '--out', `${outDir}/`]).stderr).toMatch(/it is a directory/);
    expect(run(['sessions', 'export', SID, '--dir', rec, '--out', `${join(work, 'not-yet')}/`]).stderr).toMatch(/it is a directory/);
    expect(readdirSync(work).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', '/dev/null'])).toMatchObject({ status: 1, stderr: 'skillgate: cannot write /dev/null: it is not a regular file\n' });
    const file = join(work, 'plain-file');
    writeFileSync(file, 'x');
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', join(file, 'e.json')])).toMatchObject({ status: 1, stderr: `skillgate: cannot write ${join(file, 'e.json')}: ${file} is not a writable directory\n` });
    const garbage = join(work, 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    const out = join(work, 'never.json');
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', out, '--signing-key', garbage])).toMatchObject({ status: 1, stderr: `skillgate: cannot load the signing key: ${garbage} is not a PKCS#8 Ed25519 private key in PEM\n` });
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', out], '', { SKILLGATE_RECORD_SIGNING_KEY_FILE: garbage }).stderr).toBe(`skillgate: cannot load the signing key: ${garbage} is not a PKCS#8 Ed25519 private key in PEM\n`);
    expect(run(['sessions', 'export', SID, ...nowhere, '--out', out, '--signing-key', join(work, 'missing.pem')]).stderr).toBe(`skillgate: cannot load the signing key: cannot read ${join(work, 'missing.pem')}: no such file\n`);
    expect(existsSync(out)).toBe(false);
  });

  it('exports a session named twice once, and says so', () => {
    const out = join(work, 'twice.json');
    const r = run(['sessions', 'export', SID, SID, '--dir', rec, '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/verified 1 session\(s\)/);
    expect((JSON.parse(readFileSync(out, 'utf8')) as EvidenceBundle).manifest.sessions).toHaveLength(1);
  });

  it('names a session the store does not hold before verifying, --force or not', () => {
    for (const force of [[], ['--force']]) {
      const r = run(['sessions', 'export', 'ses_typo', '--dir', rec, '--out', join(work, 'typo.json'), ...force]);
      expect({ force, status: r.status, stderr: r.stderr }).toEqual({ force, status: 1, stderr: `skillgate: no session ses_typo in local store ${rec}: nothing to export (skillgate sessions list shows what it holds)\n` });
    }
    expect(existsSync(join(work, 'typo.json'))).toBe(false);
  });
});

describe('a Redis that drops the connection', () => {
  it('is named with its URL and prefix, as one that cannot be reached at all is', async () => {
    const server = net.createServer((c) => {
      c.on('error', () => undefined);
      c.on('data', () => c.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
      const r = await runAsync(['sessions', 'list', '--redis', url, '--prefix', prefix]);
      expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(new RegExp(`^skillgate: cannot reach Redis ${escape(url)} \\(prefix ${escape(prefix)}\\): .*Redis connection closed\n$`)) });
      // sessions verify says it could not check (exit 3), not that the record failed (exit 1).
      const v = await runAsync(['sessions', 'verify', '--all', '--redis', url, '--prefix', prefix]);
      expect(v).toMatchObject({ status: 3, stdout: '', stderr: expect.stringMatching(new RegExp(`^skillgate: cannot reach Redis ${escape(url)} \\(prefix ${escape(prefix)}\\): .*Redis connection closed\n$`)) });
    } finally {
      server.close();
    }
  });
});

describe('verify BUNDLE', () => {
  it('calls a file that is no bundle not-a-bundle, and prints no verdict on what it never checked', () => {
    const notBundle = join(work, 'empty-object.json');
    writeFileSync(notBundle, '{}');
    const r = run(['verify', notBundle]);
    expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(/^skillgate: bundle verification failed: not-a-bundle: not a skillgate-evidence\/1 bundle/) });
    expect(r.stdout).toBe('manifest: FAILED not-a-bundle: not a skillgate-evidence/1 bundle (no "format": "skillgate-evidence/1" and manifest)\nsessions and checkpoints: not checked (the manifest failed)\n');
    expect(JSON.parse(run(['verify', notBundle, '--output', 'json']).stdout)).toMatchObject({ ok: false, contentUnchecked: true, firstProblem: { kind: 'not-a-bundle' } });
  });

  it('calls an empty file or one that is not JSON not-a-bundle (exit 1, a verdict in JSON too); a file or key it cannot read exits 3, as sessions verify does', () => {
    for (const [name, text, why] of [['empty.json', '', 'the file is empty'], ['text.json', 'hello', 'the file is not JSON \\(']] as const) {
      const f = join(work, name);
      writeFileSync(f, text);
      const r = run(['verify', f]);
      expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(new RegExp(`^skillgate: bundle verification failed: not-a-bundle: not a skillgate-evidence/1 bundle: ${why}`)) });
      expect(JSON.parse(run(['verify', f, '--output', 'json']).stdout)).toMatchObject({ ok: false, contentUnchecked: true, firstProblem: { kind: 'not-a-bundle' } });
    }
    const missing = join(work, 'no-such-bundle.json');
    expect(run(['verify', missing])).toMatchObject({ status: 3, stderr: expect.stringMatching(/^skillgate: cannot read bundle .*no-such-bundle\.json: ENOENT/) });
    const bundle = join(work, 'for-keys.json');
    expect(run(['sessions', 'export', SID, '--dir', rec, '--out', bundle]).status).toBe(0);
    const noKey = join(work, 'no-such-key.pem');
    expect(run(['verify', bundle, '--public-key', noKey])).toMatchObject({ status: 3, stderr: expect.stringMatching(/^skillgate: cannot use public key .*no-such-key\.pem: /) });
    expect(run(['sessions', 'verify', '--all', '--dir', rec, '--public-key', noKey])).toMatchObject({ status: 3, stderr: expect.stringMatching(/^skillgate: cannot use public key .*no-such-key\.pem: /) });
  });

  it('calls a manifest signed by a key other than the pinned ones untrusted-key, not altered', () => {
    const exporter = join(work, 'exporter.pem');
    writeFileSync(exporter, RecordSigner.generate().privateKeyPem());
    const other = join(work, 'other.pub.pem');
    writeFileSync(other, RecordSigner.generate().publicKeyPem);
    const out = join(work, 'signed.json');
    expect(run(['sessions', 'export', SID, '--dir', rec, '--out', out, '--signing-key', exporter]).status).toBe(0);
    const r = run(['verify', out, '--public-key', other]);
    expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(/^skillgate: bundle verification failed: untrusted-key: the manifest is signed by key ed25519-\w+, which is not one of the trusted keys\n$/) });
    expect(r.stdout.split('\n')).toEqual([expect.stringMatching(/^manifest: FAILED untrusted-key: /), 'sessions and checkpoints: not checked (the manifest failed)', 'keys: pinned with --public-key', '']);
  });
});

describe('a session taken out of the listing', () => {
  it('is named by list and find, fails verify --all, and stops export --all (with --force it is in the bundle)', () => {
    const copy = join(work, 'unlisted');
    cpSync(rec, copy, { recursive: true });
    writeFileSync(join(copy, 'sessions.jsonl'), ''); // the one session's index line deleted
    const warning = new RegExp(`^skillgate: warning: local store ${escape(copy)} holds 1 session\\(s\\) its listing does not name \\(${SID}\\), which this (list|search) cannot see: .*'skillgate sessions verify --all' checks them\\n`);
    const listed = run(['sessions', 'list', '--dir', copy]);
    expect(listed).toMatchObject({ status: 0, stdout: 'no sessions\n' });
    expect(listed.stderr).toMatch(warning);
    expect(run(['sessions', 'find', '--value', PLANTED, '--dir', copy]).stderr).toMatch(warning);
    const verified = run(['sessions', 'verify', '--all', '--dir', copy]);
    expect(verified.status).toBe(1);
    expect(verified.stdout).toContain(`misfiled: session ${SID} is not in the store's listing`);
    const out = join(work, 'unlisted.json');
    const refused = run(['sessions', 'export', '--all', '--dir', copy, '--out', out]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/not exported: the record fails verification \(misfiled: /);
    expect(existsSync(out)).toBe(false);
    expect(run(['sessions', 'export', '--all', '--force', '--dir', copy, '--out', out]).status).toBe(0);
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as EvidenceBundle;
    expect(bundle.manifest.sessions.map((s) => s.sessionId)).toEqual([SID]);
    // Untouched, the store warns of nothing.
    expect(run(['sessions', 'list', '--dir', rec]).stderr).toBe('');
  });
});

describe('sessions show of a Redis session cut from the end', () => {
  it('says which events are missing, against the store\'s own head', async () => {
    const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const store = new RedisSessionStore({ redis: url, prefix });
    const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 's', owner: 'o@example.com' };
    const events: SessionEvent[] = [];
    for (let i = 0; i < 4; i++) events.push(sealEvent({ sessionId: 'ses_cut', identity, kind: 'egress', data: { destination: `host-${i}:443`, method: 'CONNECT', allowed: false } }, events.length ? headOf(events.at(-1)!) : undefined));
    await store.append(events.map((event) => ({ type: 'event' as const, event })));
    // The last event's index entry dropped (what an attacker hiding the final answer does).
    const admin = new Redis(url);
    await admin.rpop(store.indexKey('ses_cut'));
    try {
      const r = await runAsync(['sessions', 'show', 'ses_cut', '--redis', url, '--prefix', prefix]);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^skillgate: session ses_cut lacks event\(s\) #3 \(unreadable or deleted\) \(cut from the end: the store's head says the chain runs to #3\): /);
    } finally {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length) await admin.del(...keys);
      admin.disconnect();
      await store.close();
    }
  });
});

describe('sessions find of a phone number', () => {
  it('finds it written with or without its country code', async () => {
    const dir = join(work, 'phones');
    const store = new FileSessionStore(dir);
    const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0 });
    const identity = { namespace: 'payments', serviceAccount: 'sa', pod: 'pod-1', skill: 'refunds', owner: 'contractor@example.com' };
    // As masking fingerprints them: as written, without separators.
    for (const [requestId, written] of [['req_intl', '+14155550132'], ['req_national', '2125550199']]) {
      await recorder.append({
        sessionId: 'ses_phones', identity, kind: 'response', requestId,
        data: { status: 200, headers: {}, stream: false, body: '[PHONE_NUMBER]', findings: [{ type: 'PHONE_NUMBER', start: 0, end: 14, fingerprint: fingerprintOf(KEY, written) }] },
      });
    }
    await recorder.close();
    await store.close();
    const hits = (value: string) => (JSON.parse(run(['sessions', 'find', '--value', value, '--dir', dir, '--output', 'json']).stdout) as { hits: Array<{ requestId: string }> }).hits.map((h) => h.requestId);
    for (const value of ['415-555-0132', '(415) 555-0132', '1 415 555 0132', '+1 415 555 0132']) expect({ value, hits: hits(value) }).toEqual({ value, hits: ['req_intl'] });
    for (const value of ['+1 212 555 0199', '(212) 555-0199', '1-212-555-0199']) expect({ value, hits: hits(value) }).toEqual({ value, hits: ['req_national'] });
    expect(hits('555-0199')).toEqual([]); // not a whole number: no other forms
  });
});
