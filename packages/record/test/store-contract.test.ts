// One suite, run against both stores: the local file store and Redis Streams must behave the same
// for everything the recorder and the CLI rely on.
import { Redis } from 'ioredis';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headOf, sealEvent, sealEventJson, type ChainHead, type SealedEvent } from '../src/chain.js';
import { RecordSigner, signCheckpoint } from '../src/checkpoint.js';
import type { SessionEvent } from '../src/event.js';
import { FileSessionStore } from '../src/file-store.js';
import { RedisSessionStore } from '../src/redis-store.js';
import { ChainConflictError, type SessionStore } from '../src/store.js';
import { verifyRecord } from '../src/verify.js';
import { buildBundle, verifyBundle } from '../src/bundle.js';
import type { SkillIdentity } from '@skillgate/api';
import { REDIS_URL, deletePrefix, identity, requestDraft, tempDir, uniquePrefix } from './support.js';

interface Harness {
  store: SessionStore;
  /** Tamper with the stored session the way an attacker with write access to that store could. */
  alter(sessionId: string, position: number, change: (e: SessionEvent) => void): Promise<void>;
  remove(sessionId: string, position: number): Promise<void>;
  swap(sessionId: string, a: number, b: number): Promise<void>;
  /** Replace the stored text of an event (its bytes, not a re-serialised value). */
  retext(sessionId: string, position: number, change: (text: string) => string): Promise<void>;
  /** File the session under another identity in the store's listing (what list, find and export --all filter on). */
  relist(sessionId: string, identity: SkillIdentity): Promise<void>;
  /** Take the session out of the store's listing, its events left in place. */
  unlist(sessionId: string): Promise<void>;
  cleanup(): Promise<void>;
}

function fileHarness(): Harness {
  const dir = tempDir('filestore');
  const store = new FileSessionStore(dir);
  const file = (sid: string) => join(dir, 'sessions', `${sid}.jsonl`);
  const lines = (sid: string) => readFileSync(file(sid), 'utf8').trimEnd().split('\n');
  const save = (sid: string, l: string[]) => writeFileSync(file(sid), `${l.join('\n')}\n`);
  return {
    store,
    async alter(sid, pos, change) { const l = lines(sid); const e = JSON.parse(l[pos]!) as SessionEvent; change(e); l[pos] = JSON.stringify(e); save(sid, l); },
    async remove(sid, pos) { const l = lines(sid); l.splice(pos, 1); save(sid, l); },
    async swap(sid, a, b) { const l = lines(sid); [l[a], l[b]] = [l[b]!, l[a]!]; save(sid, l); },
    async retext(sid, pos, change) { const l = lines(sid); l[pos] = change(l[pos]!); save(sid, l); },
    async relist(sid, id) {
      const index = join(dir, 'sessions.jsonl');
      const listed = readFileSync(index, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { sessionId: string; identity: SkillIdentity });
      writeFileSync(index, `${listed.map((l) => JSON.stringify(l.sessionId === sid ? { ...l, identity: id } : l)).join('\n')}\n`);
    },
    async unlist(sid) {
      const index = join(dir, 'sessions.jsonl');
      const kept = readFileSync(index, 'utf8').trimEnd().split('\n').filter((l) => (JSON.parse(l) as { sessionId: string }).sessionId !== sid);
      writeFileSync(index, kept.length ? `${kept.join('\n')}\n` : '');
    },
    async cleanup() { await store.close(); },
  };
}

