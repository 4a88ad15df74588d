// The forensics commands, run as the user runs them (the built CLI as a child process), on both
// stores: a recorded conversation (streaming with a tool call, then a tool result and a plain
// answer) is listed, shown, replayed exactly, searched by a planted value, verified, exported and
// verified offline; tampering makes verify fail naming the event.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { FileArchive } from '../src/archive.js';
import { RecorderWorker } from '../src/worker.js';
import {
  FileSessionStore, RecordSigner, RedisSessionStore, SessionRecorder, StreamBatcher, fingerprintOf, headOf, requestData, sealEventJson,
  type EventDraft, type SessionStore,
} from '@skillgate/record';

const REDIS_URL = process.env.SKILLGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLI = fileURLToPath(new URL('../../../cli/dist/src/main.js', import.meta.url));
const KEY = 'test-installation-key';
const PLANTED = 'jane.doe@example.com';
const identity = { namespace: 'payments', serviceAccount: 'sa', pod: 'pod-1', skill: 'refunds', owner: 'contractor@example.com' };
const SID = 'ses_cli_conversation';

function sse(type: string, body: object): { event: string; data: string } {
  return { event: type, data: JSON.stringify({ type, ...body }) };
}

/** Record the conversation through the real recorder, as the sidecar would. */
async function recordConversation(store: SessionStore): Promise<void> {
  const recorder = await SessionRecorder.open({ store, signer: RecordSigner.generate(), checkpointIntervalMs: 0 });
  const t0 = Date.parse('2026-03-01T10:00:00Z');
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  const base = { sessionId: SID, identity };
  const body1 = JSON.stringify({ model: 'claude-sonnet-4-5', stream: true, messages: [{ role: 'user', content: 'Refund order 42' }] });
  const drafts: EventDraft[] = [
    { ...base, kind: 'request', requestId: 'req_1', ts: at(0), data: requestData({ method: 'POST', url: '/v1/messages?beta=true', headers: { 'x-api-key': 'sk-ant-secret', 'content-type': 'application/json' }, forwarded: Buffer.from(body1), maskedBody: body1, model: 'claude-sonnet-4-5', stream: true }) },
    { ...base, kind: 'decision', requestId: 'req_1', ts: at(1), data: { action: 'allow', policies: ['default'] } },
    { ...base, kind: 'response', requestId: 'req_1', ts: at(100), data: { status: 200, headers: { 'content-type': 'text/event-stream' }, stream: true } },
  ];
  const batcher = new StreamBatcher({ maxEvents: 3, maxBytes: 1 << 20 });
  const stream = [
    sse('message_start', { message: { id: 'msg_1', role: 'assistant', content: [] } }),
    sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello ' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'there' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'refund', input: {} } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"order":' } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '42}' } }),
    sse('content_block_stop', { index: 1 }),
    sse('message_stop', {}),
  ];
  stream.forEach((ev, i) => {
    const batch = batcher.push(ev.event, ev.data, i * 20);
    if (batch) drafts.push({ ...base, kind: 'stream_event', requestId: 'req_1', ts: at(100 + i * 20), data: batch });
  });
  const rest = batcher.flush();
  if (rest) drafts.push({ ...base, kind: 'stream_event', requestId: 'req_1', ts: at(300), data: rest });
  drafts.push({ ...base, kind: 'stream_end', requestId: 'req_1', ts: at(301), data: { outcome: 'complete', events: stream.length } });
  const body2 = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [
    { role: 'user', content: 'Refund order 42' },
    { role: 'assistant', content: [{ type: 'text', text: 'Hello there' }, { type: 'tool_use', id: 'toolu_1', name: 'refund', input: { order: 42 } }] },
    // What the tool returned carries terminal control sequences (erase the line): replay shows them, inert.
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'refunded\u001b[2K' }] },
  ] });
  drafts.push({ ...base, kind: 'request', requestId: 'req_2', ts: at(1000), data: requestData({ method: 'POST', url: '/v1/messages', headers: {}, forwarded: Buffer.from(body2), maskedBody: body2 }) });
  drafts.push({ ...base, kind: 'response', requestId: 'req_2', ts: at(1500), data: {
    status: 200, headers: {}, stream: false,
    body: JSON.stringify({ content: [{ type: 'text', text: 'Done. Customer <EMAIL_ADDRESS> was notified.' }] }),
    findings: [{ type: 'EMAIL_ADDRESS', start: 45, end: 60, fingerprint: fingerprintOf(KEY, PLANTED) }],
  } });
  for (const d of drafts) await recorder.append(d);
  await recorder.checkpoint();
  await recorder.close();
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.each(['local', 'redis', 'archive'] as const)('skillgate sessions on the %s store', (kind) => {
  let storeArgs: string[];
  let store: SessionStore;
  let prefix = '';
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'sg-cli-'));
    if (kind === 'local') {
      const dir = join(work, 'records');
      store = new FileSessionStore(dir);
      storeArgs = ['--dir', dir];
    } else {
      prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
      store = new RedisSessionStore({ redis: REDIS_URL, prefix });
      storeArgs = ['--redis', REDIS_URL, '--prefix', prefix];
    }
    await recordConversation(store);
    if (kind === 'archive') {
      // Recorded to Redis, moved to the durable archive by the recorder's worker, read from there.
      const dir = join(work, 'archive');
      const archive = await FileArchive.open(dir);
      const conn = new Redis(REDIS_URL);
      const worker = new RecorderWorker({ redis: conn, prefix, consumer: 'c1', archive });
      while ((await worker.runOnce(false)) > 0) { /* until a round finds nothing */ }
      await archive.close();
      await conn.quit();
      storeArgs = ['--archive', dir];
    }
  });

  afterAll(async () => {
    await store.close();
    if (prefix) {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('lists the session with its skill and owner, and filters it out by another skill', async () => {
    const listed = await cli(['sessions', 'list', ...storeArgs, '--skill', 'refunds', '--output', 'json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ sessionId: SID, identity: expect.objectContaining({ owner: 'contractor@example.com' }) })]);
    expect(JSON.parse((await cli(['sessions', 'list', ...storeArgs, '--skill', 'billing', '--output', 'json'])).stdout)).toEqual([]);
    expect((await cli(['sessions', 'list', ...storeArgs, '--since', 'not-a-time'])).stderr).toMatch(/--since: not a time/);
  });

  it('shows the timeline without any credential', async () => {
    const shown = await cli(['sessions', 'show', SID, ...storeArgs]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/request\s+req_1\s+POST \/v1\/messages model=claude-sonnet-4-5 stream/);
    expect(shown.stdout).toMatch(/stream_end\s+req_1\s+complete/);
    const json = await cli(['sessions', 'show', SID, ...storeArgs, '--output', 'json']);
    expect(json.stdout).not.toContain('sk-ant-secret');
    expect(JSON.parse(json.stdout)[0].data.query).toBe('beta=true');
  });

  it('replays the conversation exactly: user turn, streamed text, tool call, tool result, answer', async () => {
    const replay = await cli(['sessions', 'replay', SID, ...storeArgs, '--instant']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toBe([
      '', 'user> Refund order 42', 'Hello there', 'tool_use refund toolu_1> {"order":42}', '',
      'tool_result toolu_1> refunded\\x1b[2K', 'Done. Customer <EMAIL_ADDRESS> was notified.', '',
    ].join('\n'));
    const steps = JSON.parse((await cli(['sessions', 'replay', SID, ...storeArgs, '--output', 'json'])).stdout) as Array<{ kind: string; at: number }>;
    expect(steps.filter((s) => s.kind === 'assistant_text').map((s) => s.at)).toEqual([140, 160, 1500]);
  });

  it('finds the response that returned a planted value from its fingerprint, without the value in the record', async () => {
    const found = await cli(['sessions', 'find', '--value', PLANTED, ...storeArgs, '--output', 'json'], { SKILLGATE_MASKING_KEY: KEY });
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout).hits).toEqual([expect.objectContaining({ sessionId: SID, requestId: 'req_2', kind: 'response', direction: 'response', types: ['EMAIL_ADDRESS'] })]);
    const human = await cli(['sessions', 'find', '--value', PLANTED, ...storeArgs], { SKILLGATE_MASKING_KEY: KEY });
    expect(human.stdout).toMatch(/req_2\s+RETURNED by Claude/);
    expect((await cli(['sessions', 'show', SID, ...storeArgs, '--output', 'json'])).stdout).not.toContain(PLANTED);
    // Masking reads a full-width at sign as "@": either spelling finds the value.
    const wide = await cli(['sessions', 'find', '--value', PLANTED.replace('@', '\uff20'), ...storeArgs, '--output', 'json'], { SKILLGATE_MASKING_KEY: KEY });
    expect(JSON.parse(wide.stdout).hits).toEqual(JSON.parse(found.stdout).hits);
    // And a zero-width space (as a web page hides an address from scrapers) as nothing.
    const hidden = await cli(['sessions', 'find', '--value', PLANTED.replace('@', '\u200b@'), ...storeArgs, '--output', 'json'], { SKILLGATE_MASKING_KEY: KEY });
    expect(JSON.parse(hidden.stdout).hits).toEqual(JSON.parse(found.stdout).hits);
    // An address in another case is the same address.
    const shouted = await cli(['sessions', 'find', '--value', PLANTED.toUpperCase(), ...storeArgs, '--output', 'json'], { SKILLGATE_MASKING_KEY: KEY });
    expect(JSON.parse(shouted.stdout).hits).toEqual(JSON.parse(found.stdout).hits);
    expect((await cli(['sessions', 'find', '--value', 'nobody@example.com', ...storeArgs], { SKILLGATE_MASKING_KEY: KEY })).stdout).toMatch(/^no masking finding has that value's fingerprint/);
    expect((await cli(['sessions', 'find', '--value', PLANTED, ...storeArgs])).stderr).toMatch(/installation key/);
  });

  it('refuses input it cannot act on, instead of a clean-looking empty answer', async () => {
    const truncated = await cli(['sessions', 'find', '--fingerprint', 'abc123', ...storeArgs]);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/64 hex characters/);
    const yaml = await cli(['sessions', 'list', ...storeArgs, '--output', 'yaml']);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/--output yaml is not supported/);
    const none = await cli(['sessions', 'export', '--all', '--skill', 'no-such-skill', ...storeArgs, '--out', join(work, 'none.json')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no session .* matches those filters/);
    // Options that would be silently ignored, or a place the bundle cannot go, are refused up front.
    expect(await cli(['sessions', 'export', SID, '--all', ...storeArgs, '--out', join(work, 'x.json')])).toMatchObject({ code: 2, stderr: 'skillgate: name sessions or pass --all, not both\n' });
    expect(await cli(['sessions', 'export', SID, '--skill', 'refunds', ...storeArgs, '--out', join(work, 'x.json')])).toMatchObject({ code: 2, stderr: 'skillgate: --skill filters --all; named sessions are exported whole\n' });
    expect(await cli(['sessions', 'export', SID, ...storeArgs, '--out', join(work, 'no-such-dir', 'x.json')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^skillgate: cannot write .*x\.json: .*no-such-dir is not a writable directory\n$/) });
    expect(await cli(['sessions', 'find', '--value', PLANTED, '--fingerprint', 'a'.repeat(64), ...storeArgs])).toMatchObject({ code: 2, stderr: 'skillgate: --value and --fingerprint each name what to find: give one\n' });
    const typo = await cli(['sessions', 'verify', 'ses_typo', ...storeArgs]);
    expect(typo.code).toBe(1);
    expect(typo.stdout + typo.stderr).toMatch(/unknown-session/);
  });

  it('verifies, exports a bundle that verifies offline, and fails naming what was tampered with', async () => {
    const ok = await cli(['sessions', 'verify', '--all', ...storeArgs]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`${SID}: ok \\(\\d+ events, all under a signed checkpoint\\)`));
    // Without a trust anchor, the output says what an ok shows (and what it does not).
    expect(ok.stdout).toMatch(/^keys: the store's own — this shows the record is consistent with itself, not who wrote it/m);
    const out = join(work, 'evidence.json');
    const exported = await cli(['sessions', 'export', SID, ...storeArgs, '--out', out]);
    expect(exported.code).toBe(0);
    const offline = await cli(['verify', out]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/^at export: the record verified/m);
    expect(offline.stdout).toMatch(/^keys: the bundle's own/m);
    const bundle = JSON.parse(readFileSync(out, 'utf8'));
    bundle.sessions[SID][3].data.status = 500;
    const tamperedFile = join(work, 'tampered.json');
    writeFileSync(tamperedFile, JSON.stringify(bundle));
    const bad = await cli(['verify', tamperedFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/altered: event seq 3 of session ses_cli_conversation was altered/);
  });

  it('shows what a recorded text would tell a terminal instead of letting it act', async () => {
    const replayed = await cli(['sessions', 'replay', SID, '--instant', ...storeArgs]);
    expect(replayed.stdout).toContain('\\x1b[2K');
    expect(replayed.stdout).not.toContain('\x1b');
  });

  // Last: it cuts the record short.
  it('refuses to export a record whose last event was cut, and --force writes that failure into the bundle', async () => {
    await cutLastEvent(kind, storeArgs, prefix);
    const verified = await cli(['sessions', 'verify', SID, ...storeArgs]);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/verification failed: missing: event seq 9 of session ses_cli_conversation is missing/);
    const out = join(work, 'cut.json');
    const refused = await cli(['sessions', 'export', SID, ...storeArgs, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not exported: the record fails verification \(missing: event seq 9 .*\); .*--force exports it anyway/);
    // A failure says one line on stderr, its reason (no progress line before it).
    for (const failed of [verified, refused]) expect(failed.stderr.trimEnd().split('\n')).toHaveLength(1);
    const forced = await cli(['sessions', 'export', SID, ...storeArgs, '--out', out, '--force']);
    expect(forced.code).toBe(0);
    const offline = await cli(['verify', out]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/^at export: FAILED missing: event seq 9 /m);
    // The bundle carries the checkpoint that signed seq 9 too, which fails it on its own.
    expect(offline.stderr).toMatch(/bundle verification failed: missing: event seq 9 /);
  });
});

/** Delete a session's last event the way someone with write access to that record could. */
async function cutLastEvent(kind: 'local' | 'redis' | 'archive', storeArgs: string[], prefix: string): Promise<void> {
  if (kind === 'redis') {
    const redis = new Redis(REDIS_URL);
    const id = (await redis.lindex(`${prefix}session:${SID}:idx`, -1))!;
    await redis.xdel(`${prefix}ns:${identity.namespace}`, id);
    await redis.quit();
    return;
  }
  const dir = storeArgs[1]!;
  const file = kind === 'local' ? join(dir, 'sessions', `${SID}.jsonl`) : join(dir, 'sessions', readdirSync(join(dir, 'sessions'))[0]!, `${SID}.jsonl`);
  writeFileSync(file, `${readFileSync(file, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n')}\n`);
}

describe('skillgate sessions verify on a tampered local store', () => {
  it('exits 1 naming the first altered event', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sg-cli-t-')), 'records');
    const store = new FileSessionStore(dir);
    await recordConversation(store);
    await store.close();
    const file = join(dir, 'sessions', `${SID}.jsonl`);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    lines[1] = lines[1]!.replace('"allow"', '"deny"');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const res = await cli(['sessions', 'verify', SID, '--dir', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/verification failed: altered: event seq 1 of session ses_cli_conversation/);
  });

  it('lists events kept aside after a chain conflict without failing the chain', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sg-cli-k-')), 'records');
    const store = new FileSessionStore(dir);
    await recordConversation(store);
    const events = await store.readSession(SID);
    // Another writer's answer, sealed for the place the stored chain's seq 2 holds.
    const rival = sealEventJson({ sessionId: SID, identity, kind: 'response', requestId: 'req_1', data: { status: 200, headers: {}, stream: false, bodyBytes: 0 } }, headOf(events[1]!));
    await store.keepAside([rival], 'pod-2/41/x', '2026-03-01T10:05:00.000Z');
    await store.close();
    const res = await cli(['sessions', 'verify', SID, '--dir', dir]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`${SID}: 1 event(s) kept aside outside the chain (sealed for seq 2 by pod-2/41/x): another writer's chain took their place`);
    const json = JSON.parse((await cli(['sessions', 'verify', SID, '--dir', dir, '--output', 'json'])).stdout);
    expect(json).toMatchObject({ ok: true, keptAside: [{ sessionId: SID, events: 1, seqs: [2, 2], writers: ['pod-2/41/x'] }] });
    // The timeline shows them after the chain's events, marked.
    const shown = await cli(['sessions', 'show', SID, '--dir', dir]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/kept aside outside the chain \(another writer's chain took their place\):\n.*#2 +response .*\[by pod-2\/41\/x, kept 2026-03-01T10:05:00.000Z\]$/m);
    // They travel in the session's evidence bundle, signed for, and its offline check lists them.
    const out = join(dir, '..', 'evidence.json');
    const exported = await cli(['sessions', 'export', SID, '--dir', dir, '--out', out]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/1 event\(s\) kept aside outside their chains/);
    const offline = await cli(['verify', out]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toContain(`${SID}: 1 event(s) kept aside outside the chain (sealed for seq 2 by pod-2/41/x)`);
  });

  it('says what to do when no record exists', async () => {
    const res = await cli(['sessions', 'list', '--dir', join(tmpdir(), 'sg-does-not-exist')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/not a record directory: .*\(no such directory; pass --dir DIR, or --redis URL/);
  });
});

describe('skillgate sessions verify --against-archive', () => {
  it('holds Redis against the recorder\'s archive: a chain cut back there fails, named in one line', async () => {
    const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
    const work = mkdtempSync(join(tmpdir(), 'sg-against-'));
    const store = new RedisSessionStore({ redis: REDIS_URL, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      await recordConversation(store);
      const archiveDir = join(work, 'archive');
      const archive = await FileArchive.open(archiveDir);
      const worker = new RecorderWorker({ redis, prefix, consumer: 'c1', archive });
      while ((await worker.runOnce(false)) > 0) { /* until a round finds nothing */ }
      await archive.close();
      const args = ['sessions', 'verify', '--all', '--redis', REDIS_URL, '--prefix', prefix, '--against-archive', archiveDir];
      expect((await cli(args)).code).toBe(0);
      expect((await cli(['sessions', 'verify', '--all', '--archive', archiveDir, '--against-archive', archiveDir])).code).toBe(2);
      // Cut back, its head moved back with it and every checkpoint deleted: the store alone cannot tell.
      const events = await store.readSession(SID);
      await cutLastEvent('redis', [], prefix);
      await redis.hset(`${prefix}session:${SID}`, 'seq', '8', 'hash', events[8]!.hash, 'lastTs', String(Date.parse(events[8]!.ts)));
      await redis.del(`${prefix}checkpoints`, `${prefix}checkpoints:writers`);
      expect((await cli(args.slice(0, -2))).code).toBe(0);
      const cut = await cli(args);
      expect(cut.code).toBe(1);
      expect(cut.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(cut.stderr).toMatch(/event seq 9 of session ses_cli_conversation is in archive .* but not in the store: the store's chain was cut back|checkpoint .* is in archive .* but not in the store/);
    } finally {
      await store.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });
});
