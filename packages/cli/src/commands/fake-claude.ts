// `skillgate fake-claude`: run the bundled fake Anthropic API (for `make dev`, demos and benchmarks).
// It listens on loopback by default and never forwards anything anywhere; it exits cleanly on
// SIGTERM/SIGINT. It keeps no record of requests (bounded memory under load).
import { startFakeClaude } from '@skillgate/fake-claude';
import { CliError, outputOption, untilSignal, type Command } from '../command.js';

export const DEFAULT_FAKE_CLAUDE_PORT = 15099;

function intOption(values: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CliError(`--${name} must be an integer from 0 to ${max}, got '${String(raw)}'`, 2);
  return n;
}

export const fakeClaudeCommand: Command = {
  name: ['fake-claude'],
  summary: 'Run the bundled fake Anthropic API (Messages, SSE, batches, files, models, errors)',
  usage: 'fake-claude [--port N] [--host H] [--delay-ms N] [--fixtures DIR] [--output json]',
  help: `Options:
  --port N        port to listen on (default ${DEFAULT_FAKE_CLAUDE_PORT}; 0 picks a free one)
  --host H        address to listen on (default 127.0.0.1)
  --delay-ms N    delay before each streamed delta, in ms (default 0)
  --fixtures DIR  directory of recorded SSE streams (default: the recorded streams bundled with fake-claude,
                  or SKILLGATE_FIXTURES)
  --output json   print {"url", "port"} as JSON instead of a sentence

Any credential is accepted (x-api-key or Authorization: Bearer). Replies echo the last user
text ("echo: ..."). Stops cleanly on SIGTERM or SIGINT.

Example:
  skillgate fake-claude --port 0 --delay-ms 20
  curl -s $URL/v1/messages -H 'x-api-key: any' -H 'anthropic-version: 2023-06-01' \\
    -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'`,
  options: {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'delay-ms': { type: 'string' },
    fixtures: { type: 'string' },
    ...outputOption,
  },
  async run({ values }) {
    const port = intOption(values, 'port', DEFAULT_FAKE_CLAUDE_PORT, 65535);
    const deltaDelayMs = intOption(values, 'delay-ms', 0, 600_000);
    const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
    let fake;
    try {
      fake = await startFakeClaude({
        port,
        host,
        deltaDelayMs,
        recordRequests: false,
        ...(typeof values.fixtures === 'string' ? { fixturesDir: values.fixtures } : {}),
      });
    } catch (err) {
      throw new CliError(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
    if (values.output === 'json') process.stdout.write(`${JSON.stringify({ url: fake.url, port: fake.port })}\n`);
    else process.stdout.write(`fake Claude API listening on ${fake.url} (ANTHROPIC_BASE_URL=${fake.url})\n`);
    await untilSignal();
    await fake.close();
    return 0;
  },
};
