// Evidence bundles and the events kept aside outside a session's chain: they travel with the
// sessions they belong to, signed for in the manifest, so a bundle's reader sees them and cannot be
// handed a bundle with some added, dropped or changed. Pure: no store, no sockets.
import { buildBundle, verifyBundle, type EvidenceBundle } from '../src/bundle.js';
import { headOf, sealEvent } from '../src/chain.js';
import { RecordSigner, signCheckpoint } from '../src/checkpoint.js';
import type { SessionEvent } from '../src/event.js';
import type { KeptAsideEvent } from '../src/store.js';
import { requestDraft } from './support.js';

function chain(sessionId: string, n: number): SessionEvent[] {
  const out: SessionEvent[] = [];
  for (let i = 0; i < n; i++) out.push(sealEvent(requestDraft(sessionId, i), out.length ? headOf(out.at(-1)!) : undefined));
  return out;
}

const exported = chain('ses_b1', 3);
const other = chain('ses_b2', 2);
// Another writer's events, sealed for seq 1 of each session.
const aside: KeptAsideEvent[] = [
  { event: sealEvent(requestDraft('ses_b1', 90), headOf(exported[0]!)), writer: 'pod-2/1/a', keptAt: '2026-11-27T03:00:00.000Z' },
  { event: sealEvent(requestDraft('ses_b2', 91), headOf(other[0]!)), writer: 'pod-2/1/a', keptAt: '2026-11-27T03:00:01.000Z' },
];
const exporter = RecordSigner.generate();

function bundleOf(keptAside?: KeptAsideEvent[]): EvidenceBundle {
  return buildBundle({ source: 'test', sessions: new Map([['ses_b1', exported]]), checkpoints: [], publicKeys: {}, exporter, exporterKeyEphemeral: true, ...(keptAside ? { keptAside } : {}) });
}

const copy = (b: EvidenceBundle): EvidenceBundle => JSON.parse(JSON.stringify(b)) as EvidenceBundle;

test('a bundle without kept-aside events has no trace of them, and verifies as before', () => {
  const b = bundleOf([]);
  expect('keptAside' in b.manifest).toBe(false);
  expect('keptAside' in b).toBe(false);
  const verdict = verifyBundle(copy(b));
  expect(verdict.ok).toBe(true);
  expect(verdict.keptAside).toBeUndefined();
});

test('carries the exported sessions\' kept-aside events (not other sessions\'), signed for, and lists them', () => {
  const b = bundleOf(aside);
  expect(b.keptAside).toEqual([aside[0]]);
  expect(b.manifest.keptAside).toMatchObject({ count: 1 });
  const verdict = verifyBundle(copy(b));
  expect(verdict).toMatchObject({ ok: true, keptAside: [{ sessionId: 'ses_b1', events: 1, seqs: [1, 1], writers: ['pod-2/1/a'] }] });
});

test('fails a bundle whose kept-aside events were changed, dropped or slipped in after signing', () => {
  const changed = copy(bundleOf(aside));
  changed.keptAside![0]!.writer = 'someone-else';
  expect(verifyBundle(changed)).toMatchObject({ ok: false, manifestProblem: expect.stringMatching(/kept-aside events were altered/) });

  const dropped = copy(bundleOf(aside));
  delete dropped.keptAside;
  expect(verifyBundle(dropped)).toMatchObject({ ok: false, manifestProblem: expect.stringMatching(/kept-aside events were altered/) });

  const slipped = copy(bundleOf([]));
  slipped.keptAside = [aside[0]!];
  expect(verifyBundle(slipped)).toMatchObject({ ok: false, manifestProblem: expect.stringMatching(/does not list/) });
});