function redisHarness(): Harness {
  const prefix = uniquePrefix();
  const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
  const redis = new Redis(REDIS_URL);
  const idx = (sid: string) => `${prefix}session:${sid}:idx`;
  const stream = `${prefix}ns:${identity.namespace}`;
  return {
    store,
    // Stream entries are immutable: an attacker deletes the entry, adds a doctored copy, and points the index at it.
    async alter(sid, pos, change) {
      const id = (await redis.lindex(idx(sid), pos))!;
      const [[, fields]] = (await redis.xrange(stream, id, id)) as Array<[string, string[]]>;
      const e = JSON.parse(fields![3]!) as SessionEvent;
      change(e);
      await redis.xdel(stream, id);
      const newId = (await redis.xadd(stream, '*', 's', sid, 'e', JSON.stringify(e)))!;
      await redis.lset(idx(sid), pos, newId);
    },
    async remove(sid, pos) { const id = (await redis.lindex(idx(sid), pos))!; await redis.xdel(stream, id); },
    async swap(sid, a, b) {
      const [ia, ib] = [(await redis.lindex(idx(sid), a))!, (await redis.lindex(idx(sid), b))!];
      await redis.lset(idx(sid), a, ib);
      await redis.lset(idx(sid), b, ia);
    },
    async retext(sid, pos, change) {
      const id = (await redis.lindex(idx(sid), pos))!;
      const [[, fields]] = (await redis.xrange(stream, id, id)) as Array<[string, string[]]>;
      await redis.xdel(stream, id);
      const newId = (await redis.xadd(stream, '*', 's', sid, 'e', change(fields![3]!)))!;
      await redis.lset(idx(sid), pos, newId);
    },
    async relist(sid, id) { await redis.hset(`${prefix}session:${sid}`, 'identity', JSON.stringify(id)); },
    async unlist(sid) { await redis.zrem(`${prefix}sessions`, sid); },
    async cleanup() { await store.close(); await redis.quit(); await deletePrefix(prefix); },
  };
}

async function writeSession(store: SessionStore, sessionId: string, n: number, start = Date.now()): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for (let i = 0; i < n; i++) events.push(sealEvent(requestDraft(sessionId, i), events.length ? headOf(events.at(-1)!) : undefined, new Date(start + i * 1000)));
  await store.append(events.map((event) => ({ type: 'event' as const, event })));
  return events;
}

