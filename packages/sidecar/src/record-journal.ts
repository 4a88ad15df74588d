// The journal backed by the session record (@skillgate/record): every request, decision, response,
// SSE event, end, refusal and egress attempt becomes a hash-chained session event. Bodies are
// recorded as masked copies (record-mode masking, @skillgate/masking): the record never holds a raw
// sensitive value or a credential. The request event is awaited (durable before forward: the
// recorder resolves only once Redis or the local spool holds it, and rejects with 503 otherwise);
// everything after it is pipelined and never blocks the stream. A failure to mask never records
// raw text: the body is then recorded by digest only. An exchange's events after its request (the
// response, its stream's events, its end) are built (masked, digested, sealed) by work handed to the
// recorder's `later`: after the skill has what it asked for, while the next write to the store
// travels (a sequential skill's next request waits there for its own event, and would otherwise also
// wait for this work); they keep their order, and the next request's event may go ahead of them in
// the chain. Decisions and approvals, in front of their request, are sealed at once. Everything
// else the skill can write reaches the record masked too: header values (the request's and the answer's: a download's
// content-disposition names the file), the path, an egress attempt's destination (a DNS name or URL
// can carry data out), and the free text of decisions, refusals, approvals, egress attempts, locks
// and revocations (a policy's reason or a parser's error quotes what the skill sent; a lock's name
// and reason are an admin's words); a Message Batch's results (JSONL) are masked a line at a time,
// each as an answer. The same masker serves the log lines of withLogLines (`maskText`).
import type { IncomingHttpHeaders } from 'node:http';
import type { RecordingSpec, SkillIdentity } from '@skillgate/api';
import type { Finding, Masker, MaskResult } from '@skillgate/masking';
// Subpath imports: the package index also loads the Redis store, which a local sidecar never needs.
import {
  recordHeaders, recordedDestination, recordedPath, requestData, sha256Hex, type ApprovalData, type DecisionData, type EgressData,
  type EventDraft, type HeaderMasker, type LockData, type RecordedFinding, type RefusalData, type RevocationData, type SessionSource,
} from '@skillgate/record/event';
import { chooseSession, sessionIds, type PreviousSession } from '@skillgate/record/session-key';
import { StreamBatcher } from '@skillgate/record/stream-batch';
import type { SessionRecorder } from '@skillgate/record/recorder';
import { contentCodingOf, decodeBody, isRecord, parseJson, uploadsFiles, type SseEvent } from '@skillgate/wire';
import type { Exchange } from './exchange.js';
import { uploadReader } from './file-masking.js';
import { DenialBudget } from './denial-budget.js';
import type { EgressAttempt, Journal, SkillEventNote } from './ports/journal.js';
import { TEXT_NOT_LOGGED, type Logger } from './log.js';

/** Requests refused before they had a session, recorded one by one at most this often a second. */
const PRE_SESSION_REFUSALS_PER_SECOND = 50;

export interface RecordJournalOptions {
  recorder: SessionRecorder;
  /** The masker of the policy in force (record mode at least); undefined records digests only. */
  masker: () => Masker | undefined;
  /**
   * The installation masking key, which keys the ids of sessions named by the request (a Claude
   * Code session, `metadata.user_id`…: sessionIdForKey); absent, those ids are plain hashes.
   */
  sessionKeySecret?: () => string | undefined;
  recording: () => RecordingSpec | undefined;
  /** The skill identity, for events that belong to no Claude request (egress attempts). */
  identity: () => SkillIdentity;
  /** How many bytes of an upload record-mode masking reads on the side (default 4 MiB). */
  readUploadBytes?: number;
  /** The most of an answer's text the record keeps: an encoded answer is decoded up to it (default 32 MiB). */
  answerTextBytes?: number;
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
  /** The answer's content coding, when the upstream sent it encoded (the record reads it decoded). */
  coding?: string;
  /** Findings in the answer's header values, for the response event. */
  responseHeaderFindings?: RecordedFinding[];
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
/** A finding as the record keeps it, naming the text it lies in (`path`): a member, a header, a line of results. */
const toRecordedAt = (f: Finding, path: string): RecordedFinding => ({ ...toRecorded(f), path });
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
  const idForKey = sessionIds();
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

