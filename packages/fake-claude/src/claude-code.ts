// Runs the real Claude Code CLI (the pure-Node cli.js of @anthropic-ai/claude-code 2.1.112, a
// devDependency) non-interactively against a base URL, the way ANTHROPIC-WIRE.md documents: `-p`,
// JSON output, telemetry and updates off, and a throwaway HOME so it never touches the user's own.
// For tests and demos only; it must never be pointed at anything but a local URL.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClaudeCodeRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed when `--output-format json` printed one JSON object. */
  result: { type?: string; subtype?: string; is_error?: boolean; result?: string; num_turns?: number; session_id?: string; [k: string]: unknown } | undefined;
}

export interface ClaudeCodeOptions {
  baseUrl: string;
  prompt: string;
  /** The key the skill holds (any value works behind the sidecar). */
  apiKey?: string;
  /** Extra CLI arguments, e.g. ['--allowedTools', 'Bash']. */
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Path of the installed cli.js, or undefined when @anthropic-ai/claude-code is not installed. */
export function claudeCodeCliPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('@anthropic-ai/claude-code/cli.js');
  } catch {
    return undefined;
  }
}

export async function runClaudeCode(opts: ClaudeCodeOptions): Promise<ClaudeCodeRun> {
  const cli = claudeCodeCliPath();
  if (!cli) throw new Error('@anthropic-ai/claude-code is not installed (npm install in the repo root)');
  const home = await mkdtemp(join(tmpdir(), 'claude-code-home-'));
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ANTHROPIC_BASE_URL: opts.baseUrl,
      ANTHROPIC_API_KEY: opts.apiKey ?? 'sk-ant-skill-placeholder',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      ...opts.env,
    };
    const child = spawn(process.execPath, [cli, '-p', opts.prompt, '--output-format', 'json', ...(opts.args ?? [])], {
      cwd: home,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    clearTimeout(timer);
    let result: ClaudeCodeRun['result'];
    try {
      result = JSON.parse(stdout.trim()) as ClaudeCodeRun['result'];
    } catch {
      result = undefined;
    }
    return { exitCode, stdout, stderr, result };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
