// The container wiring makes the record's masker at start-up, before the entrypoint hands start-up
// memory back, so the first request does not build the masking dictionaries (BENCHMARKS.md, RSS idle).
// Making it cannot fail on the policy in force: a custom entity the masker would refuse fails the
// policy's compile, and the sidecar refuses requests naming the problem instead.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phraseDictionaryReady } from '@skillgate/masking';
import { resolveConfig, startSidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

const configIn = (dir: string, policyFile?: string) => resolveConfig({
  upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', recordDir: join(dir, 'records'), maskingKey: 'a masking key of 16+ bytes',
  ...(policyFile ? { policyFile } : {}),
  listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
});

describe('sidecar wiring at start-up', () => {
  it('has the record masker built before any request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-startup-'));
    expect(phraseDictionaryReady()).toBe(false);
    const config = configIn(dir);
    const ports = await sidecarPorts(config, {});
    try {
      expect(phraseDictionaryReady()).toBe(true);
    } finally {
      await ports.journal?.(ports.logger!).close();
      await ports.onClose?.();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts with a policy whose custom entity the masker would refuse, and refuses requests saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-startup-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: anchored }\nspec:\n  masking:\n    custom:\n      - { name: EMPLOYEE_ID, pattern: '^EMP-[0-9]+$' }\n`);
    const config = configIn(dir, policyFile);
    const sidecar = await startSidecar(config, await sidecarPorts(config, {}));
    try {
      const res = await fetch(`${sidecar.claudeUrl}/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(403);
      const body = await res.json() as { error: { message: string } };
      expect(body.error.message).toMatch(/SkillPolicy .*anchored cannot be loaded \(spec\.masking\.custom\[0\]\.pattern: anchors/);
    } finally {
      await sidecar.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
