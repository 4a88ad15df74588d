// The journal port: what the request path tells the session record. `request` must be durable
// before anything is forwarded (fail closed); the rest is pipelined and never blocks the stream.
// The default journal writes one structured log line per request, for runs without a record store.
// Log lines never quote the skill's traffic raw: free text (reasons, egress destinations, DNS names,
// lock names) is masked by the journal's `maskText` (the record's masker), or left out without one.
import type { IncomingHttpHeaders } from 'node:http';
import type { SseEvent } from '@skillgate/wire';
import { isIpDestination, pathShape, type ApprovalData as ApprovalNote, type DecisionData as DecisionNote } from '@skillgate/record/event';
import type { Exchange } from '../exchange.js';
import type { UploadFilter } from './guard.js';
import { loggedText, type Logger, type LogTextMasker } from '../log.js';

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
  /** Whether non-streaming response bodies should be handed to `responseBody` (a copy is kept). */
  readonly keepsResponseBodies: boolean;
  /** The session this exchange belongs to (header, container id, metadata.user_id, or time gap). */
  sessionFor(x: Exchange): string;
  /** Resolves once the request event is durable; rejects with a GatewayError to refuse the request. */
  request(x: Exchange): Promise<void>;
  /**
   * For an upload no masking mode rewrites: a reader of its bytes on the side, for the record (it
   * passes every byte on as it came). Undefined: the record keeps the upload's size and digest only.
   */
  readUpload?(x: Exchange): UploadFilter | undefined;
  /** Response status and headers arrived (non-blocking); `stream` when the body is SSE. */
  responseHead(x: Exchange, headers: IncomingHttpHeaders, stream: boolean): void;
  /** One SSE event as the skill received it (non-blocking). */
  streamEvent(x: Exchange, ev: SseEvent): void;
  /** A non-streaming response body as the skill received it, when small enough to keep. */
  responseBody(x: Exchange, body: Buffer): void;
  /** The exchange ended (complete, aborted, killed, refused...). */
  end(x: Exchange): void;
  egress(attempt: EgressAttempt): void;
  /** The policy decision on an exchange (non-blocking). */
  decision(x: Exchange, d: DecisionNote): void;
  /** A step of a held request's approval (non-blocking). */
  approval(x: Exchange, a: ApprovalNote): void;
  /** Something that happened to the skill outside any request: a lock took effect, its token was revoked. */
  skillEvent(e: SkillEventNote): void;
  /**
   * Free text masked by the record's masker, for log lines (withLogLines, the egress proxy, the
   * response stage); a journal without a masker has none, and such text is left out of the logs.
   */
  maskText?: LogTextMasker;
  close(): Promise<void>;
}

export type SkillEventNote =
  | { kind: 'lock'; target: string; lock: string; reason?: string }
  | { kind: 'revocation'; token: string; reason?: string };

/** The decision and approval notes have the record's shapes (the record is the journal of record). */
export type { DecisionData as DecisionNote, ApprovalData as ApprovalNote } from '@skillgate/record/event';

/**
 * A journal that also writes the structured log lines of `logJournal` (one per request, one per
 * egress attempt), so operators see them whatever keeps the record.
 */
export function withLogLines(journal: Journal, log: Logger): Journal {
  const lines = logJournal(log, journal.maskText);
  return {
    ...journal,
    keepsResponseBodies: journal.keepsResponseBodies,
    sessionFor: (x) => journal.sessionFor(x),
    request: (x) => journal.request(x),
    end(x) {
      journal.end(x);
      lines.end(x);
    },
    egress(a) {
      journal.egress(a);
      lines.egress(a);
    },
    skillEvent(e) {
      journal.skillEvent(e);
      lines.skillEvent(e);
    },
  };
}

/**
 * A journal that keeps nothing but a structured log line per request and per egress attempt, its
 * free text masked by `mask` (left out without one).
 */
export function logJournal(log: Logger, mask?: LogTextMasker): Journal {
  const text = (t: string | undefined): string | undefined => loggedText(t, mask);
  return {
    keepsResponseBodies: false,
    sessionFor: (x) => String(x.req.headers['x-claude-code-session-id'] ?? 'default'),
    request: async () => undefined,
    responseHead: () => undefined,
    streamEvent: () => undefined,
    responseBody: () => undefined,
    end: (x) => {
      log.info({
        // The path in its shape: a segment the skill wrote (/v1/files/4111-1111-1111-1111) is no log's to keep.
        requestId: x.id, route: x.route.kind, method: x.req.method, path: pathShape(x.route.path), model: x.model, stream: x.stream,
        // What the upstream answered, else what the skill was sent: 0 when it was sent nothing.
        status: x.upstreamStatus ?? (x.res.headersSent ? x.res.statusCode : 0), outcome: x.outcome, reason: text(x.outcomeReason), bytesIn: x.bytesIn, bytesOut: x.bytesOut,
        ms: Number(process.hrtime.bigint() - x.receivedAt) / 1e6,
      }, 'request');
    },
    egress: (a) => {
      // An IP literal as it is, as the record keeps it (recordedDestination).
      const line = { ...a, destination: isIpDestination(a.destination) ? a.destination : text(a.destination), ...(a.reason !== undefined ? { reason: text(a.reason) } : {}) };
      if (a.allowed) log.info(line, 'egress allowed');
      else log.warn(line, 'egress denied');
    },
    decision: (x, d) => log.info({ requestId: x.id, ...d, ...(d.reason !== undefined ? { reason: text(d.reason) } : {}) }, 'policy decision'),
    approval: (x, a) => log.info({ requestId: x.id, ...a, ...(a.reason !== undefined ? { reason: text(a.reason) } : {}) }, 'approval'),
    skillEvent: (e) => log.warn(
      e.kind === 'lock' ? { ...e, target: text(e.target), lock: text(e.lock), ...(e.reason !== undefined ? { reason: text(e.reason) } : {}) }
        : { ...e, ...(e.reason !== undefined ? { reason: text(e.reason) } : {}) },
      e.kind === 'lock' ? 'lock in force for this skill' : 'workload token revoked',
    ),
    ...(mask ? { maskText: mask } : {}),
    close: async () => undefined,
  };
}
