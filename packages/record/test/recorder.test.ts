import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '@skillgate/wire';
import { RecordSigner } from '../src/checkpoint.js';
import { FileSessionStore } from '../src/file-store.js';
import { RedisSessionStore } from '../src/redis-store.js';
import { SessionRecorder, type SessionRecorderOptions } from '../src/recorder.js';
import type { SessionEvent } from '../src/event.js';
import { verifyRecord } from '../src/verify.js';
import type { RedisProxy } from '@skillgate/resp/testing';
import { REDIS_URL, deletePrefix, redisProxy, identity, requestDraft, tempDir, uniquePrefix, waitFor } from './support.js';

/** A recorder on `store` with a fresh signer and no timed checkpoints; `options` adds what the test is about. */
function recorderOn(store: SessionRecorderOptions['store'], options: Partial<SessionRecorderOptions> = {}): Promise<SessionRecorder> {
  return SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0, ...options });
}

describe('SessionRecorder on the local store', () => {
  it('seals concurrent appends into one chain per session, in call order, and signs checkpoints of the heads', async () => {
    const store = new FileSessionStore(tempDir('rec'));
    const recorder = await recorderOn(store);
    const appended = await Promise.all(Array.from({ length: 200 }, (_, i) => recorder.append(requestDraft(`ses_${i % 3}`, i))));
    expect(appended.filter((e) => e.sessionId === 'ses_0').map((e) => e.seq)).toEqual(Array.from({ length: 67 }, (_, i) => i));
    const cp = await recorder.checkpoint();
    expect(cp?.heads.map((h) => h.sessionId)).toEqual(['ses_0', 'ses_1', 'ses_2']);
    expect(await recorder.checkpoint()).toBeUndefined(); // nothing changed since
    await recorder.closeSession({ sessionId: 'ses_0', identity, reason: 'idle' });
    await expect(recorder.append(requestDraft('ses_0'))).rejects.toThrow(/closed/);
    await recorder.close();
    const report = await verifyRecord(store);
    expect(report).toMatchObject({ ok: true, checkpoints: { count: 2 } });
    expect(report.sessions.find((s) => s.sessionId === 'ses_0')?.events).toBe(68);
    await store.close();
  });

  it('writes one batch touching more sessions than the store keeps files open', async () => {
    const store = new FileSessionStore(tempDir('wide'));
    const recorder = await recorderOn(store);
    await Promise.all(Array.from({ length: 300 }, (_, i) => recorder.append(requestDraft(`ses_wide_${i}`, i), { newSession: true })));
    await recorder.close();
    const report = await verifyRecord(store);
    expect(report).toMatchObject({ ok: true });
    expect(report.sessions).toHaveLength(300);
    await store.close();
  });

  it('continues each chain after a restart from the heads in the store', async () => {
    const dir = tempDir('restart');
    const store1 = new FileSessionStore(dir);
    const r1 = await recorderOn(store1);
    for (let i = 0; i < 3; i++) await r1.append(requestDraft('ses_r', i));
    await r1.close();
    await store1.close();
    const store2 = new FileSessionStore(dir);
    const r2 = await recorderOn(store2);
    expect((await r2.append(requestDraft('ses_r', 3))).seq).toBe(3);
    await r2.close();
    expect(await verifyRecord(store2)).toMatchObject({ ok: true });
    await store2.close();
  });
});

/** The local store, logging each write (its events' request ids) and failing those `failing` names. */
function loggingStore(log: string[], failing: (ids: string[]) => boolean = () => false) {
  const inner = new FileSessionStore(tempDir('writes'));
  let gate: Promise<void> | undefined;
  const store = Object.assign(Object.create(inner) as FileSessionStore, {
    append: async (entries: Parameters<FileSessionStore['append']>[0]) => {
      const ids = entries.flatMap((e) => (e.type === 'event' ? [e.event.requestId ?? ''] : []));
      log.push(`write ${ids.join(',')}`);
      await gate;
      if (failing(ids)) throw new Error('the store went away');
      return inner.append(entries);
    },
  });
  const hold = (): (() => void) => {
    let open!: () => void;
    gate = new Promise<void>((resolve) => { open = resolve; });
    return () => { gate = undefined; open(); };
  };
  return { inner, store, hold };
}