  /** Work that builds an exchange's events after its request: run in order, while the next write travels (see the head of this file). */
  const later = (task: () => void): void => opts.recorder.later(task);
  // Nothing waits for these events (only the request event is in front of the forward): their
  // writes linger briefly and ride along with the next request's (SessionRecorder lingerMs).
  const append = (draft: EventDraft): void => {
    opts.recorder.append(draft, { linger: true, newSession: isNew(draft.sessionId) }).catch((err: Error) => opts.log.error({ err: err.message, kind: draft.kind, requestId: draft.requestId }, 'session event not recorded'));
  };
  const draftBase = (x: Exchange) => ({ sessionId: x.sessionId!, identity: x.identity!, requestId: x.id });
  const bodiesRecorded = (): boolean => (opts.recording()?.bodies ?? 'masked') === 'masked';

  /**
   * Header values (the request's and the answer's), the path, the query and an egress destination as
   * the record keeps them: masked, whatever the policy says of bodies (they are not bodies, and
   * masked they give nothing away); null without a masker (values not recorded, the path in its
   * shape). A value every exchange repeats costs a lookup (recordHeaders), a path of the API's own
   * words nothing (recordedPath).
   */
  let valueMasking: { masker: Masker; request: HeaderMasker; response: HeaderMasker } | undefined;
  const valueMasker = (direction: 'request' | 'response' = 'request'): HeaderMasker | null => {
    const masker = opts.masker();
    if (!masker) return null;
    // One function per masker and direction (findings are counted by direction): recordHeaders
    // remembers the values it found clean by each.
    if (valueMasking?.masker !== masker) {
      const maskFor = (dir: 'request' | 'response'): HeaderMasker => (value) => {
        const r = masker.maskText(value);
        if (r.findings.length) opts.onFindings?.(dir, r.findings);
        return { masked: r.masked, findings: r.findings.map(toRecorded) };
      };
      valueMasking = { masker, request: maskFor('request'), response: maskFor('response') };
    }
    return valueMasking[direction];
  };

  /**
   * Free text for the record (a decision's reason, a refusal's message): masked, its findings added
   * to `findings` under `path`. Without a masker, or should masking fail, a fixed phrase instead:
   * such text can quote what the skill sent. Not counted in metrics: what it quotes was counted as
   * the request's, or never reached Claude.
   */
  function recordedText(text: string, path: string, findings: RecordedFinding[]): string {
    const r = maskedFreeText(text, 'the record');
    if (!r) return TEXT_NOT_RECORDED;
    for (const f of r.findings) findings.push(toRecordedAt(f, path));
    return r.masked;
  }

  /** The free text masked last, and by which masker. */
  let lastFreeText: { masker: Masker; text: string; result: MaskResult } | undefined;

  /**
   * Free text masked (a parser's cut excerpt left out), or undefined without a masker or should
   * masking fail (a failure logged when `where` names what the text was for).
   */
  function maskedFreeText(text: string, where?: string): MaskResult | undefined {
    const masker = opts.masker();
    if (!masker) return undefined;
    // The same text often goes to a log line and to the record (a stream's end reason): masked once.
    if (lastFreeText?.masker === masker && lastFreeText.text === text) return lastFreeText.result;
    try {
      const result = masker.maskText(withoutCutQuotes(text));
      lastFreeText = { masker, text, result };
      return result;
    } catch (err) {
      if (where) opts.log.error({ err: (err as Error).message }, `masking failed; free text left out of ${where}`);
      return undefined;
    }
  }

