// Nothing is forwarded unless its request event is durable: with Redis unreachable and the spool
// disabled, the sidecar refuses with 503 overloaded_error and the upstream never sees the request.
// With the spool enabled the request goes through, recorded locally. /metrics tells the two apart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeClaude, type FakeClaude } from '@skillgate/fake-claude';
import { resolveConfig, startSidecar, type Sidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

/** A sidecar whose Redis is unreachable, with the record settings `env` gives; one request through it. */
async function withRedisAway(env: (dir: string) => Record<string, string>, check: (r: { res: Response; fake: FakeClaude; sidecar: Sidecar }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-redis-away-'));
  const fake = await startFakeClaude();
  const config = resolveConfig({
    upstreamUrl: fake.url, upstreamApiKey: 'k', recordDir: join(dir, 'records'), redisUrl: 'redis://127.0.0.1:1',
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
  });
  const sidecar = await startSidecar(config, await sidecarPorts(config, env(dir)));
  try {
    const res = await fetch(`${sidecar.claudeUrl}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await check({ res, fake, sidecar });
  } finally {
    await sidecar.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

it('refuses with 503 and forwards nothing when the request event cannot be recorded', async () => {
  await withRedisAway(() => ({ SKILLGATE_RECORD_SPOOL_BYTES: '0' }), async ({ res, fake, sidecar }) => {
    expect(res.status).toBe(503);
    const body = await res.json() as { error: { type: string; message: string } };
    expect(body.error.type).toBe('overloaded_error');
    expect(res.headers.get('x-skillgate-error')).toBe('SG_RECORD_UNAVAILABLE');
    expect(fake.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(0);
    const m = await scrape(sidecar.metricsUrl);
    expect(m('skillgate_sidecar_record_events_total{result="refused"}')).toBeGreaterThanOrEqual(1);
    expect(m('skillgate_sidecar_record_events_total{result="stored"}')).toBe(0);
  });
});

it('records into the local spool while Redis is away, and says so on /metrics', async () => {
  await withRedisAway((dir) => ({ SKILLGATE_RECORD_SPOOL_DIR: join(dir, 'spool') }), async ({ res, fake, sidecar }) => {
    expect(`${res.status} ${await res.text()}`).toMatch(/^200 /);
    expect(fake.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(1);
    const m = await scrape(sidecar.metricsUrl);
    expect(m('skillgate_sidecar_record_spooling')).toBe(1);
    expect(m('skillgate_sidecar_record_events_total{result="spooled"}')).toBeGreaterThanOrEqual(1);
    expect(m('skillgate_sidecar_record_events_total{result="refused"}')).toBe(0);
    expect(m('skillgate_sidecar_record_spool_bytes')).toBeGreaterThan(0);
    expect(m('skillgate_sidecar_record_seconds_count')).toBe(1); // the request event, durable in the spool
  });
});

/** Scrape /metrics; the returned function reads one sample (NaN when absent). */
async function scrape(metricsUrl: string): Promise<(sample: string) => number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return (sample) => {
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : Number.NaN;
  };
}