describe.each([['the local file store', fileHarness], ['the Redis Streams store', redisHarness]])('%s', (_name, make) => {
  let h: Harness;
  beforeEach(() => { h = make(); });
  afterEach(async () => { await h.cleanup(); });

  it('hands back a session in the order appended and knows its head', async () => {
    const events = await writeSession(h.store, 'ses_order', 5);
    expect(await h.store.readSession('ses_order')).toEqual(events);
    expect(await h.store.head('ses_order')).toEqual({ seq: 4, hash: events[4]!.hash, closed: false });
    expect(await h.store.head('ses_unknown')).toBeUndefined();
  });

  it('skips events it already holds, so a spool can be replayed twice', async () => {
    const events = await writeSession(h.store, 'ses_idem', 3);
    await h.store.append(events.map((event) => ({ type: 'event' as const, event })));
    expect(await h.store.readSession('ses_idem')).toHaveLength(3);
  });

  it('refuses, whole and with nothing written, an append whose event would take the place of a different stored one', async () => {
    const events = await writeSession(h.store, 'ses_fork', 2);
    const rival = sealEvent(requestDraft('ses_fork', 99), headOf(events[0]!)); // seq 1, another event
    const next = sealEvent(requestDraft('ses_fork', 100), headOf(rival));
    await expect(h.store.append([{ type: 'event', event: rival }, { type: 'event', event: next }])).rejects.toThrow(ChainConflictError);
    expect(await h.store.readSession('ses_fork')).toEqual(events);
    expect(await h.store.head('ses_fork')).toEqual({ seq: 1, hash: events[1]!.hash, closed: false });
  });

  it('refuses a next event that links to another head than the stored one (another writer\'s chain)', async () => {
    const events = await writeSession(h.store, 'ses_link', 2);
    const rival = sealEvent(requestDraft('ses_link', 99), headOf(events[0]!)); // seq 1 elsewhere
    const next = sealEvent(requestDraft('ses_link', 100), headOf(rival)); // seq 2, after the rival
    await expect(h.store.append([{ type: 'event', event: next }])).rejects.toMatchObject({ name: 'ChainConflictError', sessionId: 'ses_link', seq: 2 });
    expect(await h.store.readSession('ses_link')).toEqual(events);
    // The event that does follow the stored head is taken.
    const follows = sealEvent(requestDraft('ses_link', 101), headOf(events[1]!));
    await h.store.append([{ type: 'event', event: follows }]);
    expect(await h.store.head('ses_link')).toEqual({ seq: 2, hash: follows.hash, closed: false });
  });

  it('refuses an event behind the head that is not the one stored at its seq, and skips one that is', async () => {
    const events = await writeSession(h.store, 'ses_behind', 4);
    const rival = sealEvent(requestDraft('ses_behind', 99), headOf(events[0]!)); // seq 1, another event
    await expect(h.store.append([{ type: 'event', event: rival }])).rejects.toMatchObject({ name: 'ChainConflictError', sessionId: 'ses_behind', seq: 1 });
    await h.store.append([{ type: 'event', event: events[1]! }]); // the same event again: already stored
    expect(await h.store.readSession('ses_behind')).toEqual(events);
  });

  it('takes one batch that interleaves sessions and checkpoints and replays stored events before new ones', async () => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    const a = await writeSession(h.store, 'ses_mix_a', 3);
    let head = headOf(a[2]!);
    for (let i = 3; i < 6; i++) { a.push(sealEvent(requestDraft('ses_mix_a', i), head)); head = headOf(a[i]!); }
    const b = [sealEvent(requestDraft('ses_mix_b', 0), undefined)];
    b.push(sealEvent(requestDraft('ses_mix_b', 1), headOf(b[0]!)));
    b.push(sealEvent({ kind: 'session_close', sessionId: 'ses_mix_b', identity, data: { reason: 'explicit', head: '', events: 0 } }, headOf(b[1]!)));
    const cp = signCheckpoint(signer, 'w-mix', undefined, [{ sessionId: 'ses_mix_a', seq: 2, hash: a[2]!.hash }]);
    const ev = (e: SessionEvent) => ({ type: 'event' as const, event: e });
    // a1 and a2 are stored already: skipped; the rest lands in order, each session on its own chain.
    await h.store.append([ev(a[1]!), ev(a[2]!), ev(a[3]!), ev(b[0]!), ev(a[4]!), { type: 'checkpoint', checkpoint: cp }, ev(b[1]!), ev(b[2]!), ev(a[5]!)]);
    expect(await h.store.readSession('ses_mix_a')).toEqual(a);
    expect(await h.store.readSession('ses_mix_b')).toEqual(b);
    expect(await h.store.head('ses_mix_a')).toEqual({ seq: 5, hash: a[5]!.hash, closed: false });
    expect(await h.store.head('ses_mix_b')).toEqual({ seq: 2, hash: b[2]!.hash, closed: true });
    expect(await h.store.checkpoints()).toEqual([cp]);
    expect((await verifyRecord(h.store)).ok).toBe(true);
  });

  it('refuses a batch whole when an event after others of its session takes another\'s place', async () => {
    const events = await writeSession(h.store, 'ses_run', 3);
    const rival = sealEvent(requestDraft('ses_run', 99), headOf(events[1]!)); // seq 2, another event
    const next = sealEvent(requestDraft('ses_run', 100), headOf(rival));
    const other = sealEvent(requestDraft('ses_run_other', 0), undefined);
    const batch = [events[1]!, rival, next].map((event) => ({ type: 'event' as const, event }));
    await expect(h.store.append([{ type: 'event', event: other }, ...batch])).rejects.toMatchObject({ name: 'ChainConflictError', sessionId: 'ses_run', seq: 2 });
    expect(await h.store.readSession('ses_run')).toEqual(events);
    expect(await h.store.readSession('ses_run_other')).toEqual([]);
  });

  it('keeps events aside outside their chain, as sealed, for verify to list without failing the chain', async () => {
    const events = await writeSession(h.store, 'ses_aside', 2);
    const rival = sealEventJson(requestDraft('ses_aside', 99), headOf(events[0]!)); // seq 1 of another writer
    const after = sealEventJson(requestDraft('ses_aside', 100), headOf(rival.event));
    await h.store.keepAside!([rival, { event: after.event }], 'pod-b/7', '2026-11-27T03:00:00.000Z');
    expect(await h.store.keptAside!()).toEqual([
      { event: rival.event, writer: 'pod-b/7', keptAt: '2026-11-27T03:00:00.000Z' },
      { event: after.event, writer: 'pod-b/7', keptAt: '2026-11-27T03:00:00.000Z' },
    ]);
    expect(await h.store.readSession('ses_aside')).toEqual(events); // the chain untouched
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(true);
    expect(report.keptAside).toEqual([{ sessionId: 'ses_aside', events: 2, seqs: [1, 2], writers: ['pod-b/7'] }]);
    // Asked about another session only, verify does not list them.
    await writeSession(h.store, 'ses_other', 1);
    expect((await verifyRecord(h.store, { sessionIds: ['ses_other'] })).keptAside).toBeUndefined();
  });

  it('keeps the text an event was sealed with, which reads back as the same event and verifies', async () => {
    let head: ChainHead | undefined;
    const sealed: SealedEvent[] = [];
    for (let i = 0; i < 3; i++) {
      const s = sealEventJson(requestDraft('ses_text', i), head);
      sealed.push(s);
      head = headOf(s.event);
    }
    await h.store.append(sealed.map(({ event, json }) => ({ type: 'event' as const, event, json })));
    expect(await h.store.readSession('ses_text')).toEqual(sealed.map((s) => s.event));
    expect((await verifyRecord(h.store)).ok).toBe(true);
  });

  it('records the identity of a session whose first stored event is not its first (retention dropped the rest)', async () => {
    const other = { ...identity, pod: 'pod-ü/2"x' };
    const event = sealEvent({ kind: 'egress', sessionId: 'ses_tail', identity: other, data: { destination: 'a:1', method: 'GET', allowed: true } }, { seq: 1, hash: 'a'.repeat(64), closed: false });
    await h.store.append([{ type: 'event', event }]);
    expect(await h.store.listSessions()).toEqual([expect.objectContaining({ sessionId: 'ses_tail', identity: other, events: 3 })]);
  });

  it('holds events sealed by the first implementation, and verify passes on them', async () => {
    const fixture = readFileSync(new URL('../../test/fixtures/v0-session.jsonl', import.meta.url), 'utf8');
    const events = fixture.trimEnd().split('\n').map((l) => JSON.parse(l) as SessionEvent);
    await h.store.append(events.map((event) => ({ type: 'event' as const, event })));
    expect(await h.store.readSession('ses_v0_fixture')).toEqual(events);
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(true);
  });

  it('lists sessions filtered by skill, owner, namespace and time', async () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    await writeSession(h.store, 'ses_a', 2, t);
    const other = { ...identity, skill: 'billing', owner: 'alice@example.com' };
    await h.store.append([{ type: 'event', event: sealEvent(requestDraft('ses_b', 1, other), undefined, new Date(t + 3_600_000)) }]);
    expect((await h.store.listSessions()).map((s) => s.sessionId).sort()).toEqual(['ses_a', 'ses_b']);
    expect((await h.store.listSessions({ skill: 'billing' })).map((s) => s.sessionId)).toEqual(['ses_b']);
    expect((await h.store.listSessions({ owner: 'contractor@example.com' })).map((s) => s.sessionId)).toEqual(['ses_a']);
    expect((await h.store.listSessions({ owner: 'Contractor@Example.com' })).map((s) => s.sessionId)).toEqual(['ses_a']); // an email, whatever its case
    expect((await h.store.listSessions({ namespace: 'nope' }))).toEqual([]);
    expect((await h.store.listSessions({ since: new Date(t + 1_800_000) })).map((s) => s.sessionId)).toEqual(['ses_b']);
    expect((await h.store.listSessions({ until: new Date(t + 1_800_000) })).map((s) => s.sessionId)).toEqual(['ses_a']);
    const [a] = await h.store.listSessions({ skill: 'refunds' });
    expect(a).toMatchObject({ sessionId: 'ses_a', events: 2, identity, closed: false, firstTs: new Date(t).toISOString(), lastTs: new Date(t + 1000).toISOString() });
  });

  it('keeps checkpoints and public keys, and verify passes on an untouched record', async () => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    const events = await writeSession(h.store, 'ses_cp', 4);
    const cp = signCheckpoint(signer, 'w', undefined, [{ sessionId: 'ses_cp', seq: 3, hash: events[3]!.hash }]);
    await h.store.append([{ type: 'checkpoint', checkpoint: cp }]);
    expect(await h.store.checkpoints()).toEqual([cp]);
    expect(await h.store.publicKeys()).toEqual({ [signer.keyId]: signer.publicKeyPem });
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(true);
  });

  it('stores a checkpoint once however often it is appended (a spool replayed after a write that landed late)', async () => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    const events = await writeSession(h.store, 'ses_cp2', 2);
    const first = signCheckpoint(signer, 'w2', undefined, [{ sessionId: 'ses_cp2', seq: 1, hash: events[1]!.hash }]);
    const second = signCheckpoint(signer, 'w2', first, [{ sessionId: 'ses_cp2', seq: 1, hash: events[1]!.hash }]);
    await h.store.append([{ type: 'checkpoint', checkpoint: first }]);
    await h.store.append([{ type: 'checkpoint', checkpoint: first }, { type: 'checkpoint', checkpoint: second }]);
    await h.store.append([{ type: 'checkpoint', checkpoint: second }]);
    expect(await h.store.checkpoints()).toEqual([first, second]);
    expect((await verifyRecord(h.store)).ok).toBe(true);
  });

  it.each([
    ['altered', (x: Harness) => x.alter('ses_t', 2, (e) => { (e.data as { body?: string }).body = '{"n":"changed"}'; }), { kind: 'altered', seq: 2 }],
    ['deleted', (x: Harness) => x.remove('ses_t', 2), { kind: 'missing', seq: 2 }],
    ['reordered', (x: Harness) => x.swap('ses_t', 1, 2), { kind: 'reordered', seq: 1 }],
    ['the last one deleted', (x: Harness) => x.remove('ses_t', 4), { kind: 'missing', seq: 4 }],
  ])('makes verify fail and name the event when one event is %s', async (_what, tamper, expected) => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    const events = await writeSession(h.store, 'ses_t', 5);
    await h.store.append([{ type: 'checkpoint', checkpoint: signCheckpoint(signer, 'w', undefined, [{ sessionId: 'ses_t', seq: 4, hash: events[4]!.hash }]) }]);
    await tamper(h);
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ sessionId: 'ses_t', ...expected });
  });

  it('names an event whose stored text is not the canonical text it was sealed as, though its value hashes right', async () => {
    const events = await writeSession(h.store, 'ses_dup', 3);
    expect((await verifyRecord(h.store)).ok).toBe(true);
    // A member named twice: JSON.parse keeps the last (the sealed value), a reader keeping the first sees "deny".
    await h.retext('ses_dup', 1, (text) => text.replace('{"data":', '{"data":{"action":"deny"},"data":'));
    const [, second] = await h.store.readSession('ses_dup');
    expect(second).toEqual(events[1]); // the same value as sealed
    const report = await verifyRecord(h.store);
    expect(report.firstProblem).toMatchObject({ kind: 'altered', sessionId: 'ses_dup', seq: 1 });
    expect(report.firstProblem!.message).toMatch(/stored text is not the canonical text it was sealed as/);
  });

  it('names a session its listing files under another identity (hidden from list, find and export --all by skill)', async () => {
    await writeSession(h.store, 'ses_misfiled', 3);
    await h.relist('ses_misfiled', { ...identity, skill: 'weather-bot' });
    expect(await h.store.listSessions({ skill: identity.skill })).toEqual([]);
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'misfiled', sessionId: 'ses_misfiled' });
    // Named, as `sessions verify SID` and the export's check name it, too.
    expect((await verifyRecord(h.store, { sessionIds: ['ses_misfiled'] })).firstProblem).toMatchObject({ kind: 'misfiled' });
  });

  it('names a session taken out of its listing (hidden from list, find and export --all), signed or not', async () => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    await writeSession(h.store, 'ses_kept', 2);
    const signed = await writeSession(h.store, 'ses_hidden_signed', 3);
    await h.store.append([{ type: 'checkpoint', checkpoint: signCheckpoint(signer, 'w-hide', undefined, [{ sessionId: 'ses_hidden_signed', seq: 2, hash: signed[2]!.hash }]) }]);
    await writeSession(h.store, 'ses_hidden_young', 2); // no checkpoint yet: found by the store's own keys or files
    await h.unlist('ses_hidden_signed');
    await h.unlist('ses_hidden_young');
    expect((await h.store.listSessions()).map((s) => s.sessionId)).toEqual(['ses_kept']);
    const report = await verifyRecord(h.store);
    expect(report.ok).toBe(false);
    const verdicts = new Map(report.sessions.map((v) => [v.sessionId, v]));
    expect(verdicts.get('ses_kept')?.ok).toBe(true);
    for (const sid of ['ses_hidden_signed', 'ses_hidden_young']) {
      expect(verdicts.get(sid)?.problem).toMatchObject({ kind: 'misfiled', sessionId: sid });
      expect(verdicts.get(sid)?.problem?.message).toMatch(/not in the store's listing/);
    }
    expect((await verifyRecord(h.store, { sessionIds: ['ses_hidden_young'] })).firstProblem).toMatchObject({ kind: 'misfiled' });
  });

  it('does not call a session unlisted that began after the listing was read', async () => {
    await writeSession(h.store, 'ses_new', 2);
    let reads = 0;
    // The first listing is read before the session's first event was written.
    const reader = Object.assign(Object.create(h.store) as SessionStore, {
      listSessions: async () => (await h.store.listSessions()).filter((s) => reads++ > 0 || s.sessionId !== 'ses_new'),
    });
    const report = await verifyRecord(reader, { sessionIds: ['ses_new'] });
    expect(report).toMatchObject({ ok: true });
    expect(reads).toBe(2);
  });

  it('says how far signed checkpoints reach into each session', async () => {
    const signer = RecordSigner.generate();
    await h.store.publishKey(signer.keyId, signer.publicKeyPem);
    const events = await writeSession(h.store, 'ses_signed', 4);
    const cp = signCheckpoint(signer, 'w-signed', undefined, [{ sessionId: 'ses_signed', seq: 1, hash: events[1]!.hash }]);
    await h.store.append([{ type: 'checkpoint', checkpoint: cp }]);
    expect((await verifyRecord(h.store)).sessions).toEqual([{ sessionId: 'ses_signed', events: 4, ok: true, signedThrough: 1 }]);
  });

  it('fails a session asked for by name that it does not hold', async () => {
    await writeSession(h.store, 'ses_here', 1);
    const report = await verifyRecord(h.store, { sessionIds: ['ses_here', 'ses_typo'] });
    expect(report.ok).toBe(false);
    expect(report.sessions.find((s) => s.sessionId === 'ses_typo')?.problem?.kind).toBe('unknown-session');
    expect(report.sessions.find((s) => s.sessionId === 'ses_here')?.ok).toBe(true);
  });
});

