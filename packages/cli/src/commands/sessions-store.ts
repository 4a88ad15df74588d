// How the forensics commands find the record: --redis URL (or REDIS_URL) selects Redis Streams,
// --archive DIR the recorder's durable archive, otherwise the local store in --dir (or
// SKILLGATE_RECORD_DIR, default ./.skillgate/records).
// Also the shared options, time parsing and stderr progress of the sessions commands.
// It opens every record for reading only: nothing is created in a --dir, not even its directories.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { LOCAL_RECORD_ENTRIES, openSessionStore, recordConfigFromEnv, type SessionFilter, type SessionReader } from '@skillgate/record';
import { isRedisUrl, redisLocation } from '@skillgate/resp';
import { CliError, durationMs, type OptionSpec } from '../command.js';

export const storeOptions: OptionSpec = {
  redis: { type: 'string' },
  dir: { type: 'string' },
  archive: { type: 'string' },
  prefix: { type: 'string' },
};

export const storeHelp = `Store: --redis URL (default REDIS_URL) selects Redis Streams; --archive DIR the recorder's
archive (skillgate recorder --archive); otherwise, or with --dir DIR (which wins over REDIS_URL), the
local store (default SKILLGATE_RECORD_DIR or ./.skillgate/records). --prefix P sets the Redis key prefix
(default SKILLGATE_REDIS_PREFIX or skillgate:).`;

/** How the usage lines name storeOptions. */
export const storeUsage = '[--dir DIR | --redis URL | --archive DIR] [--prefix P]';

