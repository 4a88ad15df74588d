// The journal backed by the session record (@skillgate/record): every request, decision, response,
// SSE event, end, refusal and egress attempt becomes a hash-chained session event. Bodies are
// recorded as masked copies (record-mode masking, @skillgate/masking): the record never holds a raw
// sensitive value or a credential. The request event is awaited (durable before forward: the
// recorder resolves only once Redis or the local spool holds it, and rejects with 503 otherwise);
// everything after it is pipelined and never blocks the stream. A failure to mask never records
// raw text: the body is then recorded by digest only.
import type { IncomingHttpHeaders } from 'node:http';
import type { RecordingSpec, SkillIdentity } from '@skillgate/api';
import type { Finding, Masker } from '@skillgate/masking';
// Subpath imports: the package index also loads the Redis store, which a local sidecar never needs.
import { recordHeaders, requestData, sha256Hex, type EventDraft, type RecordedFinding, type SessionSource } from '@skillgate/record/event';
import { chooseSession, type PreviousSession } from '@skillgate/record/session-key';
import { StreamBatcher } from '@skillgate/record/stream-batch';
import type { SessionRecorder } from '@skillgate/record/recorder';
import { uploadsFiles, type SseEvent } from '@skillgate/wire';
import type { Exchange } from './exchange.js';
import { uploadReader } from './file-masking.js';
import { DenialBudget } from './denial-budget.js';
import type { EgressAttempt, Journal } from './ports/journal.js';
import type { Logger } from './log.js';

/** Requests refused before they had a session, recorded one by one at most this often a second. */
const PRE_SESSION_REFUSALS_PER_SECOND = 50;

export interface RecordJournalOptions {
  recorder: SessionRecorder;
  /** The masker of the policy in force (record mode at least); undefined records digests only. */
  masker: () => Masker | undefined;
  recording: () => RecordingSpec | undefined;
  /** The skill identity, for events that belong to no Claude request (egress attempts). */
  identity: () => SkillIdentity;
  /** How many bytes of an upload record-mode masking reads on the side (default 4 MiB). */
  readUploadBytes?: number;
  /** How long each request event took to become durable (seconds), for metrics. */
  onDurable?: (seconds: number) => void;
  /** Findings counted in metrics, by direction. */
  onFindings?: (direction: 'request' | 'response', findings: readonly Finding[]) => void;
  log: Logger;
  now?: () => number;
}

interface ExchangeRecord {
  sessionSource: SessionSource;
  /** Policies that allowed the request: recorded on the request event instead of a decision event. */
  allowedBy?: string[];
  headAt?: number;
  stream?: boolean;
  responseHeaders?: Record<string, string>;
  responseRecorded?: boolean;
  masker?: ReturnType<Masker['createRecordStreamMasker']>;
  findingsSeen: number;
  /** When the stream event the masker last put out arrived (ms after the response head). */
  lastT: number;
  batcher?: StreamBatcher;
  events: number;
}

// Event data below is built with its members in canonical (sorted) order, so sealing serialises it
// without a copy (canonical.ts); the sealed bytes are the same either way.
const toRecorded = (f: Finding): RecordedFinding => ({
  end: f.end, fingerprint: f.fingerprint, start: f.start, ...(f.subtype ? { subtype: f.subtype } : {}), type: f.type,
});
/** An upload's summary for the record: its findings as recorded findings, each naming its file. */
const recordedUpload = (u: NonNullable<Exchange['uploaded']>) => ({
  bytes: u.bytes,
  ...(u.findings?.length ? { findings: u.findings.map((f) => ({ ...toRecorded(f), ...(f.path ? { path: f.path } : {}) })) } : {}),
  ...(u.found ? { found: u.found } : {}),
  sha256: u.sha256,
  ...(u.unread ? { unread: u.unread } : {}),
});

