import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RecordSigner, RedisSessionStore, SessionRecorder, headOf, sealEventJson, verifyRecord, type EventDraft, type SessionEvent } from '@skillgate/record';
import { FileArchive } from '../src/archive.js';
import { RecorderMetrics } from '../src/metrics.js';
import { RecorderWorker } from '../src/worker.js';

const REDIS_URL = process.env.SKILLGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const identity = { namespace: 'payments', serviceAccount: 'sa', pod: 'pod-1', skill: 'refunds', owner: 'contractor@example.com' };

function draft(sessionId: string, n: number, fingerprint?: string): EventDraft {
  return {
    kind: 'response', sessionId, identity, requestId: `req_${n}`,
    data: { status: 200, headers: {}, stream: false, body: `{"n":${n}}`, ...(fingerprint ? { findings: [{ type: 'EMAIL_ADDRESS', start: 0, end: 5, fingerprint }] } : {}) },
  };
}

describe('the recorder worker', () => {
  let prefix: string;
  let redis: Redis;
  let dir: string;
  beforeEach(() => {
    prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
    redis = new Redis(REDIS_URL);
    dir = mkdtempSync(join(tmpdir(), 'sg-archive-'));
  });
  afterEach(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  });

  async function record(n: number, sessions: string[], fpAt?: number): Promise<SessionEvent[]> {
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    await store.ready();
    // One fixed time: the archive files a session by its events' UTC day, and the tests read one day.
    const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0, now: () => new Date('2026-11-27T12:00:00Z') });
    const out = await Promise.all(Array.from({ length: n }, (_, i) => recorder.append(draft(sessions[i % sessions.length]!, i, i === fpAt ? 'f'.repeat(64) : undefined))));
    await recorder.close();
    await store.close();
    return out;
  }

  async function drain(worker: RecorderWorker): Promise<void> {
    while ((await worker.runOnce(false)) > 0) { /* until a round finds nothing */ }
  }

  it('archives every event in order, acknowledges them, indexes them, and the archive verifies', async () => {
    await record(120, ['ses_a', 'ses_b', 'ses_c'], 7);
    const archive = await FileArchive.open(dir);
    const metrics = new RecorderMetrics();
    const conn = new Redis(REDIS_URL);
    const worker = new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive, metrics });
    await drain(worker);
    expect((await archive.readSession('ses_a')).map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const pending = (await redis.call('XPENDING', `${prefix}ns:payments`, 'skillgate-recorder')) as [number];
    expect(pending[0]).toBe(0);
    expect((await metrics.registry.getSingleMetricAsString('skillgate_recorder_events_archived_total'))).toMatch(/ 120$/m);
    expect(archive.index.byFingerprint('f'.repeat(64))).toEqual([expect.objectContaining({ sessionId: 'ses_b', seq: 2, kind: 'response', requestId: 'req_7' })]);
    expect((await archive.listSessions({ skill: 'refunds' })).map((s) => s.sessionId).sort()).toEqual(['ses_a', 'ses_b', 'ses_c']);
    expect(await verifyRecord(archive)).toMatchObject({ ok: true, checkpoints: { count: 1 } });
    // A second worker round archives nothing twice.
    await drain(worker);
    expect(await archive.readSession('ses_a')).toHaveLength(40);
    await archive.close();
    await conn.quit();
  });

  it('archives the events writers kept aside after chain conflicts, once, where verify lists them', async () => {
    const [first] = await record(1, ['ses_k']);
    const rival = sealEventJson(draft('ses_k', 99), headOf(first!)); // seq 1 of another writer
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    await store.keepAside([rival], 'pod-2/9/x', '2026-11-27T03:00:00.000Z');
    await store.close();
    const archive = await FileArchive.open(dir);
    const conn = new Redis(REDIS_URL);
    const metrics = new RecorderMetrics();
    const worker = new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive, metrics });
    await drain(worker);
    await drain(worker);
    expect(await metrics.registry.getSingleMetricAsString('skillgate_recorder_kept_aside_archived_total')).toMatch(/ 1$/m);
    expect(await archive.keptAside()).toEqual([{ event: rival.event, writer: 'pod-2/9/x', keptAt: '2026-11-27T03:00:00.000Z' }]);
    expect(((await redis.call('XPENDING', `${prefix}conflicts`, 'skillgate-recorder')) as [number])[0]).toBe(0);
    expect(await verifyRecord(archive)).toMatchObject({ ok: true, keptAside: [{ sessionId: 'ses_k', events: 1, seqs: [1, 1], writers: ['pod-2/9/x'] }] });
    await archive.close();
    await conn.quit();
  });

  it('makes verify name the event when one archived event is altered', async () => {
    await record(10, ['ses_t']);
    const archive = await FileArchive.open(dir);
    const conn = new Redis(REDIS_URL);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    const day = readdirSync(join(dir, 'sessions'))[0]!;
    const file = join(dir, 'sessions', day, 'ses_t.jsonl');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    lines[4] = lines[4]!.replace('{\\"n\\":4}', '{\\"n\\":44}');
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect((await verifyRecord(archive)).firstProblem).toMatchObject({ kind: 'altered', sessionId: 'ses_t', seq: 4 });
    await archive.close();
    await conn.quit();
  });

  it('makes verify name the events cut from the end of an archived session, by the head its index recorded', async () => {
    await record(6, ['ses_cut']);
    const archive = await FileArchive.open(dir);
    const conn = new Redis(REDIS_URL);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    await archive.close();
    // The last event's line gone, and with it every checkpoint that would show it.
    const day = readdirSync(join(dir, 'sessions'))[0]!;
    const file = join(dir, 'sessions', day, 'ses_cut.jsonl');
    writeFileSync(file, `${readFileSync(file, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n')}\n`);
    writeFileSync(join(dir, 'checkpoints.jsonl'), '');
    const reread = await FileArchive.openForReading(dir);
    expect((await verifyRecord(reread)).firstProblem).toMatchObject({ kind: 'missing', sessionId: 'ses_cut', seq: 5 });
    await reread.close();
    await conn.quit();
  });

  it('archives after a line a crash left torn, without losing the next events', async () => {
    await record(4, ['ses_torn']);
    const conn = new Redis(REDIS_URL);
    let archive = await FileArchive.open(dir);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    await archive.close();
    const day = readdirSync(join(dir, 'sessions'))[0]!;
    writeFileSync(join(dir, 'sessions', day, 'ses_torn.jsonl'), '{"data":{"bod', { flag: 'a' });
    writeFileSync(join(dir, 'index', 'index.jsonl'), '{"t":"f","fp":', { flag: 'a' });
    // The session goes on (its writer reads its head back from Redis), and the recorder restarts.
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0, now: () => new Date('2026-11-27T12:00:00Z') });
    for (let i = 4; i < 7; i++) await recorder.append(draft('ses_torn', i, i === 5 ? 'e'.repeat(64) : undefined));
    await recorder.close();
    await store.close();
    archive = await FileArchive.open(dir);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    expect((await archive.readSession('ses_torn')).map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(archive.index.byFingerprint('e'.repeat(64))).toEqual([expect.objectContaining({ sessionId: 'ses_torn', seq: 5 })]);
    expect((await verifyRecord(archive)).ok).toBe(true);
    await archive.close();
    await conn.quit();
  });

  it('archives each public key under its own id only, and never replaces one it holds', async () => {
    await record(3, ['ses_keys']);
    const conn = new Redis(REDIS_URL);
    const archive = await FileArchive.open(dir);
    const worker = new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive });
    await drain(worker);
    const [keyId, pem] = Object.entries(await redis.hgetall(`${prefix}keys`))[0]!;
    expect(readFileSync(join(dir, 'keys', `${keyId}.pem`), 'utf8')).toBe(pem);
    // Redis altered: the signing key's id now holds another key, and a new id a key that is not its own.
    const other = RecordSigner.generate();
    await redis.hset(`${prefix}keys`, keyId, other.publicKeyPem, 'ed25519-0000000000000000', other.publicKeyPem);
    await worker.runOnce(false);
    expect(readFileSync(join(dir, 'keys', `${keyId}.pem`), 'utf8')).toBe(pem);
    expect(readdirSync(join(dir, 'keys'))).toEqual([`${keyId}.pem`]);
    expect((await verifyRecord(archive)).ok).toBe(true);
    // From Redis itself, the swapped key no longer signs its checkpoints: verify says so.
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    expect((await verifyRecord(store)).firstProblem).toMatchObject({ kind: 'checkpoint-signature' });
    expect((await verifyRecord(store)).firstProblem!.message).toMatch(/the public key held under that id is another key/);
    await store.close();
    await archive.close();
    await conn.quit();
  });

  it('holds the store against its archive: a chain cut back with its checkpoints deleted verifies from Redis alone, not against the archive', async () => {
    await record(12, ['ses_rb']);
    const conn = new Redis(REDIS_URL);
    const archive = await FileArchive.open(dir);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    // Untouched, and with events the archive has not taken yet (it lags the store): no alarm.
    const more = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0, now: () => new Date('2026-11-27T12:00:00Z') });
    await more.append(draft('ses_rb', 12));
    await more.close();
    expect((await verifyRecord(store, { against: archive })).ok).toBe(true);
    // Someone with write access to Redis cuts the session back to seq 4 and deletes every checkpoint.
    const events = await store.readSession('ses_rb');
    const idx = `${prefix}session:ses_rb:idx`;
    const ids = await redis.lrange(idx, 0, -1);
    await redis.xdel(`${prefix}ns:payments`, ...ids.slice(5));
    await redis.ltrim(idx, 0, 4);
    await redis.hset(`${prefix}session:ses_rb`, 'seq', '4', 'hash', events[4]!.hash, 'lastTs', String(Date.parse(events[4]!.ts)));
    await redis.del(`${prefix}checkpoints`, `${prefix}checkpoints:writers`);
    expect((await verifyRecord(store)).ok).toBe(true); // the store alone cannot tell
    const held = await verifyRecord(store, { against: archive });
    expect(held.ok).toBe(false);
    expect(held.sessions).toEqual([expect.objectContaining({ sessionId: 'ses_rb', ok: false, problem: expect.objectContaining({ kind: 'missing', seq: 5 }) })]);
    expect(held.sessions[0]!.problem!.message).toMatch(/event seq 5\.\.11 of session ses_rb is in archive .* but not in the store: the store's chain was cut back/);
    await store.close();
    await archive.close();
    await conn.quit();
  });

  it('holds the store\'s checkpoints against the archive\'s: the newest of a writer deleted from Redis fails', async () => {
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    await store.ready();
    const signer = RecordSigner.generate();
    let at = Date.parse('2026-11-27T12:00:00Z');
    const recorder = await SessionRecorder.open({ store, signer, checkpointIntervalMs: 0, now: () => new Date(at) });
    for (let i = 0; i < 3; i++) {
      await recorder.append(draft('ses_cp', i));
      at += 1000;
      await recorder.checkpoint();
    }
    await recorder.close();
    const conn = new Redis(REDIS_URL);
    const archive = await FileArchive.open(dir);
    await drain(new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive }));
    expect((await verifyRecord(store, { against: archive })).ok).toBe(true);
    // The newest checkpoint deleted, and the writer's record of it set back: Redis alone reads as intact.
    const entries = (await redis.xrange(`${prefix}checkpoints`, '-', '+')) as Array<[string, string[]]>;
    const [lastId, lastFields] = entries.at(-1)!;
    const newest = JSON.parse(lastFields[lastFields.indexOf('c') + 1]!) as { writer: string; seq: number };
    await redis.xdel(`${prefix}checkpoints`, lastId);
    await redis.hset(`${prefix}checkpoints:writers`, newest.writer, `${newest.seq - 1}:0`);
    expect((await verifyRecord(store)).checkpoints.problem).toBeUndefined();
    expect((await verifyRecord(store, { against: archive })).checkpoints.problem).toMatchObject({ kind: 'checkpoint-missing', checkpoint: `${newest.writer}#${newest.seq}` });
    await store.close();
    await archive.close();
    await conn.quit();
  });

  it('reclaims entries a crashed consumer read but never acknowledged, and archives them once', async () => {
    await record(30, ['ses_x']);
    const conn = new Redis(REDIS_URL);
    // Consumer "crashed" reads the entries (they become pending for it) and dies before archiving.
    const crashed = new RecorderWorker({ redis: conn, prefix, consumer: 'crashed', archive: await FileArchive.open(mkdtempSync(join(tmpdir(), 'sg-lost-'))) });
    await crashed.streams();
    await conn.call('XREADGROUP', 'GROUP', 'skillgate-recorder', 'crashed', 'COUNT', '1000', 'STREAMS', `${prefix}ns:payments`, '>');
    const archive = await FileArchive.open(dir);
    const metrics = new RecorderMetrics();
    const survivor = new RecorderWorker({ redis: conn, prefix, consumer: 'survivor', archive, metrics, claimIdleMs: 0 });
    await drain(survivor);
    expect((await archive.readSession('ses_x')).map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await metrics.registry.getSingleMetricAsString('skillgate_recorder_entries_claimed_total')).toMatch(/ 3\d$/m);
    const pending = (await redis.call('XPENDING', `${prefix}ns:payments`, 'skillgate-recorder')) as [number];
    expect(pending[0]).toBe(0);
    await archive.close();
    await conn.quit();
  });
});