describe('the Redis Streams store, against its own record of checkpoint writers', () => {
  it('makes verify name a writer\'s last checkpoints when they were deleted', async () => {
    const prefix = uniquePrefix();
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      const signer = RecordSigner.generate();
      await store.publishKey(signer.keyId, signer.publicKeyPem);
      const events = await writeSession(store, 'ses_cp_tail', 3);
      let prev;
      for (let i = 0; i < 3; i++) {
        const cp = signCheckpoint(signer, 'w-tail', prev, [{ sessionId: 'ses_cp_tail', seq: i, hash: events[i]!.hash }]);
        await store.append([{ type: 'checkpoint', checkpoint: cp }]);
        prev = cp;
      }
      expect((await verifyRecord(store)).ok).toBe(true);
      const [[lastId]] = (await redis.xrevrange(`${prefix}checkpoints`, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      await redis.xdel(`${prefix}checkpoints`, lastId!);
      const report = await verifyRecord(store);
      expect(report.ok).toBe(false);
      expect(report.firstProblem).toMatchObject({ kind: 'checkpoint-missing', checkpoint: 'w-tail#2' });
    } finally {
      await store.close();
      redis.disconnect();
      await deletePrefix(prefix);
    }
  });
});

describe('the Redis Streams store, against its own heads', () => {
  it('makes verify name the events deleted from the end of a chain no checkpoint has signed yet', async () => {
    const h = redisHarness();
    try {
      await writeSession(h.store, 'ses_tail_cut', 4);
      await h.remove('ses_tail_cut', 3);
      await h.remove('ses_tail_cut', 2);
      const report = await verifyRecord(h.store);
      expect(report.ok).toBe(false);
      expect(report.firstProblem).toMatchObject({ kind: 'missing', sessionId: 'ses_tail_cut', seq: 2 });
    } finally {
      await h.cleanup();
    }
  });
});

describe('the local file store', () => {
  it('cuts a torn last line left by a crash mid-write before it appends, so the next event is not lost with it', async () => {
    const dir = tempDir('torn-append');
    const store = new FileSessionStore(dir);
    const events = await writeSession(store, 'ses_torn_append', 2);
    await store.close();
    appendFileSync(join(dir, 'sessions', 'ses_torn_append.jsonl'), '{"v":1,"kind":"requ');
    const reopened = new FileSessionStore(dir);
    const next = sealEvent(requestDraft('ses_torn_append', 2), headOf(events[1]!));
    await reopened.append([{ type: 'event', event: next }]);
    expect(await reopened.readSession('ses_torn_append')).toEqual([...events, next]);
    expect((await verifyRecord(reopened)).ok).toBe(true);
    await reopened.close();
  });

  it('names a session in its index with the next append when a crash left its file unnamed there', async () => {
    const dir = tempDir('unindexed');
    const store = new FileSessionStore(dir);
    await writeSession(store, 'ses_other', 1);
    const events = await writeSession(store, 'ses_unindexed', 2, Date.parse('2026-11-28T09:00:00.000Z'));
    await store.close();
    // The session file was written, then the process died before the index line naming it.
    const index = join(dir, 'sessions.jsonl');
    writeFileSync(index, readFileSync(index, 'utf8').split('\n').filter((l) => !l.includes('ses_unindexed')).join('\n'));
    const reopened = new FileSessionStore(dir);
    expect((await reopened.listSessions()).map((s) => s.sessionId)).toEqual(['ses_other']);
    expect((await verifyRecord(reopened)).firstProblem).toMatchObject({ kind: 'misfiled', sessionId: 'ses_unindexed' });
    // The spool replays the last batch (already stored), or the session goes on: either names it, once.
    await reopened.append(events.map((event) => ({ type: 'event' as const, event })));
    expect(await reopened.listSessions()).toEqual([ // by first time
      expect.objectContaining({ sessionId: 'ses_unindexed', firstTs: '2026-11-28T09:00:00.000Z', events: 2 }),
      expect.objectContaining({ sessionId: 'ses_other' }),
    ]);
    await reopened.append([{ type: 'event', event: sealEvent(requestDraft('ses_unindexed', 2), headOf(events[1]!)) }]);
    expect(readFileSync(index, 'utf8').split('\n').filter((l) => l.includes('ses_unindexed'))).toHaveLength(1); // named once
    expect((await verifyRecord(reopened)).ok).toBe(true);
    await reopened.close();
  });

  it('holds no session in a file a crash left empty or with a torn first line (verify --all is not failed by it)', async () => {
    const dir = tempDir('crash-leftovers');
    const store = new FileSessionStore(dir);
    await writeSession(store, 'ses_whole', 2);
    await store.close();
    writeFileSync(join(dir, 'sessions', 'ses_empty.jsonl'), '');
    writeFileSync(join(dir, 'sessions', 'ses_torn_first.jsonl'), '{"v":1,"kind":"requ');
    const reopened = new FileSessionStore(dir);
    expect(await reopened.heldSessions()).toEqual(['ses_whole']);
    expect(await verifyRecord(reopened)).toMatchObject({ ok: true });
    await reopened.close();
  });

  it('ignores a torn last line left by a crash mid-write', async () => {
    const dir = tempDir('torn');
    const store = new FileSessionStore(dir);
    const events = await writeSession(store, 'ses_torn', 2);
    await store.close();
    appendFileSync(join(dir, 'sessions', 'ses_torn.jsonl'), '{"v":1,"kind":"requ');
    const reopened = new FileSessionStore(dir);
    expect(await reopened.readSession('ses_torn')).toEqual(events);
    expect(await reopened.head('ses_torn')).toMatchObject({ seq: 1 });
    await reopened.close();
  });

  it('refuses a session id that could escape its directory', async () => {
    const store = new FileSessionStore(tempDir('escape'));
    await expect(store.readSession('../../etc/passwd')).rejects.toThrow(/not a session id/);
  });
});

describe('the Redis Streams store, with retention', () => {
  it('caps the namespace stream (MAXLEN ~) and expires a session\'s index and head after the maximum age', async () => {
    const prefix = uniquePrefix();
    const redis = new Redis(REDIS_URL);
    const capped = new RedisSessionStore({ redis: REDIS_URL, prefix, retention: { maxLen: 10 } });
    const aged = new RedisSessionStore({ redis: REDIS_URL, prefix: `${prefix}aged:`, retention: { maxAgeMs: 60_000 } });
    try {
      // Trimming is approximate (whole nodes of 100 entries): well past it, most are gone.
      for (let i = 0; i < 3; i++) await writeSession(capped, `ses_cap_${i}`, 150);
      expect(await redis.xlen(`${prefix}ns:${identity.namespace}`)).toBeLessThan(450);
      await writeSession(aged, 'ses_aged', 2);
      for (const key of [`${prefix}aged:session:ses_aged`, `${prefix}aged:session:ses_aged:idx`]) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await aged.readSession('ses_aged')).toHaveLength(2);
    } finally {
      await capped.close();
      await aged.close();
      await redis.quit();
      await deletePrefix(prefix);
    }
  });
});

