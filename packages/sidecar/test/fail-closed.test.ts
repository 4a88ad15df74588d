// Nothing is forwarded unless its request event is durable: with Redis unreachable and the spool
// disabled, the sidecar refuses with 503 overloaded_error and the upstream never sees the request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeClaude } from '@skillgate/fake-claude';
import { resolveConfig, startSidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

it('refuses with 503 and forwards nothing when the request event cannot be recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-failclosed-'));
  const fake = await startFakeClaude();
  const config = resolveConfig({
    upstreamUrl: fake.url, upstreamApiKey: 'k', recordDir: join(dir, 'records'), redisUrl: 'redis://127.0.0.1:1',
    listen: { claude: 0, egress: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
  });
  const sidecar = await startSidecar(config, await sidecarPorts(config, { SKILLGATE_RECORD_SPOOL_BYTES: '0' }));
  try {
    const res = await fetch(`${sidecar.claudeUrl}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(503);
    const body = await res.json() as { error: { type: string; message: string } };
    expect(body.error.type).toBe('overloaded_error');
    expect(res.headers.get('x-skillgate-error')).toBe('SG_RECORD_UNAVAILABLE');
    expect(fake.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(0);
  } finally {
    await sidecar.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