describe('the writer loop', () => {
  it('hands the store the next batch as soon as the last is accepted, before that batch\'s appenders go on', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log);
    const recorder = await recorderOn(store);
    await recorder.append(requestDraft('ses_w', 0), { newSession: true });
    const release = hold();
    const first = recorder.append(requestDraft('ses_w', 1)).then((e) => { log.push('req_1 durable'); return e; });
    await waitFor(() => log.length === 2);
    // Queued while the first is in flight: written once the store has accepted it, not before.
    const next = [recorder.append(requestDraft('ses_w', 2)), recorder.append(requestDraft('ses_other', 3), { newSession: true })];
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['write req_0', 'write req_1']);
    release();
    expect((await first).seq).toBe(1);
    await Promise.all(next);
    expect(log).toEqual(['write req_0', 'write req_1', 'write req_2,req_3', 'req_1 durable']);
    await recorder.close();
    expect((await inner.readSession('ses_w')).map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });

  it('writes a backlog of 64 or more in two halves, the second handed on, and a request\'s few events in one write', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    const recorder = await recorderOn(store);
    await Promise.all(Array.from({ length: 100 }, (_, i) => recorder.append(requestDraft(`ses_b${i % 4}`, i), { newSession: true })));
    const sizes = () => log.map((l) => l.split(',').length);
    expect(sizes()).toEqual([50, 50]);
    await Promise.all(Array.from({ length: 63 }, (_, i) => recorder.append(requestDraft(`ses_b${i % 4}`, 100 + i))));
    expect(sizes()).toEqual([50, 50, 63]);
    await recorder.close();
    expect((await verifyRecord(inner)).sessions.map((x) => x.events)).toEqual([41, 41, 41, 40]);
    await inner.close();
  });

  it('meets another writer\'s chain in a handed-on batch like anywhere: that session\'s request refused, the rest written', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log);
    const a = await recorderOn(store);
    await a.append(requestDraft('ses_c', 0), { newSession: true });
    const b = await recorderOn(inner); // another writer stores ses_c's seq 1 meanwhile
    await b.append(requestDraft('ses_c', 1));
    await b.close();
    const release = hold();
    const first = a.append(requestDraft('ses_x', 2), { newSession: true });
    await waitFor(() => log.length === 2);
    const conflicting = a.append(requestDraft('ses_c', 3)).catch((err: unknown) => err);
    const bystander = a.append(requestDraft('ses_y', 4), { newSession: true });
    release();
    expect((await first).seq).toBe(0);
    expect(await conflicting).toMatchObject({ message: expect.stringMatching(/moved on/) });
    expect((await bystander).seq).toBe(0);
    expect(log).toEqual(['write req_0', 'write req_2', 'write req_3,req_4', 'write req_4']);
    expect((await a.append(requestDraft('ses_c', 5))).seq).toBe(2); // on the stored chain
    await a.close();
    expect((await inner.readSession('ses_c')).map((e) => e.requestId)).toEqual(['req_0', 'req_1', 'req_5']);
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });

  it('handles a handed-on batch the store fails like any other: refused, the chain kept whole, and the next append continues it', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log, (ids) => ids.includes('req_2'));
    const recorder = await recorderOn(store); // no spool: a store failure refuses
    await recorder.append(requestDraft('ses_f', 0), { newSession: true });
    const release = hold();
    const first = recorder.append(requestDraft('ses_f', 1));
    await waitFor(() => log.length === 2);
    const refused = recorder.append(requestDraft('ses_f', 2)).catch((err: unknown) => err);
    release();
    expect((await first).seq).toBe(1);
    expect(await refused).toBeInstanceOf(GatewayError);
    expect(log).toEqual(['write req_0', 'write req_1', 'write req_2']);
    expect((await recorder.append(requestDraft('ses_f', 3))).seq).toBe(2); // on top of req_1, the last durable
    await recorder.close();
    expect((await inner.readSession('ses_f')).map((e) => e.requestId)).toEqual(['req_0', 'req_1', 'req_3']);
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });
});

