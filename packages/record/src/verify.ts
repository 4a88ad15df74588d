// Verification of a record as a whole: checkpoints first (hash, signature, per-writer sequence),
// then every session's chain against the heads the checkpoints signed. Names the first problem of
// each session. Works on any reader (file store, Redis, an archive) and on an evidence bundle.
import { canonicalJson } from './canonical.js';
import { verifySession, type ChainHead, type ChainProblem } from './chain.js';
import { checkpointId, verifyCheckpoints, type Checkpoint } from './checkpoint.js';
import type { SessionEvent } from './event.js';
import type { KeptAsideEvent, SessionReader, SessionSummary } from './store.js';

export interface SessionVerdict {
  sessionId: string;
  events: number;
  ok: boolean;
  problem?: ChainProblem;
  /**
   * The highest seq of the session a verified checkpoint signed (absent: none did). Events after
   * it rest on the chain alone until the next checkpoint: a record cut back to that point, and its
   * later checkpoints with it, reads as intact.
   */
  signedThrough?: number;
  /** How many of the session's first events the store's retention removed (not checked, not missing). */
  trimmed?: number;
}

export interface VerifyReport {
  ok: boolean;
  sessions: SessionVerdict[];
  /**
   * With an archive to hold the store against (verifyRecord's `against`): sessions the archive holds
   * that the store no longer lists — expired by the store's retention, or deleted; not a failure
   * by itself, the store cannot tell which (responders compare with its retention).
   */
  archiveOnly?: string[];
  checkpoints: { count: number; problem?: ChainProblem };
  /** The first problem found, checkpoints before sessions. */
  firstProblem?: ChainProblem;
  /**
   * Events a store or archive holds outside the verified sessions' chains, kept aside after chain
   * conflicts (another writer's chain took their place), by session. Not a verification failure:
   * the chains verify without them; they are evidence that two writers met in a session.
   */
  keptAside?: KeptAsideSummary[];
}

export interface KeptAsideSummary {
  sessionId: string;
  events: number;
  /** The lowest and highest seq among them (the place in the chain they were sealed for). */
  seqs: [number, number];
  writers: string[];
}

/** Kept-aside events by session, in the order sessions first appear. */
export function summariseKeptAside(kept: readonly KeptAsideEvent[], only?: ReadonlySet<string>): KeptAsideSummary[] {
  const by = new Map<string, KeptAsideSummary>();
  for (const k of kept) {
    const e = k.event;
    if (!e || typeof e.sessionId !== 'string' || typeof e.seq !== 'number') continue; // not an event: nothing to list
    if (only && !only.has(e.sessionId)) continue;
    const s = by.get(e.sessionId);
    if (!s) {
      by.set(e.sessionId, { sessionId: e.sessionId, events: 1, seqs: [e.seq, e.seq], writers: [k.writer] });
      continue;
    }
    s.events++;
    s.seqs = [Math.min(s.seqs[0], e.seq), Math.max(s.seqs[1], e.seq)];
    if (!s.writers.includes(k.writer)) s.writers.push(k.writer);
  }
  return [...by.values()];
}

export interface EvidenceInput {
  /** Events per session, in stored order. */
  sessions: Map<string, readonly SessionEvent[]>;
  checkpoints: readonly Checkpoint[];
  publicKeys: Readonly<Record<string, string>>;
  /** Verify only these sessions (default: all given, plus all that checkpoints commit). */
  only?: readonly string[];
  /**
   * The head a store keeps for each session (its own count of the chain, updated with every
   * append), when verifying a live store: events missing from the end of a chain, written after
   * the last checkpoint, show against it. An archive or a bundle has none.
   */
  storedHeads?: ReadonlyMap<string, ChainHead | undefined>;
  /**
   * The last checkpoint seq a live store recorded for each writer (Redis): a writer's chain of
   * checkpoints must reach it, or its last checkpoints were deleted.
   */
  checkpointWriters?: ReadonlyMap<string, { seq: number; tsMs?: number }>;
  /**
   * The checkpoints' keys judged by a trust anchor (`judgeCheckpointKeys`): refused ones fail, scoped
   * ones may commit only their scope's sessions, and every session with events must be committed
   * by a checkpoint (one no trusted checkpoint covers could have been written by anyone).
   */
  judged?: KeyJudgement;
  /**
   * How the store lists each session (identity, first and last times, head), which `sessions list`,
   * `find` and `export --all` filter on: a listing that disagrees with the session's own events, or
   * leaves out a session whose events the store holds, was altered (it would hide the session from
   * those filters, or file it under another skill).
   */
  listed?: ReadonlyMap<string, SessionSummary>;
  /** How many of each session's first events the store's retention removed (SessionReader.trimmed). */
  trimmed?: ReadonlyMap<string, number>;
}

