// A local sidecar for tests: the container wiring (sidecarPorts) over a policy file in a temporary
// directory, no Redis, ephemeral ports, in front of the scripted upstream double.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, startSidecar, type Sidecar, type SidecarConfig, type SidecarConfigInput } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';

/** A Messages answer the upstream double gives (queue it before each request that should pass). */
export const OK_ANSWER = { status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"type":"message","content":[]}'] };

/** A local sidecar's config: records in `dir`, the policy in `policyFile`, ports ephemeral, logs off. */
export function localConfig(dir: string, policyFile: string, input: SidecarConfigInput = {}): SidecarConfig {
  return resolveConfig({
    upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', recordDir: join(dir, 'records'), policyFile, logLevel: 'silent',
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    ...input,
  });
}

export interface LocalSidecar {
  dir: string;
  /** The policy file (the test may rewrite it). */
  file: string;
  upstream: UpstreamDouble;
  sidecar: Sidecar;
  close(): Promise<void>;
}

/** A sidecar started over a policy file holding `policy`, forwarding to a fresh upstream double. */
export async function startLocalSidecar(policy: string, input: SidecarConfigInput = {}): Promise<LocalSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-local-sidecar-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policy);
  const upstream = await startUpstreamDouble();
  const config = localConfig(dir, file, { upstreamUrl: upstream.url, ...input });
  const sidecar = await startSidecar(config, await sidecarPorts(config, {}));
  return {
    dir, file, upstream, sidecar,
    async close() {
      await sidecar.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
