// Evidence bundles: everything a third party needs to check a set of sessions offline, in ONE JSON
// file (readable with jq, no archive tooling, verified in one read): the events of each session in
// stored order, the checkpoints, the public keys, the events the store kept aside outside those
// sessions' chains after chain conflicts (when there are any), and a manifest of digests signed by
// the exporter.
// Verification recomputes every digest, the manifest signature, the checkpoint signatures and each
// chain. With trusted keys given, only checkpoints and manifests signed by those keys count.
import { canonicalJson } from './canonical.js';
import { keyIdOf, verifySignature, type Checkpoint, type RecordSigner } from './checkpoint.js';
import { sha256Hex, type SessionEvent } from './event.js';
import { summariseKeptAside, verifyEvidence, type KeyJudgement, type VerifyReport } from './verify.js';
import type { ChainProblem, ChainProblemKind } from './chain.js';
import type { KeptAsideEvent } from './store.js';

export const BUNDLE_FORMAT = 'skillgate-evidence/1';

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  createdAt: string;
  source: string;
  /** `trimmed`: how many of the session's first events the store's retention had removed (not in the bundle). */
  sessions: Array<{ sessionId: string; events: number; head: string; sha256: string; trimmed?: number }>;
  checkpoints: { count: number; sha256: string };
  /** Present only when the bundle carries kept-aside events (a bundle without any reads as before). */
  keptAside?: { count: number; sha256: string };
  publicKeys: Record<string, string>; // keyId -> sha256 of the PEM
  exporterKeyId: string;
  /** True when the exporter signed with a key made for this export only (no long-lived key given). */
  exporterKeyEphemeral: boolean;
  /**
   * The exporter's verification of the record the sessions were taken from (chains, checkpoints,
   * the store's own heads and listing, with the store's keys), run before the bundle was made:
   * what the bundle cannot show by itself (events cut from the end of a chain before export).
   * Absent in bundles made before exports were checked.
   */
  verifiedAtExport?: ExportCheck;
}

/** What the exporter's verification of the source record found. */
export interface ExportCheck {
  ok: boolean;
  /** The first problem of the checkpoints and of each failing session, as verify words them. */
  problems: string[];
}

export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT;
  manifest: BundleManifest;
  /** sha256 of the canonical manifest, and the exporter's Ed25519 signature over it (base64url). */
  manifestHash: string;
  signature: string;
  publicKeys: Record<string, string>;
  sessions: Record<string, SessionEvent[]>;
  checkpoints: Checkpoint[];
  /** Events of these sessions kept aside outside their chains (see KeptAsideEvent), when any. */
  keptAside?: KeptAsideEvent[];
}

export function buildBundle(input: {
  source: string;
  sessions: Map<string, SessionEvent[]>;
  checkpoints: Checkpoint[];
  /** Kept-aside events of the exported sessions (others are left out). */
  keptAside?: readonly KeptAsideEvent[];
  publicKeys: Record<string, string>;
  exporter: RecordSigner;
  exporterKeyEphemeral: boolean;
  /** The source record's verification (verifyRecord over the exported sessions), for the manifest. */
  verified?: VerifyReport;
  now?: Date;
}): EvidenceBundle {
  const publicKeys = { ...input.publicKeys, [input.exporter.keyId]: input.exporter.publicKeyPem };
  const keptAside = (input.keptAside ?? []).filter((k) => input.sessions.has(k.event?.sessionId));
  const trimmedBy = new Map((input.verified?.sessions ?? []).map((v) => [v.sessionId, v.trimmed]));
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    createdAt: (input.now ?? new Date()).toISOString(),
    source: input.source,
    sessions: [...input.sessions].map(([sessionId, events]) => {
      const trimmed = trimmedBy.get(sessionId);
      return { sessionId, events: events.length, head: events.at(-1)?.hash ?? '', sha256: sha256Hex(canonicalJson(events)), ...(trimmed ? { trimmed } : {}) };
    }),
    checkpoints: { count: input.checkpoints.length, sha256: sha256Hex(canonicalJson(input.checkpoints)) },
    ...(keptAside.length > 0 ? { keptAside: { count: keptAside.length, sha256: sha256Hex(canonicalJson(keptAside)) } } : {}),
    publicKeys: Object.fromEntries(Object.entries(publicKeys).map(([k, pem]) => [k, sha256Hex(pem)])),
    exporterKeyId: input.exporter.keyId,
    exporterKeyEphemeral: input.exporterKeyEphemeral,
    ...(input.verified ? { verifiedAtExport: exportCheckOf(input.verified) } : {}),
  };
  const manifestHash = sha256Hex(canonicalJson(manifest));
  return {
    format: BUNDLE_FORMAT, manifest, manifestHash, signature: input.exporter.sign(manifestHash),
    publicKeys, sessions: Object.fromEntries(input.sessions), checkpoints: input.checkpoints,
    ...(keptAside.length > 0 ? { keptAside } : {}),
  };
}