describe('a write that lands after the recorder gave up on it', () => {
  it('never lets a later event pass as durable in its place: that event is refused (and no other session\'s), and the chain goes on from the store', async () => {
    const inner = new FileSessionStore(tempDir('late'));
    // The first write is stored, but only once the recorder has given up on it (its store timeout).
    // The timeout is generous: every later write (fsync'd) must beat it, also on a busy CI machine.
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let landed: Promise<void> | undefined;
    const store = Object.assign(Object.create(inner) as FileSessionStore, {
      append: (entries: Parameters<FileSessionStore['append']>[0]) => {
        if (landed) return inner.append(entries);
        landed = released.then(() => inner.append(entries));
        return landed;
      },
    });
    const recorder = await recorderOn(store, { storeTimeoutMs: 1000 });
    await expect(recorder.append(requestDraft('ses_late', 1))).rejects.toThrow(GatewayError); // refused: not forwarded
    release();
    await landed; // ...but it landed
    // Written in one batch with another session's event: only the conflicting session's is refused.
    const [second, other] = await Promise.allSettled([recorder.append(requestDraft('ses_late', 2)), recorder.append(requestDraft('ses_bystander', 9), { newSession: true })]);
    expect(second).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/moved on/) }) });
    expect(other).toMatchObject({ status: 'fulfilled', value: expect.objectContaining({ seq: 0 }) });
    expect((await inner.readSession('ses_bystander')).map((e) => e.requestId)).toEqual(['req_9']);
    const third = await recorder.append(requestDraft('ses_late', 3));
    expect(third.seq).toBe(1);
    expect((await inner.readSession('ses_late')).map((e) => e.requestId)).toEqual(['req_1', 'req_3']);
    await recorder.close();
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });
});

describe('a chain conflict (another writer holds the place)', () => {
  /** Recorder `a` with head at seq 0 of `ses_c`, while writer `b` has stored seq 1 meanwhile. */
  async function forkedUnder(options: Partial<SessionRecorderOptions>) {
    const store = new FileSessionStore(tempDir('conflict'));
    const a = await recorderOn(store, { lingerMs: 60_000, ...options });
    const first = await a.append(requestDraft('ses_c', 0), { newSession: true });
    const b = await recorderOn(store);
    const theirs = await b.append(requestDraft('ses_c', 1));
    await b.close();
    return { store, a, stored: [first, theirs] };
  }

  it('keeps aside the events nobody waited for (what already happened), refuses the request, and goes on from the stored chain', async () => {
    const spoolDir = tempDir('conflict-spool');
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_obj: object, msg: string) => { warnings.push(msg); } };
    const { store, a, stored } = await forkedUnder({ spool: { dir: spoolDir, maxBytes: 1024 * 1024 }, log });
    // One batch: an answer already given (lingering) and the next request (awaited), both sealed on seq 0.
    const answer = a.append(requestDraft('ses_c', 2), { linger: true });
    const next = a.append(requestDraft('ses_c', 3));
    await expect(next).rejects.toThrow(/moved on/); // not forwarded: the skill retries
    const kept = await answer; // resolves: kept, not lost
    expect(kept.seq).toBe(1);
    const aside = readFileSync(join(spoolDir, 'conflicts.jsonl'), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { event: SessionEvent }).event);
    expect(aside).toEqual([kept]);
    expect(a.stats()).toMatchObject({ quarantined: 1, refused: 1 });
    expect(warnings.filter((m) => /kept aside/.test(m))).toHaveLength(1);
    expect((await store.readSession('ses_c')).map((e) => e.hash)).toEqual(stored.map((e) => e.hash)); // the stored chain untouched
    expect((await a.append(requestDraft('ses_c', 4))).seq).toBe(2); // continues the stored chain
    await a.close();
    // The store keeps them aside too (beyond the pod's spool volume), and verify lists them.
    expect(await store.keptAside()).toEqual([{ event: kept, writer: a.writer, keptAt: expect.any(String) }]);
    expect(await verifyRecord(store)).toMatchObject({ ok: true, keptAside: [{ sessionId: 'ses_c', events: 1, seqs: [1, 1], writers: [a.writer] }] });
    await store.close();
  });

  it('keeps them in the store alone when there is no spool', async () => {
    const { store, a } = await forkedUnder({});
    const answer = a.append(requestDraft('ses_c', 2), { linger: true });
    const next = a.append(requestDraft('ses_c', 3));
    await expect(next).rejects.toThrow(/moved on/);
    const kept = await answer;
    expect((await store.keptAside()).map((k) => k.event)).toEqual([kept]);
    expect(a.stats()).toMatchObject({ quarantined: 1, refused: 1 });
    await a.close();
    await store.close();
  });

  it('refuses them too when neither a spool nor the store can keep them', async () => {
    const { store, a } = await forkedUnder({});
    store.keepAside = () => Promise.reject(new Error('disk full'));
    const answer = a.append(requestDraft('ses_c', 2), { linger: true });
    const next = a.append(requestDraft('ses_c', 3));
    await expect(next).rejects.toThrow(/moved on/);
    await expect(answer).rejects.toThrow(/could not be kept aside/);
    expect(a.stats()).toMatchObject({ quarantined: 0, refused: 2 });
    await a.close();
    await store.close();
  });
});

