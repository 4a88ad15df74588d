// The full sidecar row's SkillPolicy as JSON. In a pod a sidecar gets its policies from the API
// server as JSON and never loads a YAML parser; the benchmark runs it the same way, with the
// (human-edited) YAML policy file converted once into bench/results/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const results = resolve(dirname(fileURLToPath(import.meta.url)), '../results');

/** Path of a JSON copy of the policy file (a List when it holds several documents). */
export function policyFileAsJson(file) {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter(Boolean);
  const out = join(results, `${basename(file).replace(/\.(ya?ml|json)$/, '')}.policy.json`);
  mkdirSync(results, { recursive: true });
  writeFileSync(out, JSON.stringify(docs.length === 1 ? docs[0] : { kind: 'List', items: docs }));
  return out;
}
