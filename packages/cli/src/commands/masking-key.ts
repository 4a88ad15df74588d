// The installation masking key for the commands that compute fingerprints (sessions find, mask):
// --key-file F, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY, as the cluster's components
// read it. Where it lives in a cluster is said in one place.
import { readFileSync } from 'node:fs';
import { CliError } from '../command.js';

/** How a responder gets the chart's key into a file (the release namespace of the README's install). */
export const KEY_FILE_HOWTO = 'kubectl get secret skillgate-masking-key -n skillgate-system -o jsonpath=\'{.data.masking-key}\' | base64 -d > key';

/** The key from --key-file, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY; undefined when none is set. */
export function installationKey(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = keyFile ?? env.SKILLGATE_MASKING_KEY_FILE;
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new CliError(`cannot read the masking key file ${file}: ${(err as Error).message}`);
    }
  }
  return env.SKILLGATE_MASKING_KEY || undefined;
}
