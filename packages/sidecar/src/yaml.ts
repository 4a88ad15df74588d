// The YAML parser (the `yaml` package), loaded on first use: only a YAML config file, a policy file
// or a YAML kubeconfig needs it, and loading it costs ~4.5 MB of resident memory, which a sidecar
// in a pod (JSON from the API server, configuration from the environment) never needs to pay.
import { createRequire } from 'node:module';

let loaded: typeof import('yaml') | undefined;

export function yaml(): typeof import('yaml') {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
}

/**
 * `text` parsed as JSON when it is a JSON object or array, without loading the YAML parser;
 * undefined otherwise (YAML, including YAML flow style that is not JSON: the caller's YAML parser
 * then reads it, or says what is wrong with it).
 */
export function parseJsonText(text: string): unknown {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
