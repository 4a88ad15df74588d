// Verification of a record as a whole: checkpoints first (hash, signature, per-writer sequence),
// then every session's chain against the heads the checkpoints signed. Names the first problem of
// each session. Works on any reader (file store, Redis, an archive) and on an evidence bundle.
import { verifySession, type ChainProblem } from './chain.js';
import { verifyCheckpoints, type Checkpoint } from './checkpoint.js';
import type { SessionEvent } from './event.js';
import type { SessionReader } from './store.js';

export interface SessionVerdict {
  sessionId: string;
  events: number;
  ok: boolean;
  problem?: ChainProblem;
}

export interface VerifyReport {
  ok: boolean;
  sessions: SessionVerdict[];
  checkpoints: { count: number; problem?: ChainProblem };
  /** The first problem found, checkpoints before sessions. */
  firstProblem?: ChainProblem;
}

export interface EvidenceInput {
  /** Events per session, in stored order. */
  sessions: Map<string, readonly SessionEvent[]>;
  checkpoints: readonly Checkpoint[];
  publicKeys: Readonly<Record<string, string>>;
  /** Verify only these sessions (default: all given, plus all that checkpoints commit). */
  only?: readonly string[];
}

/** Pure verification over plain data. */
export function verifyEvidence(input: EvidenceInput): VerifyReport {
  const { problem: cpProblem, commitments } = verifyCheckpoints(input.checkpoints, input.publicKeys);
  const ids = input.only ? [...input.only] : [...new Set([...input.sessions.keys(), ...commitments.keys()])];
  const sessions: SessionVerdict[] = ids.map((sessionId) => {
    const events = input.sessions.get(sessionId) ?? [];
    const problem = verifySession(sessionId, events, commitments.get(sessionId));
    return problem ? { sessionId, events: events.length, ok: false, problem } : { sessionId, events: events.length, ok: true };
  });
  const firstProblem = cpProblem ?? sessions.find((s) => s.problem)?.problem;
  const report: VerifyReport = { ok: !firstProblem, sessions, checkpoints: { count: input.checkpoints.length } };
  if (cpProblem) report.checkpoints.problem = cpProblem;
  if (firstProblem) report.firstProblem = firstProblem;
  return report;
}

/** Read and verify sessions of a store or archive. */
export async function verifyRecord(
  reader: SessionReader,
  opts: { sessionIds?: string[]; publicKeys?: Record<string, string>; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const checkpoints = await reader.checkpoints();
  const publicKeys = opts.publicKeys ?? (await reader.publicKeys());
  let ids = opts.sessionIds;
  if (!ids) {
    const listed = (await reader.listSessions()).map((s) => s.sessionId);
    const committed = checkpoints.flatMap((cp) => cp.heads.map((h) => h.sessionId));
    ids = [...new Set([...listed, ...committed])];
  }
  const sessions = new Map<string, readonly SessionEvent[]>();
  let done = 0;
  for (const id of ids) {
    sessions.set(id, await reader.readSession(id));
    opts.onProgress?.(++done, ids.length);
  }
  return verifyEvidence({ sessions, checkpoints, publicKeys, only: ids });
}
