// The shape of a CLI command and the small toolkit every command shares: argument parsing with
// node:util parseArgs, --help text, --output json, and failing with a one-line reason.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  /** Words that select the command, e.g. ['sessions', 'list']. */
  name: string[];
  summary: string;
  /** Usage line after `skillgate`, e.g. 'sessions list [--skill S] [--output json]'. */
  usage: string;
  /** Longer help: what it does, options, examples. */
  help?: string;
  options?: OptionSpec;
  /** The most arguments (besides options) it takes: default none, 'many' for a list. More is a usage error. */
  args?: number | 'many';
  /** Runs the command; resolves with the exit code (0 on success). Throw CliError for a clean failure. */
  run(args: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }): Promise<number>;
}

/** A failure the user can act on: printed as one line on stderr, exit code 1 (or as given). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export function parseCommandArgs(cmd: Command, argv: string[]) {
  const options: OptionSpec = { help: { type: 'boolean', short: 'h' }, ...(cmd.options ?? {}) };
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: OptionSpec; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs explains over several lines; one line is what a failing command prints.
    const message = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/\.+$/, '');
    throw new CliError(`${message}. Try: skillgate ${cmd.name.join(' ')} --help`, 2);
  }
  // An argument too many is a mistake (two bundles to verify, a file to mask), never ignored.
  const most = cmd.args === 'many' ? Infinity : cmd.args ?? 0;
  if (parsed.positionals.length > most) {
    throw new CliError(`unexpected argument "${parsed.positionals[most]}". Usage: skillgate ${cmd.usage}`, 2);
  }
  // The shared --output knows two forms; anything else would silently print the table.
  const output = parsed.values.output;
  if (cmd.options?.output === outputOption.output && output !== undefined && output !== 'json' && output !== 'table') {
    throw new CliError(`--output ${String(output)} is not supported here: use --output json (or table, the default)`, 2);
  }
  return parsed;
}

export function helpText(cmd: Command): string {
  return `Usage: skillgate ${cmd.usage}\n\n${cmd.summary}\n${cmd.help ? `\n${cmd.help.trimEnd()}\n` : ''}`;
}

/** Print data: JSON when --output json, otherwise the human rendering. */
export function printData(values: Record<string, unknown>, data: unknown, human: () => string): void {
  if (values.output === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(printable(human()).replace(/\n?$/, '\n'));
}

/**
 * Text for a terminal, with what a terminal would act on shown instead: control characters but
 * newline and tab (ESC starts the sequences that move the cursor, erase lines, retitle the window),
 * C1 controls, and the bidirectional overrides that reorder what is shown. Records hold text a skill
 * and Claude wrote; a responder reading it must see every character, not what it tells the terminal.
 */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

// C0 but \t and \n, DEL, C1, and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export const outputOption: OptionSpec = { output: { type: 'string', short: 'o' } };

/** `90s`, `30m`, `12h`, `7d` in milliseconds, or undefined when `text` is not such a duration. */
export function durationMs(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  return m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'] : undefined;
}

/**
 * A reader that goes away (`skillgate sessions list | head -1`) ends the command quietly: EPIPE on
 * stdout exits at once, with the exit code the command has already decided (a verification that
 * failed still exits 1), else 0 — never a stack trace. Any other stdout failure: one line, exit 1.
 */
export function stopWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    process.stderr.write(`skillgate: cannot write to stdout: ${err.message}\n`);
    process.exit(1);
  });
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
  });
}