/** A verification report as the manifest keeps it. */
export function exportCheckOf(report: VerifyReport): ExportCheck {
  const problems = [
    ...(report.checkpoints.problem ? [`${report.checkpoints.problem.kind}: ${report.checkpoints.problem.message}`] : []),
    ...report.sessions.filter((x) => x.problem).map((x) => `${x.problem!.kind}: ${x.problem!.message}`),
  ];
  return { ok: report.ok, problems };
}

/**
 * What a bundle check can find wrong: what a record check finds, and a file that is no evidence
 * bundle at all (`not-a-bundle`). A manifest signed by a key the verifier was not told to trust is
 * `untrusted-key`, told apart from one `altered` since it was signed.
 */
export type BundleProblemKind = ChainProblemKind | 'not-a-bundle';
export interface BundleProblem extends Omit<ChainProblem, 'kind'> {
  kind: BundleProblemKind;
}

export interface BundleVerdict extends Omit<VerifyReport, 'firstProblem'> {
  firstProblem?: BundleProblem;
  manifestProblem?: string;
  /** The signed manifest says the source record failed verification when it was exported (--force). */
  exportProblem?: string;
  /**
   * Set when the check stopped at the manifest (not a bundle, a manifest altered or signed by a key
   * not trusted): no session and no checkpoint was checked, and `sessions`/`checkpoints` say nothing.
   */
  contentUnchecked?: true;
}

/** A verdict reached before a bundle's sessions and checkpoints were looked at: nothing about them can be said. */
export function uncheckedVerdict(kind: BundleProblemKind, message: string): BundleVerdict {
  return { ok: false, sessions: [], checkpoints: { count: 0 }, firstProblem: { kind, message }, manifestProblem: message, contentUnchecked: true };
}

/**
 * Verify a parsed bundle. `trustedKeys` (keyId -> PEM) pins the keys that may sign. `judged` (from
 * `judgeCheckpointKeys` over the bundle's checkpoints and keys) applies a trust anchor's verdicts.
 */
