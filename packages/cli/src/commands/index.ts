// The command registry. Each command lives in its own module under commands/; add it here.
import type { Command } from '../command.js';

export const commands: Command[] = [];
