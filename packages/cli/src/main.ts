#!/usr/bin/env node
// skillgate — the CLI entrypoint (also installed as kubectl-skillgate). Finds the longest command
// name that matches argv, parses its options, runs it, and turns failures into one line on stderr.
import { loadCommands } from './commands/index.js';
import { CliError, helpText, parseCommandArgs, stopWhenStdoutCloses, type Command } from './command.js';

function findCommand(commands: Command[], argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const cmd of commands) {
    if (cmd.name.every((w, i) => argv[i] === w) && (!best || cmd.name.length > best.cmd.name.length)) {
      best = { cmd, rest: argv.slice(cmd.name.length) };
    }
  }
  return best;
}

function overview(commands: Command[], prefix: string[] = []): string {
  const rows = commands
    .filter((c) => prefix.every((w, i) => c.name[i] === w))
    .map((c) => `  ${c.name.join(' ').padEnd(24)} ${c.summary}`)
    .sort();
  const command = [...prefix, '<command>'].join(' ');
  return `Usage: skillgate ${command} [options]\n\nIncident-response gateway for Claude skills.\n\nCommands:\n${rows.join('\n')}\n\nRun 'skillgate ${command} --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview(await loadCommands()));
    return 0;
  }
  if (argv[0] === '--version') {
    process.stdout.write('skillgate 0.1.0\n');
    return 0;
  }
  const commands = await loadCommands(argv[0]);
  const found = findCommand(commands, argv);
  if (!found) {
    const group = commands.filter((c) => c.name[0] === argv[0]);
    if (group.length > 0 && argv.length === 2 && (argv[1] === '--help' || argv[1] === '-h')) {
      // `skillgate sessions --help`: the group's commands.
      process.stdout.write(overview(commands, [argv[0]!]));
      return 0;
    }
    if (group.length > 0) {
      const what = argv.length === 1 ? `'${argv[0]}' needs a command after it` : `'${argv.join(' ')}' is not a command`;
      process.stderr.write(`skillgate: ${what}.\n${overview(commands, [argv[0]!])}`);
    } else {
      process.stderr.write(`skillgate: unknown command '${argv[0]}'. Run 'skillgate --help' for the list.\n`);
    }
    return 2;
  }
  try {
    const parsed = parseCommandArgs(found.cmd, found.rest);
    if (parsed.values.help) {
      process.stdout.write(helpText(found.cmd));
      return 0;
    }
    return await found.cmd.run(parsed as Parameters<Command['run']>[0]);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`skillgate: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`skillgate: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

// Run when executed directly (bin or `node main.js`), not when imported by tests.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === realpathSync(fileURLToPath(import.meta.url))) {
  stopWhenStdoutCloses();
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
