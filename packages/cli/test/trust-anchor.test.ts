// The record's trust anchor, as a responder uses it: `sessions verify --trust-jwks` and
// `verify BUNDLE --trust-jwks` against the controller's JWKS. Someone with write access to Redis can
// rewrite a whole record and sign it again with a key of their own (publishing that key beside it):
// the plain verify cannot tell, the anchored one refuses it, whether the forger copied the real
// sidecar's endorsement or not, and even with another sidecar's genuinely endorsed key (a key is
// trusted for its own pod's sessions only). Real Redis, the built CLI as a child process, the real
// endorser.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { SkillIdentity } from '@skillgate/api';
import { RecordKeyEndorser, WorkloadTokenIssuer, generateSigningKey, recordKeyThumbprintOfPem } from '@skillgate/identity';
import { RecordSigner, RedisSessionStore, SessionRecorder, headOf, requestData, sealEvent, type EventDraft } from '@skillgate/record';

const REDIS_URL = process.env.SKILLGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLI = fileURLToPath(new URL('../src/main.js', import.meta.url));
const ISSUER = 'https://skillgate-controller.skillgate.svc:8443';
const identity: SkillIdentity = { namespace: 'payments', serviceAccount: 'sa', pod: 'refunds-7f9c-x2', skill: 'refunds', owner: 'contractor@example.com' };
const SID = 'ses_anchor';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A store under a prefix of its own, holding one exchange whose answer is `answer`. */
async function record(signer: RecordSigner, answer: string): Promise<{ args: string[]; prefix: string }> {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
  const recorder = await SessionRecorder.open({ store, signer, checkpointIntervalMs: 0 });
  const base = { sessionId: SID, identity };
  const body = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Export the customer table' }] });
  const drafts: EventDraft[] = [
    { ...base, kind: 'request', requestId: 'req_1', data: requestData({ method: 'POST', url: '/v1/messages', headers: {}, forwarded: Buffer.from(body), maskedBody: body }) },
    { ...base, kind: 'response', requestId: 'req_1', data: { status: 200, headers: {}, stream: false, body: JSON.stringify({ content: [{ type: 'text', text: answer }] }) } },
  ];
  for (const d of drafts) await recorder.append(d);
  await recorder.checkpoint();
  await recorder.close();
  await store.close();
  return { args: ['--redis', REDIS_URL, '--prefix', prefix], prefix };
}

