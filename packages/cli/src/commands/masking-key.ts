// The installation masking key for the commands that compute fingerprints (sessions find, mask):
// --key-file F, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY, as the cluster's components
// read it. Where it lives in a cluster is said in one place. A key that cannot be the installation
// key (too short) is refused here, naming where it came from.
import { readFileSync } from 'node:fs';
import { MASKING_KEY_MIN_BYTES } from '@skillgate/api';
import { CliError } from '../command.js';

/** How a responder gets the chart's key into a file (the release namespace of the README's install). */
export const KEY_FILE_HOWTO = 'kubectl get secret skillgate-masking-key -n skillgate-system -o jsonpath=\'{.data.masking-key}\' | base64 -d > key';

/** The key, and where it came from (for messages: `--key-file F`, `SKILLGATE_MASKING_KEY`, ...). */
export interface InstallationKey {
  key: string;
  source: string;
}

/** The key from --key-file, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY; undefined when none is set. */
export function installationKey(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): InstallationKey | undefined {
  if (keyFile === '') throw new CliError('--key-file needs a file name', 2);
  const file = keyFile ?? (env.SKILLGATE_MASKING_KEY_FILE || undefined);
  let found: InstallationKey;
  if (file) {
    const source = keyFile !== undefined ? `--key-file ${file}` : `SKILLGATE_MASKING_KEY_FILE (${file})`;
    try {
      found = { key: readFileSync(file, 'utf8').trim(), source };
    } catch (err) {
      throw new CliError(`cannot read the masking key file ${file}: ${(err as Error).message}`);
    }
  } else if (env.SKILLGATE_MASKING_KEY) {
    found = { key: env.SKILLGATE_MASKING_KEY, source: 'SKILLGATE_MASKING_KEY' };
  } else {
    return undefined;
  }
  const bytes = Buffer.byteLength(found.key);
  if (bytes < MASKING_KEY_MIN_BYTES) {
    throw new CliError(`the masking key from ${found.source} is ${bytes} bytes: an installation key is at least ${MASKING_KEY_MIN_BYTES} (a cluster's: ${KEY_FILE_HOWTO})`);
  }
  return found;
}
