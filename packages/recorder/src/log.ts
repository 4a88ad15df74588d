// The recorder's logger: pino, JSON on stderr. Lines carry stream names, counts and ids, never
// event payloads.
import { pino, type Logger } from 'pino';

export function recorderLogger(level = process.env.SKILLGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'skillgate-recorder', level }, pino.destination(2));
}
