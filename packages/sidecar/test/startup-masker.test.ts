// The container wiring makes the record's masker at start-up, before the entrypoint hands start-up
// memory back, so the first request does not build the masking dictionaries (BENCHMARKS.md, RSS idle).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phraseDictionaryReady } from '@skillgate/masking';
import { resolveConfig } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

describe('sidecar wiring at start-up', () => {
  it('has the record masker built before any request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-startup-'));
    const config = resolveConfig({
      upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', recordDir: join(dir, 'records'), maskingKey: 'a masking key of 16+ bytes',
      listen: { claude: 0, egress: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
    });
    expect(phraseDictionaryReady()).toBe(false);
    const ports = await sidecarPorts(config, {});
    try {
      expect(phraseDictionaryReady()).toBe(true);
    } finally {
      await ports.journal?.(ports.logger!).close();
      await ports.onClose?.();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