describe('chain heads in memory', () => {
  it('are bounded: the oldest settled sessions are forgotten, and their chains continue from the store', async () => {
    const store = new FileSessionStore(tempDir('bounded'));
    const recorder = await recorderOn(store, { maxSessions: 10 });
    for (let i = 0; i < 50; i++) await recorder.append(requestDraft(`ses_many_${i}`, 0));
    expect(recorder.stats().sessions).toBeLessThanOrEqual(10);
    // A forgotten session's next event reads its head from the store: seq 1, on the same chain.
    expect((await recorder.append(requestDraft('ses_many_0', 1))).seq).toBe(1);
    await recorder.close();
    expect(await verifyRecord(store)).toMatchObject({ ok: true });
    await store.close();
  });
});

describe('lingering appends (events nobody waits for)', () => {
  it('ride along with the next urgent append: one store write for both, in chain order', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    const recorder = await recorderOn(store, { lingerMs: 10_000 });
    await recorder.append(requestDraft('ses_l', 0));
    const lingering = recorder.append(requestDraft('ses_l', 1), { linger: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['write req_0']); // still lingering
    const urgent = await recorder.append(requestDraft('ses_l', 2));
    expect((await lingering).seq).toBe(1);
    expect(urgent.seq).toBe(2);
    expect(log).toEqual(['write req_0', 'write req_1,req_2']);
    await recorder.close();
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });

  it('are durable within lingerMs when nothing else comes, and close() writes them at once', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    const recorder = await recorderOn(store, { lingerMs: 30 });
    await recorder.append(requestDraft('ses_m', 0)); // a session's first event reads its head: not lingered
    const t0 = Date.now();
    await recorder.append(requestDraft('ses_m', 1), { linger: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25); // a lower bound: a timer never fires early
    expect(log).toEqual(['write req_0', 'write req_1']);
    const slow = await recorderOn(store, { lingerMs: 60_000 });
    await slow.append(requestDraft('ses_n', 0));
    const pending = slow.append(requestDraft('ses_n', 1), { linger: true });
    await slow.close(); // does not wait a minute
    expect((await pending).seq).toBe(1);
    await recorder.close();
    expect((await verifyRecord(inner)).sessions.map((s) => s.sessionId).sort()).toEqual(['ses_m', 'ses_n']);
    await inner.close();
  });
});

