// Local implementations of the ports, for `make dev` and runs without a cluster: a fixed identity,
// no workload token, and the upstream credential from SKILLGATE_UPSTREAM_API_KEY_FILE (re-read when
// the file changes, as a mounted Secret rotates).
import { readFileSync, statSync } from 'node:fs';
import type { SkillIdentity } from '@skillgate/api';
import type { CredentialSource, IdentitySource } from './index.js';

export function staticIdentity(identity: SkillIdentity): IdentitySource {
  return { identity: () => identity, refusal: () => undefined, tokenId: () => undefined };
}

export function keyFileCredential(initial: string | undefined, file: string | undefined): CredentialSource {
  let key = initial;
  let mtime = 0;
  let checkedAt = 0;
  return {
    credential() {
      if (file) {
        const now = Date.now();
        if (now - checkedAt > 5000) {
          checkedAt = now;
          try {
            const m = statSync(file).mtimeMs;
            if (m !== mtime) {
              mtime = m;
              key = readFileSync(file, 'utf8').trim() || key;
            }
          } catch {
            // keep the last good key; readiness reports nothing here because the key still works
          }
        }
      }
      return key ? { apiKey: key } : {};
    },
  };
}
