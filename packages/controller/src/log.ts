// The controller's logger: pino, structured. Callers log ids (jti, lock name, owner id), never a
// token, a credential or a SCIM bearer secret.
import { pino, type Logger } from 'pino';
import type { FeedLog } from '@skillgate/identity';

export type { Logger };

export function createLogger(level = 'info'): Logger {
  return pino({ name: 'skillgate-controller', level, redact: ['token', 'access_token', 'subject_token', 'apiKey', 'authorization'] });
}

export function feedLog(log: Logger): FeedLog {
  return (level, msg, fields) => log[level](fields ?? {}, msg);
}