describe('lingering entries while a write is in flight', () => {
  it('wait for the next awaited append instead of following the batch in flight: one write per exchange', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log);
    const recorder = await recorderOn(store, { lingerMs: 10_000 });
    await recorder.append(requestDraft('ses_f', 0), { newSession: true });
    const release = hold();
    const request = recorder.append(requestDraft('ses_f', 1)); // in flight, held
    await waitFor(() => log.length === 2);
    const answer = recorder.append(requestDraft('ses_f', 2), { linger: true }); // sealed during the flight
    release();
    await request;
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['write req_0', 'write req_1']); // the answer was not written on its own
    await recorder.append(requestDraft('ses_f', 3));
    expect((await answer).seq).toBe(2);
    expect(log).toEqual(['write req_0', 'write req_1', 'write req_2,req_3']);
    await recorder.close();
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });
});

describe('work handed to later()', () => {
  it('runs while the next write travels to the store, before the store has answered it', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log);
    const recorder = await recorderOn(store, { laterMs: 60_000 });
    await recorder.append(requestDraft('ses_t', 0), { newSession: true });
    recorder.later(() => log.push('later'));
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['write req_0']); // no write yet: it waits (laterMs is a minute here)
    const release = hold();
    const next = recorder.append(requestDraft('ses_t', 1));
    await waitFor(() => log.includes('later'));
    expect(log).toEqual(['write req_0', 'write req_1', 'later']); // the write went first, still unanswered
    release();
    await next;
    await recorder.close();
    await inner.close();
  });

  it('runs within laterMs when no write comes, in the order given, and what it appends is recorded', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    const recorder = await recorderOn(store, { laterMs: 5, lingerMs: 5 });
    await recorder.append(requestDraft('ses_u', 0), { newSession: true });
    const order: number[] = [];
    const appended: Array<Promise<SessionEvent>> = [];
    recorder.later(() => { order.push(1); appended.push(recorder.append(requestDraft('ses_u', 1), { linger: true })); });
    recorder.later(() => { throw new Error('one task fails'); });
    recorder.later(() => { order.push(3); appended.push(recorder.append(requestDraft('ses_u', 2), { linger: true })); });
    await waitFor(() => appended.length === 2);
    expect(order).toEqual([1, 3]); // a task that throws does not stop the others
    expect((await Promise.all(appended)).map((e) => e.seq)).toEqual([1, 2]);
    expect(log).toEqual(['write req_0', 'write req_1,req_2']);
    await recorder.close();
    await inner.close();
  });

  it('stamps what a task appends with the time it was handed over, also when its session\'s head is still being read', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    let clock = Date.parse('2026-11-28T10:00:00.000Z');
    const recorder = await recorderOn(store, { laterMs: 60_000, lingerMs: 60_000, now: () => new Date(clock) });
    await recorder.append(requestDraft('ses_s', 0), { newSession: true });
    const appended: Array<Promise<SessionEvent>> = [];
    recorder.later(() => { appended.push(recorder.append(requestDraft('ses_s', 1), { linger: true })); });
    clock += 5;
    // A session this recorder has not touched: its head is read from the store before the seal.
    recorder.later(() => { appended.push(recorder.append(requestDraft('ses_s2', 2), { linger: true })); });
    clock += 5;
    const direct = recorder.append(requestDraft('ses_s', 3)); // its write runs the tasks
    await waitFor(() => appended.length === 2);
    const events = await Promise.all([...appended, direct]);
    expect(events.map((e) => [e.requestId, e.ts])).toEqual([
      ['req_1', '2026-11-28T10:00:00.000Z'],
      ['req_2', '2026-11-28T10:00:00.005Z'],
      ['req_3', '2026-11-28T10:00:00.010Z'], // appended outside a task: sealed now
    ]);
    await recorder.close();
    expect(await verifyRecord(inner)).toMatchObject({ ok: true });
    await inner.close();
  });

  it('is run by drained() and close() before they write what is left', async () => {
    const log: string[] = [];
    const { inner, store } = loggingStore(log);
    const recorder = await recorderOn(store, { laterMs: 60_000, lingerMs: 60_000 });
    await recorder.append(requestDraft('ses_v', 0), { newSession: true });
    let answer: Promise<SessionEvent> | undefined;
    recorder.later(() => { answer = recorder.append(requestDraft('ses_v', 1), { linger: true }); });
    await recorder.drained(); // does not wait a minute
    expect(log).toEqual(['write req_0', 'write req_1']);
    expect((await answer!).seq).toBe(1);
    let last: Promise<SessionEvent> | undefined;
    recorder.later(() => { last = recorder.append(requestDraft('ses_v', 2), { linger: true }); });
    await recorder.close();
    expect((await last!).seq).toBe(2);
    expect((await inner.readSession('ses_v')).map((e) => e.seq)).toEqual([0, 1, 2]);
    await inner.close();
  });
});

