// The full sidecar row's SkillPolicy as JSON. In a pod a sidecar gets its policies from the API
// server as JSON and never loads a YAML parser; the benchmark runs it the same way, with the
// (human-edited) YAML policy file read by the sidecar's own parser once and written to bench/results/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePolicyFile } from '@skillgate/sidecar/cluster/policy-feed';

const results = resolve(dirname(fileURLToPath(import.meta.url)), '../results');

/** Path of a JSON copy (a List) of the policy file, its policies in `namespace` unless they name one. */
export function policyFileAsJson(file, namespace) {
  const items = parsePolicyFile(readFileSync(file, 'utf8'), namespace);
  const out = join(results, `${basename(file).replace(/\.(ya?ml|json)$/, '')}.policy.json`);
  mkdirSync(results, { recursive: true });
  writeFileSync(out, JSON.stringify({ kind: 'List', items }));
  return out;
}
