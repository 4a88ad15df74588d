// The command registry. Each command lives in its own module under commands/; add it here.
import type { Command } from '../command.js';
import { fakeClaudeCommand } from './fake-claude.js';
import { sidecarCommand } from './sidecar.js';
import { devCommand } from './dev.js';
import { approvalsCommands } from './approvals.js';
import { controllerCommand } from './controller.js';
import { lockCommand, unlockCommand } from './lock.js';
import { ownersOffboardCommand, ownersReinstateCommand, ownersListCommand } from './owners.js';
import { webhookCommands } from './webhook.js';
import { maskCommand } from './mask.js';
import { sessionsCommands } from './sessions.js';
import { verifyBundleCommand } from './verify-bundle.js';

export const commands: Command[] = [sidecarCommand, devCommand, fakeClaudeCommand, ...approvalsCommands, controllerCommand, lockCommand, unlockCommand, ownersOffboardCommand, ownersReinstateCommand, ownersListCommand, ...webhookCommands, maskCommand, ...sessionsCommands, verifyBundleCommand];
