// The bench for real clients through the sidecar: fake Claude as the upstream (accepting only the
// sidecar's upstream key) and a sidecar in front of it on ephemeral ports. The skill's own key is a
// placeholder that must never reach the upstream.
import { startFakeClaude, type FakeClaude, type ReceivedRequest } from '@skillgate/fake-claude';
import { startSidecar, createLogger, type Sidecar } from '../../src/index.js';

export const UPSTREAM_KEY = 'sk-ant-sidecar-upstream-key';
export const SKILL_KEY = 'sk-ant-skill-placeholder-key';

export interface ThroughSidecar {
  fake: FakeClaude;
  sidecar: Sidecar;
  close(): Promise<void>;
}

export async function startThroughSidecar(): Promise<ThroughSidecar> {
  const fake = await startFakeClaude({ port: 0, apiKeys: [UPSTREAM_KEY] });
  const sidecar = await startSidecar({
    upstreamUrl: fake.url,
    upstreamApiKey: UPSTREAM_KEY,
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
  }, { logger: createLogger('silent') });
  return {
    fake,
    sidecar,
    async close() {
      await sidecar.close();
      await fake.close();
    },
  };
}

/** Every header value the upstream received, for "the skill's key never arrived" checks. */
export function allHeaderValues(requests: readonly ReceivedRequest[]): string[] {
  const out: string[] = [];
  for (const r of requests) for (let i = 1; i < r.rawHeaders.length; i += 2) out.push(r.rawHeaders[i]!);
  return out;
}