describe('the record trust anchor (--trust-jwks)', () => {
  const prefixes: string[] = [];
  let work: string;
  let jwksFile: string;
  let otherJwksFile: string;
  let sidecarSigner: RecordSigner;
  let genuine: string[];
  let controllerKey: Awaited<ReturnType<typeof generateSigningKey>>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'sg-anchor-'));
    const key = await generateSigningKey();
    controllerKey = key;
    jwksFile = join(work, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(new WorkloadTokenIssuer(key, ISSUER).jwks()));
    otherJwksFile = join(work, 'other-jwks.json');
    writeFileSync(otherJwksFile, JSON.stringify(new WorkloadTokenIssuer(await generateSigningKey(), ISSUER).jwks()));
    // What the sidecar does: a key of its own, endorsed by the controller in the token exchange.
    sidecarSigner = RecordSigner.generate();
    sidecarSigner.endorsement = await new RecordKeyEndorser(key, ISSUER).endorse(identity, recordKeyThumbprintOfPem(sidecarSigner.publicKeyPem));
    const made = await record(sidecarSigner, 'Done: 1,204 rows exported to the report.');
    prefixes.push(made.prefix);
    genuine = made.args;
  });

  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('accepts the genuine record and says which pod each endorsed key belonged to, by file or by URL', async () => {
    const ok = await cli(['sessions', 'verify', '--all', '--trust-jwks', jwksFile, ...genuine]);
    expect(ok.stderr).not.toMatch(/failed/);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`key ${sidecarSigner.keyId}: endorsed by ${ISSUER} for pod payments/refunds-7f9c-x2 (skill refunds, owner contractor@example.com)`);
    expect(ok.stdout).toMatch(new RegExp(`${SID}: ok \\(\\d+ events, all under a signed checkpoint\\)`));
    expect(ok.stdout).toMatch(/^keys: endorsed by the controller \(--trust-jwks\)$/m);

    const server = http.createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(readFileSync(jwksFile)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
      const json = await cli(['sessions', 'verify', SID, '--trust-jwks', url, '--output', 'json', ...genuine]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, endorsed: { [sidecarSigner.keyId]: { pod: 'refunds-7f9c-x2', namespace: 'payments' } } });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('refuses a record rewritten and signed again, which the plain verify accepts', async () => {
    // The forger rewrites the answer and records it all again under a key of their own; copying the
    // real endorsement along does not help, as it names the real key.
    const forger = RecordSigner.generate();
    forger.endorsement = sidecarSigner.endorsement;
    const forged = await record(forger, 'Nothing was exported.');
    prefixes.push(forged.prefix);
    expect((await cli(['sessions', 'verify', '--all', ...forged.args])).code).toBe(0);
    const anchored = await cli(['sessions', 'verify', '--all', '--trust-jwks', jwksFile, ...forged.args]);
    expect(anchored.code).toBe(1);
    expect(anchored.stderr).toContain(`verification failed: untrusted-key: checkpoint`);
    expect(anchored.stderr).toContain(`signed by key ${forger.keyId}, which is not trusted: its endorsement is for another key`);

    const unendorsed = await record(RecordSigner.generate(), 'Nothing was exported.');
    prefixes.push(unendorsed.prefix);
    const bare = await cli(['sessions', 'verify', '--all', '--trust-jwks', jwksFile, ...unendorsed.args]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/which is not trusted: its checkpoint carries no endorsement from the controller/);

    // The genuine record against another cluster's controller is refused too.
    const elsewhere = await cli(['sessions', 'verify', '--all', '--trust-jwks', otherJwksFile, ...genuine]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/its endorsement does not verify against the trusted JWKS/);
  });

  it('refuses a record re-signed with another pod\'s genuinely endorsed key (a key stolen from another sidecar)', async () => {
    const otherPod = RecordSigner.generate();
    otherPod.endorsement = await new RecordKeyEndorser(controllerKey, ISSUER).endorse({ ...identity, pod: 'reports-5d4c-q8' }, recordKeyThumbprintOfPem(otherPod.publicKeyPem));
    const forged = await record(otherPod, 'Nothing was exported.');
    prefixes.push(forged.prefix);
    expect((await cli(['sessions', 'verify', '--all', ...forged.args])).code).toBe(0);
    const anchored = await cli(['sessions', 'verify', '--all', '--trust-jwks', jwksFile, ...forged.args]);
    expect(anchored.code).toBe(1);
    expect(anchored.stderr).toMatch(/out-of-scope: checkpoint .* is signed by a key made for pod payments\/reports-5d4c-q8 but commits session ses_anchor of pod payments\/refunds-7f9c-x2/);
  });

  it('requires each session to be committed by an endorsed checkpoint', async () => {
    // A session no checkpoint covers (younger than the checkpoint interval, or written by someone
    // who cannot sign) beside the genuine one.
    const made = await record(sidecarSigner, 'Done.');
    prefixes.push(made.prefix);
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix: made.prefix });
    const first = sealEvent({ sessionId: 'ses_young', identity, kind: 'egress', data: { destination: 'paste.example:443', method: 'CONNECT', allowed: false } }, undefined);
    const second = sealEvent({ sessionId: 'ses_young', identity, kind: 'egress', data: { destination: 'paste.example:443', method: 'CONNECT', allowed: false } }, headOf(first));
    await store.append([{ type: 'event', event: first }, { type: 'event', event: second }]);
    await store.close();
    expect((await cli(['sessions', 'verify', '--all', ...made.args])).code).toBe(0);
    const anchored = await cli(['sessions', 'verify', '--all', '--trust-jwks', jwksFile, ...made.args]);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toMatch(new RegExp(`${SID}: ok`));
    expect(anchored.stderr).toMatch(/unanchored: no trusted checkpoint commits any of the 2 event\(s\) of session ses_young/);
  });

  it('with a pinned key (--public-key), also requires each session to be committed by a checkpoint that key signed: emptied checkpoints do not pass', async () => {
    const made = await record(sidecarSigner, 'Done: 1,204 rows exported to the report.');
    prefixes.push(made.prefix);
    const keyFile = join(work, 'sidecar-key.pem');
    writeFileSync(keyFile, sidecarSigner.publicKeyPem);
    expect((await cli(['sessions', 'verify', '--all', '--public-key', keyFile, ...made.args])).code).toBe(0);
    // Someone with write access deletes the checkpoints (and could then rewrite the chain at will).
    const redis = new Redis(REDIS_URL);
    for (const key of await redis.keys(`${made.prefix}*checkpoint*`)) await redis.del(key);
    await redis.quit();
    expect((await cli(['sessions', 'verify', '--all', ...made.args])).code).toBe(0); // unanchored, it cannot tell
    const pinned = await cli(['sessions', 'verify', '--all', '--public-key', keyFile, ...made.args]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(new RegExp(`unanchored: no trusted checkpoint commits any of the 2 event\\(s\\) of session ${SID}`));
  });

  it('carries the anchor into evidence bundles, checked offline', async () => {
    const out = join(work, 'evidence.json');
    expect((await cli(['sessions', 'export', SID, ...genuine, '--out', out])).code).toBe(0);
    const ok = await cli(['verify', out, '--trust-jwks', jwksFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`key ${sidecarSigner.keyId}: endorsed by ${ISSUER}`);
    expect((await cli(['verify', out, '--trust-jwks', otherJwksFile])).code).toBe(1);

    const forger = RecordSigner.generate();
    forger.endorsement = sidecarSigner.endorsement;
    const forged = await record(forger, 'Nothing was exported.');
    prefixes.push(forged.prefix);
    const forgedOut = join(work, 'forged.json');
    expect((await cli(['sessions', 'export', SID, ...forged.args, '--out', forgedOut])).code).toBe(0);
    expect((await cli(['verify', forgedOut])).code).toBe(0);
    const refused = await cli(['verify', forgedOut, '--trust-jwks', jwksFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/untrusted-key: .*its endorsement is for another key/);
  });

  it('says what is wrong with a JWKS it cannot use', async () => {
    const empty = join(work, 'empty.json');
    writeFileSync(empty, '{"keys": []}');
    const r1 = await cli(['sessions', 'verify', '--all', '--trust-jwks', empty, ...genuine]);
    expect(r1.code).toBe(3); // could not check: not a verdict on the record
    expect(r1.stderr).toMatch(/the JWKS .*empty\.json holds no keys/);
    const r2 = await cli(['sessions', 'verify', '--all', '--trust-jwks', join(work, 'missing.json'), ...genuine]);
    expect(r2.stderr).toMatch(/cannot read the JWKS .*missing\.json: ENOENT/);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r3 = await cli(['sessions', 'verify', '--all', '--trust-jwks', `http://127.0.0.1:${port}/jwks.json`, ...genuine]);
    expect(r3.stderr).toMatch(/cannot read the JWKS http:\/\/127\.0\.0\.1:\d+\/jwks\.json: fetch failed \(.*ECONNREFUSED/);
    expect([r2.code, r3.code]).toEqual([3, 3]);
  });
});