/** Whose sessions a checkpoint's key may vouch for (a session belongs to one pod). */
export interface KeyScope {
  namespace: string;
  pod: string;
}

/** A trust anchor's word on one checkpoint key: refused (why), or trusted, for a scope or for all. */
export type KeyVerdict = { refused: string } | { scope?: KeyScope };

/**
 * A stricter test of a checkpoint's key than holding its public key. The CLI's `--trust-jwks`
 * checks the controller's endorsement that the checkpoint carries (@skillgate/identity), which
 * names the pod the key was made for.
 */
export type CheckpointKeyTrust = (checkpoint: Checkpoint, publicKeyPem: string) => Promise<KeyVerdict>;

/** The verdicts by checkpoint id: the refused with their reason, the trusted with their scope. */
export interface KeyJudgement {
  untrusted: Map<string, string>;
  scopes: Map<string, KeyScope>;
}

/**
 * Judge each checkpoint's key once per distinct key and endorsement. Checkpoints whose key is not
 * held at all are left to `verifyCheckpoints`.
 */
export async function judgeCheckpointKeys(
  checkpoints: readonly Checkpoint[],
  publicKeys: Readonly<Record<string, string>>,
  trust: CheckpointKeyTrust,
): Promise<KeyJudgement> {
  const verdicts = new Map<string, Promise<KeyVerdict>>();
  const judged: KeyJudgement = { untrusted: new Map(), scopes: new Map() };
  for (const cp of checkpoints) {
    const pem = publicKeys[cp.keyId];
    if (!pem) continue;
    const key = `${cp.keyId}\n${cp.endorsement ?? ''}`;
    let verdict = verdicts.get(key);
    if (!verdict) verdicts.set(key, (verdict = trust(cp, pem)));
    const v = await verdict;
    if ('refused' in v) judged.untrusted.set(checkpointId(cp), v.refused);
    else if (v.scope) judged.scopes.set(checkpointId(cp), v.scope);
  }
  return judged;
}

/** Pure verification over plain data. */
export function verifyEvidence(input: EvidenceInput): VerifyReport {
  const verified = verifyCheckpoints(input.checkpoints, input.publicKeys, input.judged?.untrusted);
  const { commitments } = verified;
  const cpProblem = verified.problem
    ?? (input.judged ? outOfScope(input.checkpoints, input.judged.scopes, input.sessions) : undefined)
    ?? checkpointsReachRecorded(input.checkpoints, input.checkpointWriters);
  const ids = input.only ? [...input.only] : [...new Set([...input.sessions.keys(), ...commitments.keys()])];
  const sessions: SessionVerdict[] = ids.map((sessionId) => {
    const events = input.sessions.get(sessionId) ?? [];
    const committed = commitments.get(sessionId);
    const trimmed = input.trimmed?.get(sessionId) ?? 0;
    const problem = verifySession(sessionId, events, committed, trimmed)
      ?? againstStoredHead(sessionId, events, input.storedHeads, trimmed)
      ?? againstListing(sessionId, events, input.listed, trimmed)
      ?? (input.judged && !commitments.has(sessionId) ? unanchored(sessionId, events) : undefined)
      ?? (events.length === 0 && input.only && !commitments.has(sessionId) && !input.storedHeads?.get(sessionId)
        ? { kind: 'unknown-session' as const, sessionId, message: `the record holds no session ${sessionId}` } : undefined);
    const signedThrough = committed?.length ? Math.max(...committed.map((c) => c.seq)) : undefined;
    const verdict: SessionVerdict = problem ? { sessionId, events: events.length, ok: false, problem } : { sessionId, events: events.length, ok: true };
    if (signedThrough !== undefined) verdict.signedThrough = signedThrough;
    if (trimmed > 0) verdict.trimmed = trimmed;
    return verdict;
  });
  const firstProblem = cpProblem ?? sessions.find((s) => s.problem)?.problem;
  const report: VerifyReport = { ok: !firstProblem, sessions, checkpoints: { count: input.checkpoints.length } };
  if (cpProblem) report.checkpoints.problem = cpProblem;
  if (firstProblem) report.firstProblem = firstProblem;
  return report;
}

