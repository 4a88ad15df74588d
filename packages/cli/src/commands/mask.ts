// `skillgate mask [--policy F] [--json]`: the masking engine on stdin, for people tuning rules. It
// reads a SkillPolicy file exactly as the sidecar's local mode does and uses its spec.masking. The
// masked text (or the JSON object CONTRACT.md defines) goes to stdout; it never prints raw values
// anywhere else, and findings carry only type, offsets and an HMAC fingerprint.
import { readFileSync } from 'node:fs';
import { DEV_MASKING_KEY, type MaskingSpec } from '@skillgate/api';
import { createMasker } from '@skillgate/masking';
import { CliError, outputOption, type Command } from '../command.js';
import { KEY_FILE_HOWTO, installationKey } from './masking-key.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function maskingSpecFrom(file: string): Promise<MaskingSpec | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read policy file ${file}: ${(err as Error).message}`);
  }
  // The sidecar's parser: same YAML/JSON/multi-document rules as SKILLGATE_POLICY_FILE.
  const { parsePolicyFile } = await import('@skillgate/sidecar/cluster/policy-feed');
  let policies;
  try {
    policies = parsePolicyFile(text, 'default');
  } catch (err) {
    throw new CliError(`${file} is not a valid SkillPolicy file: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  // An empty file, a list of nothing, a scalar: no policy, so no masking settings to tune.
  if (policies.length === 0) throw new CliError(`${file} holds no SkillPolicy (expected a YAML or JSON document of kind SkillPolicy)`);
  const withMasking = policies.filter((p) => p.spec?.masking);
  if (withMasking.length > 1) {
    process.stderr.write(`skillgate mask: ${withMasking.length} policies in ${file} set masking; using ${withMasking[0]!.metadata.name}\n`);
  }
  return withMasking[0]?.spec.masking;
}

export const maskCommand: Command = {
  name: ['mask'],
  summary: 'Mask personal data and secrets in stdin (the sidecar\'s engine)',
  usage: 'mask [--policy FILE] [--key-file F] [--json | --output json|table]',
  help: `Reads text on stdin and writes it masked to stdout.
  --policy FILE   a SkillPolicy (YAML or JSON) whose spec.masking sets actions, entities and custom rules
  --json          print {"masked": string, "findings": [{"type", "subtype"?, "start", "end", "fingerprint"}]}
                  (start/end: UTF-16 indices into the input, end exclusive; fingerprint: HMAC-SHA256 of the value);
                  --output json is the same, --output table (the default) the masked text
The installation key for fingerprints, hashes and placeholders (at least 16 bytes) comes from
--key-file F, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY (a cluster's: ${KEY_FILE_HOWTO});
without one a development key is used and a warning is printed.
  echo "mail maria@example.com" | skillgate mask
  skillgate mask --policy policy.yaml --json < transcript.txt`,
  options: {
    policy: { type: 'string', short: 'p' },
    json: { type: 'boolean' },
    'key-file': { type: 'string' },
    ...outputOption,
  },
  async run({ values }) {
    if (values.json === true && values.output === 'table') throw new CliError('--json and --output table ask for different output: give one', 2);
    const json = values.json === true || values.output === 'json';
    const spec = typeof values.policy === 'string' ? await maskingSpecFrom(values.policy) : undefined;
    let key = installationKey(typeof values['key-file'] === 'string' ? values['key-file'] : undefined)?.key;
    if (!key) {
      process.stderr.write('skillgate mask: no installation key set (--key-file, SKILLGATE_MASKING_KEY_FILE, SKILLGATE_MASKING_KEY); using the development key of `skillgate dev` (fingerprints match its records, not a cluster\'s)\n');
      key = DEV_MASKING_KEY;
    }
    let masker;
    try {
      masker = createMasker(spec, { key });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const input = await readStdin();
    const { masked, findings } = masker.maskText(input);
    process.stdout.write(json ? `${JSON.stringify({ masked, findings })}\n` : masked);
    return 0;
  },
};