  /**
   * An egress attempt as the record keeps it (members in canonical order): its destination masked
   * as a value (recordedDestination: a clean host as it is), its reason as free text (a lock's
   * reason, a refusal's message). Masking that fails records neither.
   */
  function recordedEgress(a: EgressAttempt): EgressData {
    const findings: RecordedFinding[] = [];
    let destination: string;
    try {
      destination = recordedDestination(a.destination, valueMasker(), findings);
    } catch (err) {
      opts.log.error({ err: (err as Error).message }, 'masking failed; egress destination left out of the record');
      destination = TEXT_NOT_RECORDED;
      findings.length = 0;
    }
    const reason = a.reason ? recordedText(a.reason, 'reason', findings) : undefined;
    return {
      allowed: a.allowed, ...(a.bytesDown !== undefined ? { bytesDown: a.bytesDown } : {}), ...(a.bytesUp !== undefined ? { bytesUp: a.bytesUp } : {}),
      destination, ...(findings.length ? { findings } : {}), method: a.method, ...(reason !== undefined ? { reason } : {}),
    };
  }

  /** A lock's or a revocation's data as the record keeps it: its lock name, target and reason masked as free text. */
  function recordedLock(e: Extract<SkillEventNote, { kind: 'lock' }>): LockData {
    const findings: RecordedFinding[] = [];
    const lock = recordedText(e.lock, 'lock', findings);
    const reason = e.reason ? recordedText(e.reason, 'reason', findings) : undefined;
    const target = recordedText(e.target, 'target', findings);
    return { ...(findings.length ? { findings } : {}), lock, ...(reason !== undefined ? { reason } : {}), target };
  }

  function recordedRevocation(e: Extract<SkillEventNote, { kind: 'revocation' }>): RevocationData {
    const findings: RecordedFinding[] = [];
    const reason = e.reason ? recordedText(e.reason, 'reason', findings) : undefined;
    return { ...(findings.length ? { findings } : {}), ...(reason !== undefined ? { reason } : {}), token: e.token };
  }

  /** A decision's data as the record keeps it (members in canonical order, reason masked). */
  function recordedDecision(d: DecisionData): DecisionData {
    const findings: RecordedFinding[] = [];
    const reason = d.reason !== undefined ? recordedText(d.reason, 'reason', findings) : undefined;
    return {
      action: d.action, ...(findings.length ? { findings } : {}), ...(d.policies ? { policies: d.policies } : {}),
      ...(reason !== undefined ? { reason } : {}), ...(d.rule !== undefined ? { rule: d.rule } : {}),
    };
  }

  /** An approval step as the record keeps it (its reason masked: a denial's reasons are people's words). */
  function recordedApproval(a: ApprovalData): ApprovalData {
    const findings: RecordedFinding[] = [];
    const reason = a.reason !== undefined ? recordedText(a.reason, 'reason', findings) : undefined;
    return {
      approval: a.approval, ...(a.by !== undefined ? { by: a.by } : {}), ...(findings.length ? { findings } : {}),
      ...(reason !== undefined ? { reason } : {}), state: a.state,
    };
  }

  /** A refusal as the record keeps it: its message masked (the skill was answered it whole), and for a request never recorded, what it asked for. */
  function recordedRefusal(x: Exchange, refusal: NonNullable<Exchange['refusal']>, unrecorded: boolean): RefusalData {
    const findings: RecordedFinding[] = [];
    const message = recordedText(refusal.message, 'message', findings);
    const path = unrecorded ? recordedPath(x.route.path, valueMasker(), findings) : undefined;
    return {
      code: refusal.code, ...(findings.length ? { findings } : {}), message,
      ...(unrecorded ? { method: x.req.method ?? 'GET', path } : {}), status: refusal.status, type: refusal.type,
    };
  }