test('carries the exporter\'s verification of the source record, signed, and fails a bundle whose source failed it', () => {
  const sessions = new Map([['ses_b1', exported]]);
  const intact = buildBundle({ source: 'test', sessions, checkpoints: [], publicKeys: {}, exporter, exporterKeyEphemeral: true,
    verified: { ok: true, sessions: [{ sessionId: 'ses_b1', events: 3, ok: true }], checkpoints: { count: 0 } } });
  expect(intact.manifest.verifiedAtExport).toEqual({ ok: true, problems: [] });
  expect(verifyBundle(copy(intact)).ok).toBe(true);
  // The source's head said the chain ran further (its last events cut): the events alone look whole.
  const problem = { kind: 'missing' as const, sessionId: 'ses_b1', seq: 3, message: 'event seq 3 of session ses_b1 is missing: the store\'s head says the chain runs to seq 4' };
  const forced = buildBundle({ source: 'test', sessions, checkpoints: [], publicKeys: {}, exporter, exporterKeyEphemeral: true,
    verified: { ok: false, sessions: [{ sessionId: 'ses_b1', events: 3, ok: false, problem }], checkpoints: { count: 0 }, firstProblem: problem } });
  const verdict = verifyBundle(copy(forced));
  expect(verdict.ok).toBe(false);
  expect(verdict.sessions.every((s) => s.ok)).toBe(true);
  expect(verdict.exportProblem).toMatch(/failed verification when it was exported .*missing: event seq 3 of session ses_b1/);
  expect(verdict.firstProblem).toMatchObject({ kind: 'failed-at-export' });
  // Saying it verified instead breaks the signed manifest.
  const lied = copy(forced);
  lied.manifest.verifiedAtExport = { ok: true, problems: [] };
  expect(verifyBundle(lied).manifestProblem).toMatch(/manifest was altered/);
});

test('tells a file that is no bundle and a signer not trusted apart from an altered bundle, and says nothing of what it did not check', () => {
  for (const notBundle of [{}, null, [], { format: 'skillgate-evidence/1' }, { format: 'other/1', manifest: {} }]) {
    expect(verifyBundle(notBundle as unknown as EvidenceBundle)).toMatchObject({ ok: false, firstProblem: { kind: 'not-a-bundle' }, contentUnchecked: true, sessions: [] });
  }
  const b = bundleOf([]);
  // Pinned keys that do not include the exporter's: the bundle may be intact, its signer is not trusted.
  const stranger = RecordSigner.generate();
  expect(verifyBundle(copy(b), { [stranger.keyId]: stranger.publicKeyPem })).toMatchObject({ ok: false, firstProblem: { kind: 'untrusted-key', message: expect.stringContaining(exporter.keyId) }, contentUnchecked: true });
  expect(verifyBundle(copy(b), { [exporter.keyId]: exporter.publicKeyPem })).toMatchObject({ ok: true });
  expect(verifyBundle(copy(b), { [exporter.keyId]: exporter.publicKeyPem }).contentUnchecked).toBeUndefined();
  // Changed after signing: altered, and still nothing checked past the manifest.
  const changed = copy(b);
  changed.manifest.source = 'elsewhere';
  expect(verifyBundle(changed)).toMatchObject({ ok: false, firstProblem: { kind: 'altered' }, contentUnchecked: true });
});

test('a bundle whose checkpoints are not the ones signed for fails them, rather than calling them ok', () => {
  const signer = RecordSigner.generate();
  const cp = signCheckpoint(signer, 'pod-1/1/a', undefined, [{ sessionId: 'ses_b1', seq: 2, hash: exported[2]!.hash }]);
  const signed = buildBundle({ source: 'test', sessions: new Map([['ses_b1', exported]]), checkpoints: [cp], publicKeys: { [signer.keyId]: signer.publicKeyPem }, exporter, exporterKeyEphemeral: true });
  expect(verifyBundle(copy(signed))).toMatchObject({ ok: true, checkpoints: { count: 1 } });
  // Dropped after signing: the chain alone still verifies, the checkpoints are not what was signed.
  const dropped = copy(signed);
  dropped.checkpoints = [];
  const verdict = verifyBundle(dropped);
  expect(verdict).toMatchObject({ ok: false, manifestProblem: expect.stringMatching(/checkpoints were altered/), checkpoints: { problem: { kind: 'altered' } }, firstProblem: { kind: 'altered' } });
  expect(verdict.contentUnchecked).toBeUndefined();
});