export function recordJournal(opts: RecordJournalOptions): Journal {
  const now = opts.now ?? Date.now;
  const state = new WeakMap<Exchange, ExchangeRecord>();
  const refusalBudget = new DenialBudget(PRE_SESSION_REFUSALS_PER_SECOND, now);
  /** When each SSE event arrived (ms after its response head), for the record's pace. */
  const arrivedAt = new WeakMap<SseEvent, number>();
  let previous: PreviousSession | undefined;
  // The session id this journal minted last (a new time-gap session), until its first event: nothing
  // is stored under it yet, so that event needs no stored head and stays recordable (spooled) while
  // the store is away. Said once only: the recorder keeps the head from then on, and should it
  // forget it (it keeps a bounded number), it must read it back rather than start the chain again.
  let minted: string | undefined;
  const isNew = (sessionId: string): boolean => {
    if (sessionId !== minted) return false;
    minted = undefined;
    return true;
  };

  // Nothing waits for these events (only the request event is in front of the forward): their
  // writes linger briefly and ride along with the next request's (SessionRecorder lingerMs).
  const append = (draft: EventDraft): void => {
    opts.recorder.append(draft, { linger: true, newSession: isNew(draft.sessionId) }).catch((err: Error) => opts.log.error({ err: err.message, kind: draft.kind, requestId: draft.requestId }, 'session event not recorded'));
  };
  const draftBase = (x: Exchange) => ({ sessionId: x.sessionId!, identity: x.identity!, requestId: x.id });
  const bodiesRecorded = (): boolean => (opts.recording()?.bodies ?? 'masked') === 'masked';

  /** The request body as the record keeps it (`bodies`: the recording keeps masked bodies). */
  function maskedRequestBody(x: Exchange, bodies: boolean, masker: Masker | undefined): { text?: string; findings: RecordedFinding[] } {
    if (!x.body || !bodies) return { findings: [] };
    // A rewriting masking mode already masked this body with the same policy, and left it here only
    // when the record's walk (forRecord) would come out the same (masking-modes.ts: nothing that
    // only the record masks — metadata, thinking, server tool results, base64 media — differs).
    if (x.maskedRequest) {
      return { text: x.maskedRequest.text, findings: x.maskedRequest.findings.map(toRecorded) };
    }
    if (!masker) return { findings: [] };
    try {
      if (x.request) {
        const r = masker.maskMessagesRequest(x.request, { forRecord: true });
        opts.onFindings?.('request', r.findings);
        // Nothing found and nothing left out: the body as the skill sent it is its masked copy (no re-serialisation).
        if (r.findings.length === 0 && !r.media) return { text: x.body.toString('utf8'), findings: [] };
        return { text: JSON.stringify(r.body), findings: r.findings.map(toRecorded) };
      }
      const r = masker.maskText(x.body.toString('utf8'));
      opts.onFindings?.('request', r.findings);
      return { text: r.masked, findings: r.findings.map(toRecorded) };
    } catch (err) {
      opts.log.error({ requestId: x.id, err: (err as Error).message }, 'masking failed; recording the request body by digest only');
      return { findings: [] };
    }
  }

  function flushStream(x: Exchange, rec: ExchangeRecord, final: boolean): void {
    if (!rec.batcher) return;
    if (final && rec.masker) {
      try {
        recordMasked(x, rec, rec.masker.end());
      } catch (err) {
        opts.log.error({ requestId: x.id, err: (err as Error).message }, 'stream masking failed at end; held text dropped from the record');
      }
    }
    const batch = rec.batcher.flush();
    if (batch) append({ ...draftBase(x), kind: 'stream_event', data: batch });
  }

  /**
   * The events the stream masker put out for one input (masked or untouched; a block's events come
   * out together at its stop), the findings made meanwhile reported with the last of them. Each
   * keeps the time its input arrived (an event the masker made: the input it was made from).
   */
  function recordMasked(x: Exchange, rec: ExchangeRecord, outs: readonly SseEvent[]): void {
    const findings = rec.masker ? rec.masker.findings.slice(rec.findingsSeen) : [];
    rec.findingsSeen += findings.length;
    if (findings.length) opts.onFindings?.('response', findings);
    for (let i = 0; i < outs.length; i++) {
      const ev = outs[i]!;
      const t = arrivedAt.get(rec.masker?.sourceOf?.(ev) ?? ev) ?? rec.lastT;
      rec.lastT = t;
      addStreamEvent(x, rec, ev, i === outs.length - 1 ? findings.map(toRecorded) : [], t);
    }
  }

  function addStreamEvent(x: Exchange, rec: ExchangeRecord, ev: SseEvent, findings: RecordedFinding[], t: number): void {
    rec.events++;
    const batch = rec.batcher!.push(ev.event, ev.data, t, findings);
    if (batch) append({ ...draftBase(x), kind: 'stream_event', data: batch });
  }

  return {
    keepsResponseBodies: true,

    sessionFor(x) {
      const choice = chooseSession({ identity: x.identity!, headers: x.req.headers, body: x.request }, opts.recording(), previous, now());
      if (choice.source === 'time-gap') previous = { sessionId: choice.sessionId, lastSeenMs: now() };
      if (choice.isNew) minted = choice.sessionId;
      state.set(x, { sessionSource: choice.source, findingsSeen: 0, lastT: 0, events: 0 });
      return choice.sessionId;
    },

    readUpload(x) {
      if (!uploadsFiles(x.route.kind) || !bodiesRecorded()) return undefined;
      const masker = opts.masker();
      return masker ? uploadReader(x.req.headers['content-type'], masker, (found) => opts.onFindings?.('request', found), opts.readUploadBytes ?? 4 * 1024 * 1024) : undefined;
    },

    async request(x) {
      const rec = state.get(x);
      const bodies = bodiesRecorded();
      const masker = bodies ? opts.masker() : undefined;
      const masked = maskedRequestBody(x, bodies, masker);
      const streamed = !x.body && x.route.body === 'stream';
      const forwarded = x.upstreamBody ?? x.body ?? (streamed ? { streamedBytes: Number(x.req.headers['content-length'] ?? 0) || 0 } : Buffer.alloc(0));
      const data = requestData({
        method: x.req.method ?? 'GET', url: x.url, headers: x.req.headers, forwarded,
        // The skill's own headers (x-customer-email: …) are masked as its body is.
        maskHeader: masker ? (value) => {
          const r = masker.maskText(value);
          if (r.findings.length) opts.onFindings?.('request', r.findings);
          return { masked: r.masked, findings: r.findings.map(toRecorded) };
        } : null,
        ...(masked.text !== undefined ? { maskedBody: masked.text } : {}),
        ...(x.model ? { model: x.model } : {}),
        ...(x.request ? { stream: x.stream === true } : {}),
        findings: masked.findings,
        ...(rec ? { sessionSource: rec.sessionSource } : {}),
      });
      if (rec?.allowedBy) data.allowedBy = rec.allowedBy;
      const started = process.hrtime.bigint();
      await opts.recorder.append({ ...draftBase(x), kind: 'request', data }, { newSession: isNew(x.sessionId!) });
      opts.onDurable?.(Number(process.hrtime.bigint() - started) / 1e9);
    },

    responseHead(x, headers: IncomingHttpHeaders, stream) {
      const rec = state.get(x);
      if (!rec) return;
      rec.headAt = now();
      rec.stream = stream;
      rec.responseHeaders = recordHeaders(headers);
      if (stream) {
        rec.responseRecorded = true;
        append({ ...draftBase(x), kind: 'response', data: { headers: rec.responseHeaders, status: x.upstreamStatus ?? 0, stream: true } });
        rec.batcher = new StreamBatcher();
        const masker = bodiesRecorded() ? opts.masker() : undefined;
        if (masker) rec.masker = masker.createRecordStreamMasker();
      }
    },

    streamEvent(x, ev) {
      const rec = state.get(x);
      if (!rec?.batcher || !bodiesRecorded()) return;
      const t = now() - (rec.headAt ?? now());
      if (!rec.masker) return addStreamEvent(x, rec, { ...ev, data: '[body not recorded: no masker]' }, [], t);
      try {
        arrivedAt.set(ev, t);
        recordMasked(x, rec, rec.masker.push(ev));
      } catch (err) {
        // Never record raw text: drop this event's content from the record, keep its place.
        opts.log.error({ requestId: x.id, err: (err as Error).message }, 'stream masking failed; event recorded without data');
        addStreamEvent(x, rec, { event: ev.event, data: '[masking failed: not recorded]', raw: Buffer.alloc(0) }, [], t);
      }
    },

    responseBody(x, body) {
      const rec = state.get(x);
      if (!rec || rec.responseRecorded) return;
      rec.responseRecorded = true;
      let text: string | undefined;
      let findings: RecordedFinding[] = [];
      const masker = bodiesRecorded() ? opts.masker() : undefined;
      if (masker && body.length) {
        try {
          // Nothing found: the answer as Claude sent it (no re-serialisation).
          const r = masker.maskAnswerText(body.toString('utf8'), { forRecord: true });
          text = r.masked;
          findings = r.findings.map(toRecorded);
          opts.onFindings?.('response', r.findings);
        } catch (err) {
          opts.log.error({ requestId: x.id, err: (err as Error).message }, 'masking failed; recording the response by digest only');
        }
      }
      append({
        ...draftBase(x), kind: 'response',
        data: {
          ...(text !== undefined ? { body: text } : {}), bodyBytes: body.length, bodySha256: sha256Hex(body),
          ...(findings.length ? { findings } : {}), headers: rec.responseHeaders ?? {}, status: x.upstreamStatus ?? 0, stream: false,
          ...(x.uploaded ? { upload: recordedUpload(x.uploaded) } : {}),
        },
      });
    },

    end(x) {
      const rec = state.get(x);
      if (!x.sessionId || !x.identity) return refusedUnrecorded(x);
      if (rec && rec.headAt !== undefined && !rec.responseRecorded) {
        rec.responseRecorded = true;
        append({ ...draftBase(x), kind: 'response', data: { bodyBytes: x.bytesOut, headers: rec.responseHeaders ?? {}, status: x.upstreamStatus ?? 0, stream: false, ...(x.uploaded ? { upload: recordedUpload(x.uploaded) } : {}) } });
      }
      if (rec?.stream) flushStream(x, rec, true);
      if (x.refusal && (x.outcome === 'refused' || x.outcome === 'killed')) {
        append({ ...draftBase(x), kind: 'refusal', data: x.refusal });
      }
      if (rec?.stream || (x.outcome && x.outcome !== 'complete' && x.outcome !== 'refused')) {
        const outcome = x.outcome === 'refused' || x.outcome === undefined ? 'error' : x.outcome;
        append({
          ...draftBase(x), kind: 'stream_end',
          data: { bytes: x.bytesOut, events: rec?.events ?? 0, ms: Number(process.hrtime.bigint() - x.receivedAt) / 1e6, outcome, ...(x.outcomeReason ? { reason: x.outcomeReason } : {}) },
        });
      }
    },

    egress(a: EgressAttempt) {
      const identity = opts.identity();
      const sessionId = currentSession(identity);
      append({
        kind: 'egress', sessionId, identity, requestId: a.requestId,
        data: { destination: a.destination, method: a.method, allowed: a.allowed, ...(a.reason ? { reason: a.reason } : {}) },
      });
    },

    skillEvent(e) {
      const identity = opts.identity();
      const sessionId = currentSession(identity);
      if (e.kind === 'lock') append({ kind: 'lock', sessionId, identity, data: { target: e.target, lock: e.lock, ...(e.reason ? { reason: e.reason } : {}) } });
      else append({ kind: 'revocation', sessionId, identity, data: { token: e.token, ...(e.reason ? { reason: e.reason } : {}) } });
    },

    decision(x, d) {
      if (!x.sessionId || !x.identity) return;
      // A plain allow rides on the request event (one event fewer per request); denials, holds and
      // rate limits are events of their own.
      const rec = state.get(x);
      if (d.action === 'allow' && rec) {
        rec.allowedBy = d.policies ?? [];
        return;
      }
      append({ ...draftBase(x), kind: 'decision', data: d });
    },

    approval(x, a) {
      if (!x.sessionId || !x.identity) return;
      append({ ...draftBase(x), kind: 'approval', data: a });
    },

    async close() {
      await opts.recorder.close();
    },
  };

  /**
   * A request refused before it had a session (a path or body skillgate will not forward: a member
   * named twice, bytes that are not UTF-8, too large): the skill's attempt is evidence all the same.
   * Its refusal joins the skill's current session, as an egress attempt does, up to a budget a second
   * (past it, only counted in skillgate_sidecar_refusals_total).
   */
  function refusedUnrecorded(x: Exchange): void {
    if (!x.refusal || x.outcome !== 'refused' || !refusalBudget.take().journal) return;
    const identity = x.identity ?? opts.identity();
    append({
      kind: 'refusal', sessionId: currentSession(identity), identity, requestId: x.id,
      data: { ...x.refusal, method: x.req.method ?? 'GET', path: x.route.path },
    });
  }

  /**
   * Where events that belong to no Claude request go (egress attempts, locks, revocations, requests
   * refused before they had a session): the skill's current session, or a session of their own when
   * the skill has not called Claude yet.
   */
  function currentSession(identity: SkillIdentity): string {
    return previous?.sessionId ?? egressSession(identity);
  }

  function egressSession(identity: SkillIdentity): string {
    return `ses_egress_${sha256Hex(Buffer.from(`${identity.namespace}/${identity.skill}/${identity.pod}`)).slice(0, 24)}`;
  }
}
