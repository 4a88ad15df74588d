// @skillgate/record — session events, canonical JSON, hash chains, signed checkpoints and the
// stores (embedded local files, Redis Streams). Public API:
//
//   Writing (the sidecar):
//     openRecorder(recordConfigFromEnv())        -> { recorder, store }
//     recorder.append(draft)                      resolves with the sealed event once durable
//                                                 (Redis or fsync'd spool); rejects with a
//                                                 GatewayError SG_RECORD_UNAVAILABLE (503) -> refuse
//     recorder.closeSession({...}), recorder.checkpoint(), recorder.close()
//     chooseSession(input, policy.recording, previous, now)   which session a request belongs to
//     requestData({...}), recordHeaders(h, mask)  request (and answer) headers without credentials, values masked (short numbers and the API's own answer headers as sent);
//     recordedDestination(d, mask)                an egress destination masked (a clean host, an IP literal as they are)
//     new StreamBatcher().push(event, data, t)   batches SSE events into stream_event records
//     sealEventJson(draft, head) -> { event, json }   seal + the canonical text stores keep (the
//                                                 recorder does this; json = canonicalJson(event))
//   Reading (CLI, recorder): SessionReader / SessionStore, openSessionStore(cfg),
//     verifyRecord(reader), verifySession(...), findFingerprint(reader, fingerprintOf(key, v)),
//     conversationOf(events), buildBundle(...), verifyBundle(bundle)
export * from './canonical.js';
export * from './timestamp.js';
export * from './event.js';
export * from './chain.js';
export * from './checkpoint.js';
export * from './session-key.js';
export * from './stream-batch.js';
export * from './store.js';
export { NewFiles, openAppend, syncDir } from './durable-file.js';
export { FileSessionStore, LOCAL_RECORD_ENTRIES, assertSessionId, readLastLine } from './file-store.js';
export { RedisSessionStore, keptAsideEntry, parseField, recordKeys, type RedisRetention, type RedisStoreOptions } from './redis-store.js';
export { Spool, SpoolFull, type SpoolOptions } from './spool.js';
export { SessionRecorder, recordUnavailable, type RecorderLog, type RecorderStats, type SessionRecorderOptions } from './recorder.js';
export * from './verify.js';
export * from './find.js';
export * from './bundle.js';
export * from './conversation.js';
export * from './open.js';
