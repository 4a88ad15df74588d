// Structured logs (pino). One logger per process; each exchange gets a child carrying its request
// id. Writes go through an asynchronous destination so logging never blocks the request path.
// Never pass a credential or a raw body to a logger: callers log ids, sizes, digests and decisions.
import { pino, type Logger } from 'pino';

export type { Logger };

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