describe('drained() and close() wait for everything', () => {
  it('including an entry sealed while the last write travelled, and appends still reading their session\'s head', async () => {
    const log: string[] = [];
    const { inner, store, hold } = loggingStore(log);
    let headReads = 0;
    const slowHeads = Object.assign(Object.create(store) as typeof store, {
      head: async (sid: string) => { headReads++; await new Promise((r) => setTimeout(r, 20)); return inner.head(sid); },
    });
    const recorder = await recorderOn(slowHeads, { lingerMs: 60_000, laterMs: 60_000 });
    await recorder.append(requestDraft('ses_w1', 0), { newSession: true });
    const release = hold();
    const request = recorder.append(requestDraft('ses_w1', 1));
    await waitFor(() => log.length === 2);
    const drained = recorder.drained();
    const answer = recorder.append(requestDraft('ses_w1', 2), { linger: true }); // sealed while the write travels
    release();
    await drained; // does not wait a minute, and does not return before the answer is written
    expect(recorder.stats().pending).toBe(0);
    expect((await answer).seq).toBe(2);
    await request;
    // An append to a session whose head is read from the store first (an egress session, say).
    const elsewhere = recorder.append(requestDraft('ses_w2', 0), { linger: true });
    await recorder.close();
    expect(headReads).toBe(1);
    expect((await elsewhere).seq).toBe(0);
    expect((await inner.readSession('ses_w2')).map((e) => e.seq)).toEqual([0]);
    expect((await inner.readSession('ses_w1')).map((e) => e.seq)).toEqual([0, 1, 2]);
    await inner.close();
  });
});