type Values = Record<string, string | boolean | string[] | undefined>;

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export async function openStoreFrom(values: Values, env: NodeJS.ProcessEnv = process.env): Promise<SessionReader> {
  const dir = str(values, 'dir');
  const redis = str(values, 'redis');
  const archive = str(values, 'archive');
  const named = [['--dir', dir], ['--redis', redis], ['--archive', archive]].filter(([, v]) => v !== undefined).map(([n]) => n);
  if (named.length > 1) throw new CliError(`${named.join(' and ')} name different records: give one`, 2);
  if (archive !== undefined) return openArchive(archive);
  // An explicit --dir is the record asked for, whatever REDIS_URL the shell has exported.
  const fromEnv = dir !== undefined ? { ...env, REDIS_URL: undefined } : env;
  const cfg = recordConfigFromEnv(fromEnv, { redisUrl: redis, recordDir: dir, redisPrefix: str(values, 'prefix') });
  if (cfg.redisUrl !== undefined && !isRedisUrl(cfg.redisUrl)) {
    throw new CliError(`${redis !== undefined ? '--redis' : 'REDIS_URL'} must be a redis:// or rediss:// URL, not ${redisLocation(cfg.redisUrl)}`, 2);
  }
  if (!cfg.redisUrl) {
    // An empty directory is a record with no sessions yet; a missing one or a file is no record.
    const found = statSync(cfg.recordDir, { throwIfNoEntry: false });
    if (!found?.isDirectory()) {
      throw new CliError(`not a record directory: ${cfg.recordDir} (${found ? 'not a directory' : 'no such directory'}; pass --dir DIR, or --redis URL / REDIS_URL for Redis)`, 2);
    }
    // A directory that holds other things but nothing of a record (a mistyped --dir: the project,
    // /tmp) would otherwise read as a record with no sessions, and "no sessions" would mislead.
    const names = readdirSync(cfg.recordDir);
    if (names.length > 0 && !names.some((n) => LOCAL_RECORD_ENTRIES.includes(n))) {
      throw new CliError(`not a record directory: ${cfg.recordDir} (it holds ${names.length} entr${names.length === 1 ? 'y' : 'ies'}, none of a record's: ${LOCAL_RECORD_ENTRIES.join(', ')}; pass --dir DIR, or --redis URL / REDIS_URL for Redis)`, 2);
    }
  }
  try {
    return await openSessionStore(cfg, { readOnly: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** The recorder's archive in `dir`, for reading only. */
export async function openArchive(dir: string): Promise<SessionReader> {
  if (!existsSync(dir)) throw new CliError(`no archive at ${dir}: pass the directory skillgate recorder --archive writes`);
  const { FileArchive } = await import('@skillgate/recorder'); // loaded only for an archive
  return FileArchive.openForReading(dir).catch((err: Error) => { throw new CliError(err.message); });
}

/** ISO-8601 as the sessions commands take it: a UTC day, or a time with its zone (Z or ±HH:MM). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * "2026-01-02T03:04:05Z" (a zone is required: a time without one would be read in this machine's),
 * "2026-01-02" (that day's start, UTC), or a duration back from now: 30m, 12h, 7d. Anything else —
 * "Jan 2", "1", 2026-02-30 — is refused rather than guessed at (exit 2).
 */
export function parseTime(text: string, name: string, now = Date.now()): Date {
  const bad = (): CliError => new CliError(`--${name}: not a time: ${text} (use ISO-8601 with a zone like 2026-01-02T15:04:05Z, a UTC day like 2026-01-02, or 30m / 12h / 7d ago)`, 2);
  const back = durationMs(text);
  if (back !== undefined) {
    // So far back that it is no date (99999999999d) would be no filter at all: refused, not ignored.
    const t = new Date(now - back);
    if (Number.isNaN(t.getTime())) throw bad();
    return t;
  }
  const m = ISO_TIME.exec(text);
  if (!m) throw bad();
  const [, y, mo, d, h = '00', mi = '00', s = '00'] = m;
  // The fields as written must be the fields of a real time (no 30 February, no 25 o'clock).
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)
    || day.getUTCHours() !== Number(h) || day.getUTCMinutes() !== Number(mi) || day.getUTCSeconds() !== Number(s)) throw bad();
  const t = Date.parse(m[7] ? text : `${text}T00:00:00Z`);
  if (Number.isNaN(t)) throw bad();
  return new Date(t);
}

export function filterFrom(values: Values): SessionFilter {
  const filter: SessionFilter = {};
  const skill = str(values, 'skill');
  const owner = str(values, 'owner');
  const namespace = str(values, 'namespace');
  const since = str(values, 'since');
  const until = str(values, 'until');
  if (skill) filter.skill = skill;
  if (owner) filter.owner = owner;
  if (namespace) filter.namespace = namespace;
  if (since) filter.since = parseTime(since, 'since');
  if (until) filter.until = parseTime(until, 'until');
  if (filter.since && filter.until && filter.since > filter.until) {
    throw new CliError(`--since ${since} is after --until ${until}: no session could match`, 2);
  }
  return filter;
}

/** How the usage lines name filterOptions. */
export const filterUsage = '[--skill S] [--owner EMAIL] [--namespace NS] [--since T] [--until T]';

export const filterOptions: OptionSpec = {
  skill: { type: 'string' },
  owner: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  since: { type: 'string' },
  until: { type: 'string' },
};

/**
 * Progress on stderr, rewritten in place on a terminal; a final line elsewhere (done), or none when
 * the command fails (clear: its one-line reason is all it says).
 */
export function progress(label: string): { update(done: number, total?: number): void; done(text: string): void; clear(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(done, total) {
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      process.stderr.write(`\r${label} ${done}${total !== undefined ? `/${total}` : ''}`);
    },
    done(text) {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${text}\n`);
    },
    clear() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

export async function withStore<T>(values: Values, fn: (store: SessionReader) => Promise<T>): Promise<T> {
  const store = await openStoreFrom(values);
  try {
    return await fn(store);
  } catch (err) {
    throw lostConnection(store, err) ?? err;
  } finally {
    await store.close();
  }
}

// What a Redis connection that drops says (packages/resp, Node's sockets): the store was not read.
const CONNECTION_LOST = /\bRedis connection closed\b|no reply from Redis|\b(?:ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH)\b/;

/**
 * A Redis connection lost mid-command, said as a Redis that cannot be reached at start is (which
 * Redis, which prefix), rather than as "the Redis connection closed"; undefined for anything else.
 */
function lostConnection(store: SessionReader, err: unknown): CliError | undefined {
  const message = (err as Error)?.message ?? String(err);
  if (!store.location.startsWith('Redis ') || !CONNECTION_LOST.test(message) || message.startsWith('cannot reach ')) return undefined;
  return new CliError(`cannot reach ${store.location}: ${message}`);
}