export function verifyBundle(bundle: EvidenceBundle, trustedKeys?: Record<string, string>, opts: { judged?: KeyJudgement } = {}): BundleVerdict {
  const stop = uncheckedVerdict;
  // After they were checked: what was found stands beside the manifest's problem.
  const failAfter = (report: VerifyReport, problem: ChainProblem): BundleVerdict => ({ ...report, ok: false, firstProblem: problem, manifestProblem: problem.message });
  if (typeof bundle !== 'object' || bundle === null || bundle.format !== BUNDLE_FORMAT || typeof bundle.manifest !== 'object' || bundle.manifest === null) {
    return stop('not-a-bundle', `not a ${BUNDLE_FORMAT} bundle (no "format": "${BUNDLE_FORMAT}" and manifest)`);
  }
  const keys: Record<string, string> = {};
  for (const [keyId, pem] of Object.entries(bundle.publicKeys ?? {})) {
    // A key is only usable under its own id: a swapped PEM cannot borrow another key's id.
    try { if (keyIdOf(pem) === keyId) keys[keyId] = pem; } catch { /* unusable key */ }
  }
  const usable = trustedKeys ?? keys;
  const m = bundle.manifest;
  if (sha256Hex(canonicalJson(m)) !== bundle.manifestHash) return stop('altered', 'the manifest was altered: its hash does not match');
  // A manifest that hashes as signed but lacks what every export writes was never made by one.
  if (!Array.isArray(m.sessions) || typeof m.checkpoints?.sha256 !== 'string' || typeof m.exporterKeyId !== 'string') {
    return stop('not-a-bundle', `not a ${BUNDLE_FORMAT} bundle: its manifest lacks sessions, checkpoints or exporterKeyId`);
  }
  // Events the store's retention had removed before export: the signed manifest says how many.
  const trimmed = new Map(m.sessions.filter((s) => (s.trimmed ?? 0) > 0).map((s) => [s.sessionId, s.trimmed!]));
  const trust = { ...(opts.judged ? { judged: opts.judged } : {}), ...(trimmed.size > 0 ? { trimmed } : {}) };
  const exporterKey = usable[m.exporterKeyId];
  if (!exporterKey) {
    // With keys pinned, a signer outside them is not trusted (the bundle may be intact as signed);
    // without, a signer the bundle does not carry is a bundle changed since it was made.
    if (trustedKeys) return stop('untrusted-key', `the manifest is signed by key ${m.exporterKeyId}, which is not one of the trusted keys`);
    return stop('altered', `the manifest is signed by key ${m.exporterKeyId}, which is not in the bundle`);
  }
  if (!verifySignature(exporterKey, bundle.manifestHash, bundle.signature)) return stop('altered', 'the manifest signature does not verify');
  const sessions = new Map<string, SessionEvent[]>();
  for (const s of m.sessions) {
    const events = bundle.sessions?.[s.sessionId];
    if (!events) return stop('altered', `session ${s.sessionId} is listed in the manifest but absent from the bundle`);
    if (sha256Hex(canonicalJson(events)) !== s.sha256) {
      // Still run the chain check, which names the event; the digest says the bundle changed.
      sessions.set(s.sessionId, events);
      continue;
    }
    sessions.set(s.sessionId, events);
  }
  for (const id of Object.keys(bundle.sessions ?? {})) {
    if (!m.sessions.some((s) => s.sessionId === id)) return stop('altered', `session ${id} is in the bundle but not in the signed manifest`);
  }
  if (sha256Hex(canonicalJson(bundle.checkpoints ?? [])) !== m.checkpoints.sha256) {
    const report = verifyEvidence({ sessions, checkpoints: bundle.checkpoints ?? [], publicKeys: usable, only: m.sessions.map((s) => s.sessionId), ...trust });
    // The checkpoints are not the ones signed for, whatever their own signatures say.
    const problem: ChainProblem = report.checkpoints.problem ?? { kind: 'altered', message: 'the checkpoints were altered: their digest does not match the manifest' };
    return { ...failAfter(report, report.firstProblem ?? problem), checkpoints: { ...report.checkpoints, problem }, manifestProblem: 'the checkpoints were altered: their digest does not match the manifest' };
  }
  const report = verifyEvidence({ sessions, checkpoints: bundle.checkpoints, publicKeys: usable, only: m.sessions.map((s) => s.sessionId), ...trust });
  const digestMismatch = m.sessions.find((s) => sha256Hex(canonicalJson(bundle.sessions[s.sessionId])) !== s.sha256);
  if (digestMismatch && report.ok) {
    const problem: ChainProblem = { kind: 'altered', sessionId: digestMismatch.sessionId, message: `session ${digestMismatch.sessionId} differs from the signed manifest` };
    const failed = failAfter(report, problem);
    return { ...failed, sessions: failed.sessions.map((x) => (x.sessionId === digestMismatch.sessionId ? { ...x, ok: false, problem } : x)) };
  }
  // Kept-aside events are signed for like the rest: none added, dropped or changed since export.
  const kept = bundle.keptAside ?? [];
  if (!m.keptAside && kept.length > 0) return failAfter(report, { kind: 'altered', message: 'the bundle carries kept-aside events the signed manifest does not list' });
  if (m.keptAside && sha256Hex(canonicalJson(kept)) !== m.keptAside.sha256) return failAfter(report, { kind: 'altered', message: 'the kept-aside events were altered: their digest does not match the manifest' });
  const summary = summariseKeptAside(kept);
  const verdict: BundleVerdict = summary.length > 0 ? { ...report, keptAside: summary } : report;
  const atExport = m.verifiedAtExport;
  if (atExport && !atExport.ok) {
    const problem = `the record failed verification when it was exported (exported anyway, --force): ${atExport.problems[0] ?? 'no reason given'}`;
    return { ...verdict, ok: false, exportProblem: problem, firstProblem: verdict.firstProblem ?? { kind: 'failed-at-export', message: problem } };
  }
  return verdict;
}