describe('SessionRecorder on Redis', () => {
  let prefix: string;
  let proxy: RedisProxy;
  const children: ChildProcess[] = [];
  beforeEach(async () => { prefix = uniquePrefix(); proxy = redisProxy(); await proxy.start(); });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await proxy.stop();
    await deletePrefix(prefix);
  });

  it('spools while Redis is unreachable and replays the spool in order when it returns', async () => {
    const store = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store.ready();
    const spoolDir = tempDir('spool');
    const retries: string[] = [];
    const log = { info: () => undefined, warn: (obj: object, msg: string) => { if (/not replayed yet/.test(msg)) retries.push((obj as { err: string }).err); } };
    const recorder = await recorderOn(store, { spool: { dir: spoolDir, maxBytes: 10 * 1024 * 1024 }, storeTimeoutMs: 500, retryMs: 20, log });
    for (let i = 0; i < 10; i++) await recorder.append(requestDraft('ses_s', i));
    await proxy.stop();
    const during = await Promise.all(Array.from({ length: 50 }, (_, i) => recorder.append(requestDraft(i % 2 ? 'ses_s' : 'ses_new', 100 + i), { newSession: i === 0 })));
    expect(recorder.stats()).toMatchObject({ spooling: true });
    expect(recorder.stats().spooled).toBeGreaterThan(0);
    await recorder.checkpoint();
    // Replays retried every 20 ms meanwhile: why they fail is said, but not at every retry.
    await new Promise((r) => setTimeout(r, 600));
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBeLessThanOrEqual(3);
    await proxy.start();
    await recorder.drained(15_000);
    await recorder.close();
    const reader = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const s = await reader.readSession('ses_s');
    expect(s.map((e) => e.seq)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(s.slice(10).map((e) => e.requestId)).toEqual(during.filter((e) => e.sessionId === 'ses_s').map((e) => e.requestId));
    const report = await verifyRecord(reader);
    expect(report.ok).toBe(true);
    expect(report.checkpoints.count).toBeGreaterThanOrEqual(1);
    await reader.close();
    await store.close();
  });

  it('sets aside, losing nothing, spooled events that fork a chain another writer stored meanwhile, and replays the rest', async () => {
    const store = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store.ready();
    const spoolDir = tempDir('fork');
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_obj: object, msg: string) => { warnings.push(msg); } };
    // segmentBytes 1: each spooled write is a segment of its own, so the fork spans segments.
    const a = await recorderOn(store, { spool: { dir: spoolDir, maxBytes: 10 * 1024 * 1024, segmentBytes: 1 }, storeTimeoutMs: 500, retryMs: 20, log });
    const first = await a.append(requestDraft('ses_fork', 0), { newSession: true });
    await proxy.stop();
    const forked = [];
    for (let i = 1; i <= 3; i++) forked.push(await a.append(requestDraft('ses_fork', i)));
    await a.append(requestDraft('ses_other', 0), { newSession: true });
    expect(a.stats()).toMatchObject({ spooling: true, spooled: 4 });
    // Meanwhile another writer records the same session straight into Redis.
    const direct = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const b = await recorderOn(direct);
    const stored = [first, await b.append(requestDraft('ses_fork', 10)), await b.append(requestDraft('ses_fork', 11))];
    await b.close();
    await proxy.start();
    await a.drained(15_000);
    expect(a.stats()).toMatchObject({ spooling: false, spoolBytes: 0, quarantined: 3 });
    expect(warnings.filter((m) => /fork the stored chain/.test(m))).toHaveLength(1);
    const kept = readFileSync(join(spoolDir, 'conflicts.jsonl'), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { event: SessionEvent }).event);
    expect(kept).toEqual(forked); // every forked event, as sealed
    expect((await direct.readSession('ses_fork')).map((e) => e.hash)).toEqual(stored.map((e) => e.hash)); // the stored chain untouched
    expect(await direct.readSession('ses_other')).toHaveLength(1); // the other session replayed
    // The session goes on from the stored chain (read once the recorder's reader is back).
    await store.ready(10_000); // the next command reconnects by itself; this only makes sure Redis is back
    expect((await a.append(requestDraft('ses_fork', 4))).seq).toBe(3);
    await a.close();
    // Redis keeps them aside too, where verify lists them from anywhere.
    expect((await direct.keptAside()).map((k) => [k.event, k.writer])).toEqual(forked.map((e) => [e, a.writer]));
    expect(await verifyRecord(direct)).toMatchObject({ ok: true, keptAside: [{ sessionId: 'ses_fork', events: 3, seqs: [1, 3], writers: [a.writer] }] });
    await direct.close();
    await store.close();
  });

  it('leaves checkpoints a verifier can check when their writer never reached Redis and its successor replays its spool', async () => {
    const spoolDir = tempDir('spool-key');
    const store1 = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store1.ready();
    await proxy.stop(); // away for the first writer's whole life: its key is never published directly
    const first = await recorderOn(store1, { spool: { dir: spoolDir, maxBytes: 10 * 1024 * 1024 }, storeTimeoutMs: 300 });
    for (let i = 0; i < 3; i++) await first.append(requestDraft('ses_k', i), { newSession: i === 0 });
    await first.checkpoint();
    await first.close();
    await store1.close();
    await proxy.start();
    const store2 = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store2.ready();
    const second = await recorderOn(store2, { spool: { dir: spoolDir, maxBytes: 10 * 1024 * 1024 }, storeTimeoutMs: 500, retryMs: 20 });
    await second.drained(15_000);
    await second.close();
    const report = await verifyRecord(store2);
    expect(report).toMatchObject({ ok: true });
    expect(report.checkpoints.count).toBeGreaterThanOrEqual(2); // the first writer's (and its close's), verified
    await store2.close();
  });

  it('refuses with a 503 record-unavailable error when Redis is unreachable and the spool is disabled, without breaking the chain', async () => {
    const store = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store.ready();
    const recorder = await recorderOn(store, { storeTimeoutMs: 500 });
    await recorder.append(requestDraft('ses_f', 0));
    await proxy.stop();
    const refused = await recorder.append(requestDraft('ses_f', 1)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: 'SG_RECORD_UNAVAILABLE', type: 'overloaded_error', status: 503 });
    await proxy.start();
    await store.ready(10_000); // the next command reconnects by itself; this only makes sure Redis is back
    expect((await recorder.append(requestDraft('ses_f', 2))).seq).toBe(1);
    await recorder.close();
    expect(await verifyRecord(store)).toMatchObject({ ok: true });
    await store.close();
  });

  it('refuses when the spool is full', async () => {
    const store = new RedisSessionStore({ redis: proxy.url, prefix, failFast: true });
    await store.ready();
    const recorder = await recorderOn(store, { spool: { dir: tempDir('full'), maxBytes: 2000 }, storeTimeoutMs: 500, retryMs: 60_000 });
    await proxy.stop();
    await recorder.append(requestDraft('ses_full', 0), { newSession: true }); // fits in the spool
    let refused: unknown;
    for (let i = 1; i < 20 && !refused; i++) refused = await recorder.append(requestDraft('ses_full', i)).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'SG_RECORD_UNAVAILABLE', status: 503 });
    expect((refused as Error).message).toMatch(/spool is full/);
    await store.close();
  });

  it('loses nothing when the appending process is killed -9 under load while Redis is away, and restarted', async () => {
    const spoolDir = tempDir('crash');
    const fixture = fileURLToPath(new URL('./fixtures/appender.js', import.meta.url));
    const acked = new Set<string>();
    const run = (count: number): { child: ChildProcess; exited: Promise<number | null> } => {
      const child = spawn(process.execPath, [fixture, proxy.url, prefix, spoolDir, String(count), '4', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let buf = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) if (l) acked.add(l);
      });
      let err = '';
      child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { if (code) process.stderr.write(err); resolve(code); }));
      return { child, exited };
    };

    const first = run(1_000_000);
    await waitFor(() => acked.size >= 3000, 30_000, '3000 acknowledged appends');
    await proxy.stop(); // Redis "restarts": connections drop, the port refuses
    const before = acked.size;
    await waitFor(() => acked.size >= before + 3000, 30_000, 'appends acknowledged from the spool');
    first.child.kill('SIGKILL');
    await first.exited;
    const ackedByFirst = acked.size;
    await proxy.start();

    const second = run(3000);
    expect(await second.exited).toBe(0);
    expect(acked.size).toBe(ackedByFirst + 3000);

    const reader = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const report = await verifyRecord(reader);
    expect(report.ok).toBe(true);
    const stored = new Set<string>();
    for (let s = 0; s < 4; s++) for (const e of await reader.readSession(`ses_crash_${s}`)) stored.add(`${e.sessionId} ${e.seq}`);
    const lost = [...acked].filter((a) => !stored.has(a));
    expect(lost).toEqual([]);
    // Chains are contiguous (verify found no gap), so stored >= acknowledged; the difference is what
    // was durable but not yet acknowledged at the kill.
    expect(stored.size).toBeGreaterThanOrEqual(acked.size);
    await reader.close();
  }, 120_000);
});

describe('openRecorder (the sidecar\'s recorder) on Redis', () => {
  it('publishes the signing key at start, without a warning, once the store has connected', async () => {
    const { openRecorder } = await import('../src/open.js');
    const prefix = uniquePrefix();
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_o: object, msg: string) => { warnings.push(msg); }, error: (_o: object, msg: string) => { warnings.push(msg); } };
    const { recorder, store } = await openRecorder({ redisUrl: REDIS_URL, redisPrefix: prefix, recordDir: tempDir('open'), spoolMaxBytes: 1 << 20, checkpointIntervalMs: 0 }, log);
    try {
      const keys = await (store as RedisSessionStore).publicKeys();
      expect(Object.keys(keys)).toHaveLength(1);
      expect(Object.values(keys)[0]).toMatch(/BEGIN PUBLIC KEY/);
      expect(warnings).toEqual([]);
    } finally {
      await recorder.close();
      await store.close();
      await deletePrefix(prefix);
    }
  });
});