/** A writer whose checkpoints stop short of the last one its store recorded (its tail deleted). */
function checkpointsReachRecorded(checkpoints: readonly Checkpoint[], recorded: EvidenceInput['checkpointWriters']): ChainProblem | undefined {
  if (!recorded) return undefined;
  const last = new Map<string, number>();
  let oldestMs = Infinity;
  for (const cp of checkpoints) {
    last.set(cp.writer, Math.max(last.get(cp.writer) ?? -1, cp.seq));
    oldestMs = Math.min(oldestMs, Date.parse(cp.ts));
  }
  for (const [writer, { seq, tsMs }] of recorded) {
    const have = last.get(writer) ?? -1;
    // All of a writer's checkpoints gone can be retention (older than the oldest still held).
    const retained = have >= 0 || (tsMs !== undefined && tsMs >= oldestMs);
    if (retained && have < seq) {
      return { kind: 'checkpoint-missing', checkpoint: `${writer}#${have + 1}`,
        message: `checkpoint ${writer}#${have + 1}${seq > have + 1 ? `..#${seq}` : ''} is missing: the store recorded ${writer}'s checkpoints up to #${seq}` };
    }
  }
  return undefined;
}

/** A checkpoint whose key is scoped to one pod, committing a session of another. */
function outOfScope(checkpoints: readonly Checkpoint[], scopes: ReadonlyMap<string, KeyScope>, sessions: EvidenceInput['sessions']): ChainProblem | undefined {
  for (const cp of checkpoints) {
    const scope = scopes.get(checkpointId(cp));
    if (!scope) continue;
    for (const h of cp.heads) {
      const of = sessions.get(h.sessionId)?.[0]?.identity;
      if (of && (of.namespace !== scope.namespace || of.pod !== scope.pod)) {
        const id = checkpointId(cp);
        return { kind: 'out-of-scope', checkpoint: id, sessionId: h.sessionId,
          message: `checkpoint ${id} is signed by a key made for pod ${scope.namespace}/${scope.pod} but commits session ${h.sessionId} of pod ${of.namespace}/${of.pod}` };
      }
    }
  }
  return undefined;
}

/** A session with events that no trusted checkpoint commits, when one must. */
function unanchored(sessionId: string, events: readonly SessionEvent[]): ChainProblem | undefined {
  if (events.length === 0) return undefined;
  return { kind: 'unanchored', sessionId,
    message: `no trusted checkpoint commits any of the ${events.length} event(s) of session ${sessionId}: nothing ties them to a trusted key (a session younger than the checkpoint interval, 10 s, has none yet)` };
}

/** A chain whose end falls short of (or differs from) the head its store keeps for it. */
export function againstStoredHead(sessionId: string, events: readonly SessionEvent[], heads: EvidenceInput['storedHeads'], trimmed = 0): ChainProblem | undefined {
  const head = heads?.get(sessionId);
  if (!head) return undefined;
  const last = events.at(-1);
  if (!last && trimmed > head.seq) return undefined; // all of it removed by retention
  if (!last || last.seq < head.seq) {
    const from = last ? last.seq + 1 : trimmed;
    return { kind: 'missing', sessionId, seq: from, position: events.length,
      message: `event seq ${from}${head.seq > from ? `..${head.seq}` : ''} of session ${sessionId} is missing: the store's head says the chain runs to seq ${head.seq}` };
  }
  if (last.seq === head.seq && last.hash !== head.hash) {
    return { kind: 'altered', sessionId, seq: head.seq, position: events.length - 1,
      message: `event seq ${head.seq} of session ${sessionId} is not the one the store's head names (another hash)` };
  }
  return undefined;
}

/**
 * A session the store lists otherwise than its events say (who it belongs to, when, how far it
 * runs), or does not list at all although it holds its events: taken out of the listing, it is
 * hidden from 'sessions list', 'find' and 'export --all' alike.
 */
function againstListing(sessionId: string, events: readonly SessionEvent[], listing: EvidenceInput['listed'], trimmed = 0): ChainProblem | undefined {
  const first = events[0];
  if (!listing || !first) return undefined;
  const listed = listing.get(sessionId);
  if (!listed) {
    return { kind: 'misfiled', sessionId,
      message: `session ${sessionId} is not in the store's listing, though the store holds ${events.length} of its events: the listing was altered, so 'sessions list', 'find' and 'export --all' miss it` };
  }
  const misfiled = (what: string): ChainProblem => ({ kind: 'misfiled', sessionId,
    message: `session ${sessionId} is listed with ${what} than its events record: the store's listing was altered, so 'sessions list', 'find' and 'export --all' filters can miss it or file it elsewhere` });
  let listedIdentity: string | undefined;
  try { listedIdentity = canonicalJson(listed.identity); } catch { /* not an identity at all */ }
  if (listedIdentity !== canonicalJson(first.identity)) return misfiled('another identity (skill, owner, namespace or pod)');
  if (trimmed === 0 && Date.parse(listed.firstTs) !== Date.parse(first.ts)) return misfiled(`another start (${listed.firstTs}, not ${first.ts})`);
  // The listing's last time and head come from one event (a live store moves them together), which
  // later appends may have been followed by: compare with that event, not the newest.
  const at = events[listed.events - 1 - trimmed];
  if (at && at.seq === listed.events - 1 && at.hash === listed.head && Date.parse(listed.lastTs) !== Date.parse(at.ts)) {
    return misfiled(`another last activity (${listed.lastTs}, not ${at.ts})`);
  }
  return undefined;
}

/** Read and verify sessions of a store or archive. */
export async function verifyRecord(
  reader: SessionReader,
  opts: {
    sessionIds?: string[];
    publicKeys?: Record<string, string>;
    /** Judge every checkpoint's key (and require every session to be committed by a trusted one). */
    trust?: CheckpointKeyTrust;
    onProgress?: (done: number, total: number) => void;
    /**
     * A second copy to hold the store against: the recorder's archive, written (and fsync'd) as
     * events reach the store. Events it holds past a session's end in the store, or otherwise than
     * the store, fail that session (a chain cut back to a signed point, with its later checkpoints
     * deleted, verifies from the store alone); so do its checkpoints the store no longer holds.
     */
    against?: SessionReader;
  } = {},
): Promise<VerifyReport> {
  // A live store's own records (each session's head, each checkpoint writer's last checkpoint) are
  // read before what they vouch for: appends only extend a record, so what is read after them
  // reaches them unless something was deleted, even while sidecars keep writing. An archive to hold
  // the store against lags it, so it is read before the store, for the same reason.
  const archived = opts.against ? { checkpoints: await opts.against.checkpoints(), sessions: new Map<string, readonly SessionEvent[]>() } : undefined;
  const checkpointWriters = await reader.checkpointWriters?.();
  const checkpoints = await reader.checkpoints();
  const publicKeys = opts.publicKeys ?? (await reader.publicKeys());
  const judged = opts.trust ? await judgeCheckpointKeys(checkpoints, publicKeys, opts.trust) : undefined;
  // The listing is read whether or not sessions are named: a session re-filed under another skill
  // must fail `sessions verify SID` (and the export's check) as it fails `--all`.
  const listed = new Map((await reader.listSessions()).map((s) => [s.sessionId, s]));
  let ids = opts.sessionIds;
  if (!ids) {
    const committed = checkpoints.flatMap((cp) => cp.heads.map((h) => h.sessionId));
    // The sessions the store holds, besides those it lists: one taken out of the listing is checked too.
    const held = (await reader.heldSessions?.()) ?? [];
    ids = [...new Set([...listed.keys(), ...committed, ...held])];
  }
  const sessions = new Map<string, readonly SessionEvent[]>();
  const storedHeads = reader.head ? new Map<string, ChainHead | undefined>() : undefined;
  const trimmed = reader.trimmed ? new Map<string, number>() : undefined;
  let done = 0;
  for (const id of ids) {
    if (archived) archived.sessions.set(id, await opts.against!.readSession(id));
    if (storedHeads) storedHeads.set(id, await reader.head!(id));
    if (trimmed) trimmed.set(id, await reader.trimmed!(id));
    sessions.set(id, await reader.readSession(id));
    opts.onProgress?.(++done, ids.length);
  }
  // A session begun since the listing was read (named by the caller) holds events the listing could
  // not name yet: read it again before calling such a session unlisted.
  if (ids.some((id) => !listed.has(id) && (sessions.get(id)?.length ?? 0) > 0)) {
    for (const s of await reader.listSessions()) if (!listed.has(s.sessionId)) listed.set(s.sessionId, s);
  }
  const report = verifyEvidence({
    sessions, checkpoints, publicKeys, only: ids,
    ...(storedHeads ? { storedHeads } : {}), ...(checkpointWriters ? { checkpointWriters } : {}),
    ...(judged ? { judged } : {}), listed, ...(trimmed ? { trimmed } : {}),
  });
  const kept = reader.keptAside ? summariseKeptAside(await reader.keptAside(), opts.sessionIds ? new Set(opts.sessionIds) : undefined) : [];
  const full = kept.length > 0 ? { ...report, keptAside: kept } : report;
  return opts.against && archived ? againstArchive(full, { sessions, trimmed, checkpoints, listed }, { ...archived, reader: opts.against }, opts.sessionIds === undefined) : full;
}

/**
 * Hold a store's verified sessions and checkpoints against an archive's copy (verifyRecord's
 * `against`). The archive may lag the store (the recorder archives what reached it), never lead it:
 * an event it holds that the store does not, or holds otherwise, is the store's record changed.
 */
async function againstArchive(
  report: VerifyReport,
  store: { sessions: ReadonlyMap<string, readonly SessionEvent[]>; trimmed: ReadonlyMap<string, number> | undefined; checkpoints: readonly Checkpoint[]; listed: ReadonlyMap<string, SessionSummary> },
  archive: { sessions: ReadonlyMap<string, readonly SessionEvent[]>; checkpoints: readonly Checkpoint[]; reader: SessionReader },
  all: boolean,
): Promise<VerifyReport> {
  const { sessions, trimmed, checkpoints, listed } = store;
  const verdicts: SessionVerdict[] = [];
  for (const v of report.sessions) {
    const problem = v.problem ?? archiveDiffers(v.sessionId, sessions.get(v.sessionId) ?? [], trimmed?.get(v.sessionId) ?? 0, archive.sessions.get(v.sessionId) ?? [], archive.reader.location);
    verdicts.push(problem && !v.problem ? { ...v, ok: false, problem } : v);
  }
  // Retention drops the oldest checkpoints; what the store may not lack is one newer than the last it
  // holds of its writer, or — a writer it holds none of — one newer than the oldest it holds at all
  // (so not retention's). Checkpoints all deleted show through the events they signed, above.
  const lastOf = new Map<string, number>();
  let oldestMs = Infinity;
  for (const cp of checkpoints) {
    lastOf.set(cp.writer, Math.max(lastOf.get(cp.writer) ?? -1, cp.seq));
    oldestMs = Math.min(oldestMs, Date.parse(cp.ts));
  }
  const lostCheckpoint = archive.checkpoints.find((cp) => {
    const last = lastOf.get(cp.writer);
    return last !== undefined ? cp.seq > last : Date.parse(cp.ts) > oldestMs;
  });
  const cpProblem = report.checkpoints.problem ?? (lostCheckpoint ? {
    kind: 'checkpoint-missing' as const, checkpoint: checkpointId(lostCheckpoint),
    message: `checkpoint ${checkpointId(lostCheckpoint)} is in ${archive.reader.location} but not in the store: deleted from it`,
  } : undefined);
  const archiveOnly = all ? (await archive.reader.listSessions()).map((s) => s.sessionId).filter((id) => !listed.has(id) && !sessions.has(id)) : [];
  const firstProblem = cpProblem ?? verdicts.find((x) => x.problem)?.problem;
  const out: VerifyReport = { ...report, ok: !firstProblem, sessions: verdicts, checkpoints: { ...report.checkpoints, ...(cpProblem ? { problem: cpProblem } : {}) } };
  if (firstProblem) out.firstProblem = firstProblem;
  else delete out.firstProblem;
  if (archiveOnly.length > 0) out.archiveOnly = archiveOnly;
  return out;
}

/** The first place an archived session differs from the store's copy (events from `trimmed` on). */
function archiveDiffers(sessionId: string, stored: readonly SessionEvent[], trimmed: number, archived: readonly SessionEvent[], where: string): ChainProblem | undefined {
  const last = trimmed + stored.length - 1;
  for (const a of archived) {
    if (typeof a?.seq !== 'number' || a.seq < trimmed) continue;
    if (a.seq > last) {
      const upTo = archived.reduce((m, e) => Math.max(m, typeof e?.seq === 'number' ? e.seq : -1), a.seq);
      return { kind: 'missing', sessionId, seq: a.seq, position: stored.length,
        message: `event seq ${a.seq}${upTo > a.seq ? `..${upTo}` : ''} of session ${sessionId} is in ${where} but not in the store: the store's chain was cut back` };
    }
    const s = stored[a.seq - trimmed];
    if (s && s.hash !== a.hash) {
      return { kind: 'altered', sessionId, seq: a.seq, position: a.seq - trimmed,
        message: `event seq ${a.seq} of session ${sessionId} differs from its copy in ${where}` };
    }
  }
  return undefined;
}
