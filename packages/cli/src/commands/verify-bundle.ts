// `skillgate verify BUNDLE`: check an exported evidence bundle offline — manifest signature and
// digests, checkpoint signatures, every session's hash chain. Needs no store, and no network unless
// the controller's JWKS is given as a URL (record-trust.ts).
import { readFileSync } from 'node:fs';
import { BUNDLE_FORMAT, judgeCheckpointKeys, uncheckedVerdict, verifyBundle, type BundleVerdict, type EvidenceBundle, type ExportCheck } from '@skillgate/record';
import { CliError, outputOption, printData, type Command } from '../command.js';
import { controllerTrust, pinnedKeys, trustHelp, trustOptions, trustPinned, trustUsage } from './record-trust.js';
import { couldNotCheck, describeProblem, keysLine, verdictLines, withEndorsed } from './sessions.js';

/** What the exporter's own check of the source record found (signed into the manifest). */
function exportLine(check: ExportCheck | undefined): string {
  if (!check) return 'at export: not checked (a bundle made before exports verified their record first)';
  if (check.ok) return 'at export: the record verified (chains, checkpoints, the store\'s own heads and listing)';
  return `at export: FAILED ${check.problems.join('; ')} (exported anyway, --force)`;
}

export const verifyBundleCommand: Command = {
  name: ['verify'],
  args: 1,
  summary: 'Verify an exported evidence bundle offline',
  usage: `verify BUNDLE ${trustUsage} [--output json]`,
  help: `Exit 0 when the bundle is intact, 1 with the first problem otherwise — also when its signed
manifest says the record it was taken from failed verification at export ('sessions export --force'),
3 when it could not check (the file, a --public-key file or the JWKS could not be read), 2 for a usage error.
The problem's kind says which: not-a-bundle (the file is no evidence bundle), untrusted-key (signed
by a key other than the ones given to trust), altered, missing, ... (as 'sessions verify' names them).
When the manifest fails, the sessions and checkpoints are not checked, and the output says so.
Without --trust-jwks or --public-key the keys are the bundle's own: an ok then shows the bundle is
consistent and unchanged since it was signed, not who wrote it.
${trustHelp}
Alone, --public-key also pins the key the manifest must be signed with; beside --trust-jwks the
manifest is checked against the bundle's keys (the checkpoints carry the proof).`,
  options: { ...outputOption, ...trustOptions },
  async run({ values, positionals }) {
    const file = positionals[0];
    if (!file) throw new CliError(`missing bundle file. Usage: skillgate ${this.usage}`, 2);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read bundle ${file}: ${(err as Error).message}`, 3);
    }
    let bundle: EvidenceBundle | undefined;
    let notJson: string | undefined;
    try {
      bundle = JSON.parse(text) as EvidenceBundle;
    } catch (err) {
      notJson = text.trim() === '' ? 'the file is empty' : `the file is not JSON (${(err as Error).message})`;
    }
    let pinned: Record<string, string> | undefined;
    let anchor: Awaited<ReturnType<typeof controllerTrust>>;
    try {
      pinned = pinnedKeys(values);
      anchor = await controllerTrust(values, pinned);
    } catch (err) {
      throw couldNotCheck(err);
    }
    let verdict: BundleVerdict;
    if (bundle === undefined) verdict = uncheckedVerdict('not-a-bundle', `not a ${BUNDLE_FORMAT} bundle: ${notJson}`);
    else {
      const judged = !Array.isArray(bundle?.checkpoints) ? undefined
        : anchor ? await judgeCheckpointKeys(bundle.checkpoints, { ...bundle.publicKeys, ...pinned }, anchor.trust)
          : pinned ? await judgeCheckpointKeys(bundle.checkpoints, pinned, trustPinned) : undefined;
      verdict = verifyBundle(bundle, anchor ? undefined : pinned, judged ? { judged } : {});
    }
    const keysFrom = anchor ? 'controller' : pinned ? 'pinned' : 'bundle';
    // Only a bundle that was read can have a manifest that did not fail.
    const manifest = bundle?.manifest as EvidenceBundle['manifest'];
    printData(values, withEndorsed(verdict, anchor), () => [
      // Once the content was checked, what is left for the manifest to fail is a digest: altered.
      verdict.manifestProblem ? `manifest: FAILED ${verdict.contentUnchecked ? describeProblem(verdict.firstProblem!) : `altered: ${verdict.manifestProblem}`}` : `manifest: ok (signed by ${manifest.exporterKeyId}${manifest.exporterKeyEphemeral ? ', a key made for this export alone: it shows the bundle is unchanged since it was signed, not who signed it' : ''})`,
      // Parts never looked at get no line that could read as a verdict on them.
      ...(verdict.contentUnchecked ? [`sessions and checkpoints: not checked (the manifest failed)`, ...(verdict.firstProblem?.kind === 'untrusted-key' ? [keysLine(keysFrom)] : [])]
        : [...(verdict.manifestProblem ? [] : [exportLine(manifest.verifiedAtExport)]), ...verdictLines(verdict, anchor, keysFrom)]),
    ].join('\n'));
    if (!verdict.ok) throw new CliError(`bundle verification failed: ${verdict.firstProblem ? describeProblem(verdict.firstProblem) : verdict.manifestProblem}`);
    return 0;
  },
};