describe('the Redis Streams store, trimmed by its retention', () => {
  it('verifies a session from the first event retention kept, and still names an event deleted after it', async () => {
    const prefix = uniquePrefix();
    const redis = new Redis(REDIS_URL);
    const capped = new RedisSessionStore({ redis: REDIS_URL, prefix, retention: { maxLen: 50 } });
    const stream = `${prefix}ns:${identity.namespace}`;
    try {
      // One session of 400 events, appended a few at a time (XADD MAXLEN ~ trims whole nodes from the start).
      let head: ChainHead | undefined;
      for (let i = 0; i < 400; i += 4) {
        const batch: SessionEvent[] = [];
        for (let j = i; j < i + 4; j++) {
          const e = sealEvent(requestDraft('ses_trimmed', j), head);
          head = headOf(e);
          batch.push(e);
        }
        await capped.append(batch.map((event) => ({ type: 'event' as const, event })));
      }
      const kept = await capped.readSession('ses_trimmed');
      const trimmed = await capped.trimmed('ses_trimmed');
      expect(trimmed).toBeGreaterThan(0);
      expect(kept[0]!.seq).toBe(trimmed);
      const report = await verifyRecord(capped);
      expect(report.ok).toBe(true);
      expect(report.sessions).toEqual([{ sessionId: 'ses_trimmed', events: 400 - trimmed, ok: true, trimmed }]);
      // Exported, the bundle says how many retention had removed, and verifies offline.
      const bundle = buildBundle({ source: capped.location, sessions: new Map([['ses_trimmed', kept]]), checkpoints: [], publicKeys: {},
        exporter: RecordSigner.generate(), exporterKeyEphemeral: true, verified: report });
      expect(bundle.manifest.sessions[0]).toMatchObject({ sessionId: 'ses_trimmed', trimmed });
      const offline = verifyBundle(JSON.parse(JSON.stringify(bundle)));
      expect(offline.ok).toBe(true);
      expect(offline.sessions[0]).toMatchObject({ trimmed });
      // An entry deleted from the middle is not retention's doing.
      const idx = `${prefix}session:ses_trimmed:idx`;
      await redis.xdel(stream, (await redis.lindex(idx, 390))!);
      const cut = await verifyRecord(capped);
      expect(cut.firstProblem).toMatchObject({ kind: 'missing', sessionId: 'ses_trimmed', seq: 390 });
      expect(await capped.trimmed('ses_trimmed')).toBe(trimmed);
    } finally {
      await capped.close();
      await redis.quit();
      await deletePrefix(prefix);
    }
  });
});
