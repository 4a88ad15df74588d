// skillgate — the command line: component entrypoints and the responder's commands.
export { main } from './main.js';
export { commandGroups, loadCommands } from './commands/index.js';
export type { Command } from './command.js';
export { CliError } from './command.js';