  /**
   * A Message Batch's results (JSONL) as the record keeps them: each line masked as an answer (a
   * line is a whole JSON value; the body is not), its message as a Messages answer and the rest of
   * it (an errored result's error) string by string; a line that does not parse masked as text.
   * Lines with nothing found keep their bytes. Findings name their line: `results[i].…`.
   */
  function maskedResults(text: string, masker: Masker): MaskResult {
    const lines = text.split('\n');
    const findings: Finding[] = [];
    let changed = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      const r = maskedResultLine(line, masker);
      if (r.findings.length === 0) continue;
      changed = true;
      lines[i] = r.masked;
      for (const f of r.findings) findings.push({ ...f, path: f.path ? `results[${i}].${f.path}` : `results[${i}]` });
    }
    return { masked: changed ? lines.join('\n') : text, findings };
  }

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
      const choice = chooseSession({ identity: x.identity!, headers: x.req.headers, body: x.request }, opts.recording(), previous, now(), undefined, opts.sessionKeySecret?.(), idForKey);
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
        // Every header value (user-agent as much as x-customer-email), the path and the query are
        // the skill's to write: masked as its body is.
        maskHeader: valueMasker(),
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
      const coding = contentCodingOf(headers);
      if (coding !== undefined) rec.coding = coding;
      if (stream) rec.responseRecorded = true;
      later(() => {
        // The answer's header values are masked as the request's are: an upstream's answer can quote
        // what the skill sent (a download's content-disposition names the file). The ones the API
        // makes itself (ids, times, rate limits) are recorded as sent.
        const headerFindings: RecordedFinding[] = [];
        rec.responseHeaders = recordHeaders(headers, valueMasker('response'), headerFindings, true);
        if (headerFindings.length) rec.responseHeaderFindings = headerFindings;
        if (!stream) return;
        append({ ...draftBase(x), kind: 'response', data: { ...(rec.responseHeaderFindings ? { findings: rec.responseHeaderFindings } : {}), headers: rec.responseHeaders, status: x.upstreamStatus ?? 0, stream: true } });
        rec.batcher = new StreamBatcher();
        const masker = bodiesRecorded() ? opts.masker() : undefined;
        if (masker) rec.masker = masker.createRecordStreamMasker();
      });
    },

    streamEvent(x, ev) {
      const rec = state.get(x);
      if (!rec?.stream) return;
      const t = now() - (rec.headAt ?? now());
      later(() => {
        if (!rec.batcher || !bodiesRecorded()) return;
        if (!rec.masker) return addStreamEvent(x, rec, { ...ev, data: '[body not recorded: no masker]' }, [], t);
        try {
          arrivedAt.set(ev, t);
          recordMasked(x, rec, rec.masker.push(ev));
        } catch (err) {
          // Never record raw text: drop this event's content from the record, keep its place.
          opts.log.error({ requestId: x.id, err: (err as Error).message }, 'stream masking failed; event recorded without data');
          addStreamEvent(x, rec, { event: ev.event, data: '[masking failed: not recorded]', raw: Buffer.alloc(0) }, [], t);
        }
      });
    },

    responseBody(x, body) {
      const rec = state.get(x);
      if (!rec || rec.responseRecorded) return;
      rec.responseRecorded = true;
      later(() => responseEvent(x, rec, body));
    },

    end(x) {
      const ms = Number(process.hrtime.bigint() - x.receivedAt) / 1e6;
      // A request refused before it had a session joins the session current when it ended, not
      // one a later request starts before this work runs.
      const joins = x.sessionId && x.identity ? undefined : sessionOfStray(x.identity ?? opts.identity());
      later(() => endEvents(x, ms, joins));
    },

    egress(a: EgressAttempt) {
      append({ kind: 'egress', ...sessionOfStray(opts.identity()), requestId: a.requestId, data: recordedEgress(a) });
    },

    skillEvent(e) {
      const joins = sessionOfStray(opts.identity());
      if (e.kind === 'lock') append({ kind: 'lock', ...joins, data: recordedLock(e) });
      else append({ kind: 'revocation', ...joins, data: recordedRevocation(e) });
    },

    maskText(text) {
      return maskedFreeText(text)?.masked ?? TEXT_NOT_LOGGED;
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
      // Sealed at once, in front of the request event (a hold, then the approval that let it through).
      append({ ...draftBase(x), kind: 'decision', data: recordedDecision(d) });
    },

    approval(x, a) {
      if (!x.sessionId || !x.identity) return;
      append({ ...draftBase(x), kind: 'approval', data: recordedApproval(a) });
    },

    async close() {
      await opts.recorder.close();
    },
  };

  /** A non-streaming answer's response event: its body masked (or by digest), its headers as responseHead recorded them. */
  function responseEvent(x: Exchange, rec: ExchangeRecord, body: Buffer): void {
    let text: string | undefined;
    let findings: RecordedFinding[] = [];
    const masker = bodiesRecorded() ? opts.masker() : undefined;
    const answer = masker && body.length ? answerText(x, rec, body) : undefined;
    if (masker && answer !== undefined) {
      try {
        // Nothing found: the answer as Claude sent it (no re-serialisation). A batch's results
        // are JSON a line at a time: read whole, they are no JSON, and masked as plain text the
        // escapes of their strings (a newline is `\n`) would glue each value to the next.
        const results = x.route.kind === 'batch_results' && (x.upstreamStatus ?? 0) >= 200 && (x.upstreamStatus ?? 0) < 300;
        const r = results ? maskedResults(answer, masker) : masker.maskAnswerText(answer, { forRecord: true });
        text = r.masked;
        findings = results ? r.findings.map((f) => toRecordedAt(f, f.path!)) : r.findings.map(toRecorded);
        opts.onFindings?.('response', r.findings);
      } catch (err) {
        opts.log.error({ requestId: x.id, err: (err as Error).message }, 'masking failed; recording the response by digest only');
      }
    }
    appendAnswer(x, rec, body.length, findings, { sha256: sha256Hex(body), ...(text !== undefined ? { text } : {}) });
  }

  /** An answer's text, decoded from the content coding the upstream sent it in; undefined when it does not decode. */
  function answerText(x: Exchange, rec: ExchangeRecord, body: Buffer): string | undefined {
    if (rec.coding === undefined) return body.toString('utf8');
    try {
      return decodeBody(body, rec.coding, opts.answerTextBytes ?? DECODED_ANSWER_MAX_BYTES).toString('utf8');
    } catch (err) {
      opts.log.error({ requestId: x.id, coding: rec.coding, err: (err as Error).message }, 'the answer came encoded and could not be decoded; recording it by digest only');
      return undefined;
    }
  }

  /**
   * A non-streaming answer's response event: its body's fields (none when no copy was kept: its
   * size only), the headers responseHead recorded, and their findings after the body's.
   */
  function appendAnswer(x: Exchange, rec: ExchangeRecord, bodyBytes: number, bodyFindings: RecordedFinding[], body?: { text?: string; sha256: string }): void {
    const findings = rec.responseHeaderFindings ? [...bodyFindings, ...rec.responseHeaderFindings] : bodyFindings;
    append({
      ...draftBase(x), kind: 'response',
      data: {
        ...(body?.text !== undefined ? { body: body.text } : {}), bodyBytes, ...(body ? { bodySha256: body.sha256 } : {}),
        ...(findings.length ? { findings } : {}), headers: rec.responseHeaders ?? {}, status: x.upstreamStatus ?? 0, stream: false,
        ...(x.uploaded ? { upload: recordedUpload(x.uploaded) } : {}),
      },
    });
  }

  /**
   * The events that close an exchange (`ms`: its duration when it ended): the response when none
   * was recorded, the stream's last batch, a refusal, how it ended. `joins`: the session a request
   * refused before it had one joins.
   */
  function endEvents(x: Exchange, ms: number, joins: StraySession | undefined): void {
    const rec = state.get(x);
    if (joins !== undefined) return refusedUnrecorded(x, joins);
    if (rec && rec.headAt !== undefined && !rec.responseRecorded) {
      rec.responseRecorded = true;
      appendAnswer(x, rec, x.bytesOut, []);
    }
    if (rec?.stream) flushStream(x, rec, true);
    if (x.refusal && (x.outcome === 'refused' || x.outcome === 'killed')) {
      append({ ...draftBase(x), kind: 'refusal', data: recordedRefusal(x, x.refusal, false) });
    }
    if (rec?.stream || (x.outcome && x.outcome !== 'complete' && x.outcome !== 'refused')) {
      const outcome = x.outcome === 'refused' || x.outcome === undefined ? 'error' : x.outcome;
      // The reason can quote the Claude API's error event, or a masking error's message.
      const findings: RecordedFinding[] = [];
      const reason = x.outcomeReason ? recordedText(x.outcomeReason, 'reason', findings) : undefined;
      append({
        ...draftBase(x), kind: 'stream_end',
        data: { bytes: x.bytesOut, events: rec?.events ?? 0, ...(findings.length ? { findings } : {}), ms, outcome, ...(reason !== undefined ? { reason } : {}) },
      });
    }
  }

  /**
   * A request refused before it had a session (a path or body skillgate will not forward: a member
   * named twice, bytes that are not UTF-8, too large): the skill's attempt is evidence all the same.
   * Its refusal joins the skill's current session, as an egress attempt does, up to a budget a second
   * (past it, only counted in skillgate_sidecar_refusals_total).
   */
  function refusedUnrecorded(x: Exchange, joins: StraySession): void {
    if (!x.refusal || x.outcome !== 'refused' || !refusalBudget.take().journal) return;
    append({ kind: 'refusal', ...joins, requestId: x.id, data: recordedRefusal(x, x.refusal, true) });
  }

  /**
   * Where events that belong to no Claude request go (egress attempts, locks, revocations, requests
   * refused before they had a session): the skill's current session, or a session of their own when
   * the skill has not called Claude yet.
   */
  function currentSession(identity: SkillIdentity): string {
    return previous?.sessionId ?? egressSession(identity);
  }

  /** Where such an event goes, said when it happened (its work may run after a new session began). */
  function sessionOfStray(identity: SkillIdentity): StraySession {
    return { sessionId: currentSession(identity), identity };
  }

  function egressSession(identity: SkillIdentity): string {
    return `ses_egress_${sha256Hex(Buffer.from(`${identity.namespace}/${identity.skill}/${identity.pod}`)).slice(0, 24)}`;
  }
}

