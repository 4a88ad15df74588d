// Structured logs (pino). One logger per process; each exchange gets a child carrying its request
// id. Writes go through an asynchronous destination so logging never blocks the request path.
// Never pass a credential or a raw body to a logger: callers log ids, sizes, digests and decisions.
// Free text that can quote the skill's traffic (a policy's reason, a refusal's or an error's message,
// an egress destination, a DNS name, a lock's reason) goes through `loggedText`: masked by the
// record's masker where there is one (the journal's `maskText`), else left out.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Masks free text for a log line (the record's masker); what it cannot mask it leaves out. */
export type LogTextMasker = (text: string) => string;

/** What a log line keeps of free text that could not be masked (no masker, or masking failed). */
export const TEXT_NOT_LOGGED = '[not logged: it could not be masked]';

/**
 * A stable error code of skillgate's (SG_IDLE_TIMEOUT, a request's outcome reason): its own words,
 * nothing to mask. Only `SG_` codes: a skill can write capitals too (an egress destination
 * `AKIAIOSFODNN7EXAMPLE_` is a key, not a code).
 */
const ERROR_CODE = /^SG_[A-Z0-9_]{1,60}$/;

/**
 * Free text fit for a log line: masked by `mask`, or left out without one; an error code as it is.
 * Undefined stays undefined.
 */
export function loggedText(text: string | undefined, mask: LogTextMasker | undefined): string | undefined {
  if (text === undefined || text === '' || ERROR_CODE.test(text)) return text;
  if (!mask) return TEXT_NOT_LOGGED;
  try {
    return mask(text);
  } catch {
    return TEXT_NOT_LOGGED;
  }
}

/**
 * An error fit for a log line: its type, its message through loggedText (a message can quote what
 * it failed on — a value, a name, a fragment of a body) and its stack frames without the message
 * the stack repeats.
 */
export function loggedError(err: unknown, mask: LogTextMasker | undefined): { type: string; message: string | undefined; stack?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: loggedText(String(err), mask) };
  const frames = err.stack?.split('\n').filter((l) => l.startsWith('    at ')).join('\n');
  return { type: err.name, message: loggedText(err.message, mask), ...(frames ? { stack: frames } : {}) };
}

export function createLogger(level: string, component = 'sidecar'): Logger {
  return pino(
    {
      level,
      base: { component },
      redact: { paths: ['*.authorization', '*["x-api-key"]', '*.apiKey', '*.token'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}
