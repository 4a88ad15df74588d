// The chart ships its own copy of the CRDs (helm installs charts/skillgate/crds/ before anything
// else); the source of truth is crds/ at the repository root. This fails as soon as the two differ:
// after changing a CRD, copy it: cp crds/*.yaml charts/skillgate/crds/
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const yamlFiles = (dir) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => /\.ya?ml$/.test(f)).sort();

test('the chart\'s CRDs are byte-for-byte the CRDs in crds/ (run: cp crds/*.yaml charts/skillgate/crds/)', () => {
  expect(yamlFiles('charts/skillgate/crds')).toEqual(yamlFiles('crds'));
  for (const f of yamlFiles('crds')) {
    const chart = fs.readFileSync(path.join(ROOT, 'charts/skillgate/crds', f), 'utf8');
    const source = fs.readFileSync(path.join(ROOT, 'crds', f), 'utf8');
    expect([f, chart === source]).toEqual([f, true]);
  }
});
