// `skillgate verify BUNDLE`: check an exported evidence bundle offline — manifest signature and
// digests, checkpoint signatures, every session's hash chain. Needs no store and no network.
import { readFileSync } from 'node:fs';
import { verifyBundle, type EvidenceBundle } from '@skillgate/record';
import { CliError, outputOption, printData, type Command } from '../command.js';
import { describeProblem, trustedKeys } from './sessions.js';

export const verifyBundleCommand: Command = {
  name: ['verify'],
  summary: 'Verify an exported evidence bundle offline',
  usage: 'verify BUNDLE [--public-key FILE]... [--output json]',
  help: `Exit 0 when the bundle is intact, 1 with the first problem otherwise.
--public-key FILE pins the Ed25519 public key(s) (PEM) allowed to sign checkpoints and the manifest;
without it the keys inside the bundle are used, which proves integrity but not who signed.`,
  options: { ...outputOption, 'public-key': { type: 'string', multiple: true } },
  async run({ values, positionals }) {
    const file = positionals[0];
    if (!file) throw new CliError(`missing bundle file. Usage: skillgate ${this.usage}`, 2);
    let bundle: EvidenceBundle;
    try {
      bundle = JSON.parse(readFileSync(file, 'utf8')) as EvidenceBundle;
    } catch (err) {
      throw new CliError(`cannot read bundle ${file}: ${(err as Error).message}`);
    }
    const verdict = verifyBundle(bundle, trustedKeys(values));
    printData(values, verdict, () => [
      verdict.manifestProblem ? `manifest: FAILED ${verdict.manifestProblem}` : `manifest: ok (signed by ${bundle.manifest.exporterKeyId}${bundle.manifest.exporterKeyEphemeral ? ', ephemeral key' : ''})`,
      ...(verdict.checkpoints.problem ? [`checkpoints: FAILED ${describeProblem(verdict.checkpoints.problem)}`] : [`checkpoints: ok (${verdict.checkpoints.count})`]),
      ...verdict.sessions.map((s) => `${s.sessionId}: ${s.ok ? `ok (${s.events} events)` : `FAILED ${describeProblem(s.problem!)}`}`),
    ].join('\n'));
    if (!verdict.ok) throw new CliError(`bundle verification failed: ${verdict.firstProblem ? describeProblem(verdict.firstProblem) : verdict.manifestProblem}`);
    return 0;
  },
};
