// The YAML parser (the `yaml` package), loaded on first use: only a YAML config file, a policy file
// or a YAML kubeconfig needs it, and loading it costs ~4.5 MB of resident memory, which a sidecar
// in a pod (JSON from the API server, configuration from the environment) never needs to pay.
import { createRequire } from 'node:module';

let loaded: typeof import('yaml') | undefined;

export function yaml(): typeof import('yaml') {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
}
