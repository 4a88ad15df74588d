// The command registry, by first word. Each group is loaded only when its word is typed, so
// `skillgate sidecar` does not load the controller's Kubernetes client or the recorder: start-up
// time and idle memory of every container stay what that component needs. To add a command, add
// its module under commands/ and a line here.
import type { Command } from '../command.js';

type Loader = () => Promise<Command[]>;

export const commandGroups: Record<string, Loader> = {
  sidecar: async () => [(await import('./sidecar.js')).sidecarCommand],
  dev: async () => [(await import('./dev.js')).devCommand],
  'fake-claude': async () => [(await import('./fake-claude.js')).fakeClaudeCommand],
  controller: async () => [(await import('./controller.js')).controllerCommand],
  webhook: async () => (await import('./webhook.js')).webhookCommands,
  approvals: async () => (await import('./approvals.js')).approvalsCommands,
  lock: async () => [(await import('./lock.js')).lockCommand],
  unlock: async () => [(await import('./lock.js')).unlockCommand],
  owners: async () => {
    const m = await import('./owners.js');
    return [m.ownersAddCommand, m.ownersOffboardCommand, m.ownersReinstateCommand, m.ownersListCommand];
  },
  mask: async () => [(await import('./mask.js')).maskCommand],
  sessions: async () => (await import('./sessions.js')).sessionsCommands,
  verify: async () => [(await import('./verify-bundle.js')).verifyBundleCommand],
  recorder: async () => [(await import('./recorder.js')).recorderCommand],
};

/** The commands of one first word, or every command (for the overview and unknown words). */
export async function loadCommands(first?: string): Promise<Command[]> {
  const group = first === undefined ? undefined : commandGroups[first];
  if (group) return group();
  // One group after another: only the overview loads them all, and concurrent imports of modules
  // that share dependencies fail under jest's ESM loader on Node 22 ("module not been linked").
  const all: Command[] = [];
  for (const load of Object.values(commandGroups)) all.push(...await load());
  return all;
}