/** The session an event that belongs to no Claude request joins, and the identity it is recorded under. */
interface StraySession {
  sessionId: string;
  identity: SkillIdentity;
}

/** The most an encoded answer is decoded to for the record by default (past it: recorded by digest only). */
const DECODED_ANSWER_MAX_BYTES = 32 * 1024 * 1024;

/** What the record keeps of free text that could not be masked (no masker, or masking failed). */
const TEXT_NOT_RECORDED = '[text not recorded: it could not be masked]';

/**
 * A JSON parser's excerpt of the body, as V8 quotes it in `Unexpected token 'x', "…" is not valid
 * JSON` (`..."…"...` when cut out of a longer body): a cut of the skill's text that masking cannot
 * judge (`jane.doe@e` is no email address any more, `4111 ` no card). Left out of the record.
 */
const PARSER_EXCERPT = /(Unexpected token '[^]{1,2}', )(?:\.\.\.)?"[^]*?"(?:\.\.\.)?( is not valid JSON)/g;

function withoutCutQuotes(text: string): string {
  return text.includes(' is not valid JSON') ? text.replace(PARSER_EXCERPT, '$1[an excerpt of the request body, not recorded]$2') : text;
}

/** One line of a batch's results masked for the record (see maskedResults). */
function maskedResultLine(line: string, masker: Masker): MaskResult {
  let parsed: unknown;
  try {
    parsed = parseJson(line);
  } catch {
    return masker.maskText(line);
  }
  if (!isRecord(parsed) || !isRecord(parsed.result) || parsed.result.message === undefined) {
    const r = masker.maskAnswer(parsed, { forRecord: true });
    return r.findings.length ? { masked: JSON.stringify(r.body), findings: r.findings } : { masked: line, findings: [] };
  }
  // The message walked as a Messages answer (its structure known), everything around it string by string.
  const message = masker.maskAnswer(parsed.result.message, { forRecord: true });
  const rest = masker.maskAnswer({ ...parsed, result: { ...parsed.result, message: null } }, { forRecord: true });
  const findings = [...rest.findings, ...message.findings.map((f) => ({ ...f, path: f.path ? `result.message.${f.path}` : 'result.message' }))];
  if (findings.length === 0) return { masked: line, findings };
  const out = rest.body as { result: Record<string, unknown> };
  out.result.message = message.body;
  return { masked: JSON.stringify(out), findings };
}
