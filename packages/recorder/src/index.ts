// @skillgate/recorder — the consumer-group worker that moves session events from Redis Streams to
// a durable archive and search index. Public API:
//   new RecorderWorker({ redis, consumer, archive: await FileArchive.open(dir), metrics }).run()
//   Archive (interface; FileArchive implements it and SessionReader, so forensics run on archives)
//   ArchiveIndex: sessions by skill/owner/namespace/time, byFingerprint(fp)
//   RecorderMetrics: skillgate_recorder_events_archived_total, _entries_claimed_total, _lag_entries
export { FileArchive, type Archive } from './archive.js';
export { ArchiveIndex, type FingerprintRef } from './search-index.js';
export { RecorderWorker, recorderRedis, type RecorderWorkerOptions, type RecorderLog } from './worker.js';
export { RecorderMetrics } from './metrics.js';
export { recorderLogger } from './log.js';
