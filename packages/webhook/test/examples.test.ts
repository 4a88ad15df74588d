import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { SkillPolicy } from '@skillgate/api';
import { validateSkillPolicy } from '../src/validate-policy.js';

// dist/test -> repository root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('examples/', () => {
  test('the example SkillPolicy passes the webhook validation (the e2e suite proves the schema and CEL side)', () => {
    const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'examples/skillpolicy.yaml'), 'utf8')).map((d) => d.toJS() as SkillPolicy);
    expect(docs).toHaveLength(1);
    expect(validateSkillPolicy(docs[0]!)).toEqual({ allowed: true, violations: [], warnings: [] });
  });

  test('every CRD file is one CustomResourceDefinition in group skillgate.dev with a status subresource', () => {
    const dir = path.join(ROOT, 'crds');
    const kinds = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => {
      const crd = parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS());
      expect(crd).toHaveLength(1);
      expect(crd[0].spec.group).toBe('skillgate.dev');
      expect(crd[0].spec.versions[0].subresources).toEqual({ status: {} });
      expect(crd[0].spec.names.categories).toEqual(['skillgate']);
      return [crd[0].spec.names.kind, crd[0].spec.scope, crd[0].spec.names.shortNames[0]];
    });
    expect(kinds.sort()).toEqual([['SkillApproval', 'Namespaced', 'sga'], ['SkillLock', 'Cluster', 'sgl'], ['SkillPolicy', 'Namespaced', 'sgp']]);
  });
});
