// The journal port: what the request path tells the session record. `request` must be durable
// before anything is forwarded (fail closed); the rest is pipelined and never blocks the stream.
// The default journal writes one structured log line per request, for runs without a record store.
import type { SseEvent } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { Logger } from '../log.js';

export interface EgressAttempt {
  requestId: string;
  method: string;
  destination: string; // host:port
  allowed: boolean;
  reason?: string;
  bytesUp?: number;
  bytesDown?: number;
}

export interface Journal {
  /** The session this exchange belongs to (header, container id, metadata.user_id, or time gap). */
  sessionFor(x: Exchange): string;
  /** Resolves once the request event is durable; rejects with a GatewayError to refuse the request. */
  request(x: Exchange): Promise<void>;
  /** Response status and headers arrived (non-blocking). */
  responseHead(x: Exchange): void;
  /** One SSE event as the skill received it (non-blocking). */
  streamEvent(x: Exchange, ev: SseEvent): void;
  /** A non-streaming response body as the skill received it, when small enough to keep. */
  responseBody(x: Exchange, body: Buffer): void;
  /** The exchange ended (complete, aborted, killed, refused...). */
  end(x: Exchange): void;
  egress(attempt: EgressAttempt): void;
  close(): Promise<void>;
}

/** A journal that keeps nothing but a structured log line per request and per egress attempt. */
export function logJournal(log: Logger): Journal {
  return {
    sessionFor: (x) => String(x.req.headers['x-claude-code-session-id'] ?? 'default'),
    request: async () => undefined,
    responseHead: () => undefined,
    streamEvent: () => undefined,
    responseBody: () => undefined,
    end: (x) => {
      log.info({
        requestId: x.id, route: x.route.kind, method: x.req.method, path: x.route.path, model: x.model, stream: x.stream,
        status: x.upstreamStatus ?? x.res.statusCode, outcome: x.outcome, reason: x.outcomeReason, bytesIn: x.bytesIn, bytesOut: x.bytesOut,
        ms: Number(process.hrtime.bigint() - x.receivedAt) / 1e6,
      }, 'request');
    },
    egress: (a) => log.info({ ...a }, a.allowed ? 'egress allowed' : 'egress denied'),
    close: async () => undefined,
  };
}
