// The CLI as users run it: a child process per command, checking exit codes, stdout and the
// one-line errors of CONTRACT.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSessionStore, headOf, sealEvent, type SessionEvent } from '@skillgate/record';
import { SDK_STEP, devBanner, onThisMachine } from '../src/commands/dev.js';
import { loadCommands } from '../src/commands/index.js';
import { parseTime } from '../src/commands/sessions-store.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const run = (args: string[], input?: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...process.env, SKILLGATE_MASKING_KEY: 'cli-test-installation-key', ...env } });
const noCluster = { KUBECONFIG: '', HOME: join(tmpdir(), 'sg-no-home-for-kube') };

/** Run the CLI with the reader of its stdout gone before it writes a byte (as `| head -0` leaves it). */
function runWithReaderGone(args: string[], input = ''): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, SKILLGATE_MASKING_KEY: 'cli-test-installation-key' } });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('skillgate', () => {
  it('lists every command group in --help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const word of ['sidecar', 'dev', 'fake-claude', 'controller', 'webhook', 'recorder', 'mask', 'sessions', 'verify', 'approvals', 'lock', 'unlock', 'owners']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${word}\\b`, 'm'));
    }
  });

  it('fails with a one-line reason and a non-zero exit for an unknown command or option', () => {
    const unknown = run(['frobnicate']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const badOption = run(['mask', '--no-such-option']);
    expect(badOption.status).toBe(2);
    expect(badOption.stderr).toContain('--help');
    // Node's own explanation runs over several lines: printed as one.
    const dashValue = run(['sessions', 'list', '--since', '-5m']);
    expect(dashValue.status).toBe(2);
    expect(dashValue.stderr.trim().split('\n')).toHaveLength(1);
    expect(dashValue.stderr).toContain("'--since=-XYZ'");
  });

  it('reads the record a command names: --dir wins over an exported REDIS_URL, and --dir with --redis is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-dir-'));
    try {
      const listed = run(['sessions', 'list', '--dir', dir, '--output', 'json'], '', { REDIS_URL: 'redis://127.0.0.1:1' });
      expect({ status: listed.status, stderr: listed.stderr }).toEqual({ status: 0, stderr: '' });
      expect(run(['sessions', 'list', '--dir', dir, '--redis', 'redis://127.0.0.1:1'])).toMatchObject({ status: 2, stderr: 'skillgate: --dir and --redis name different records: give one\n' });
      expect(run(['sessions', 'list', '--redis', 'notaurl'])).toMatchObject({ status: 2, stderr: 'skillgate: --redis must be a redis:// or rediss:// URL, not notaurl\n' });
      expect(run(['sessions', 'list'], '', { REDIS_URL: 'http://user:pw@x' })).toMatchObject({ status: 2, stderr: 'skillgate: REDIS_URL must be a redis:// or rediss:// URL, not http://***@x\n' });
      // A directory that is no archive is refused, and left as it was.
      const notArchive = mkdtempSync(join(tmpdir(), 'sg-cli-not-archive-'));
      expect(run(['sessions', 'list', '--archive', notArchive])).toMatchObject({ status: 1, stderr: `skillgate: ${notArchive} is not a recorder archive (no sessions/ or index/ in it)\n` });
      expect(readdirSync(notArchive)).toEqual([]);
      rmSync(notArchive, { recursive: true });
      // An empty record is not an intact one.
      const verified = run(['sessions', 'verify', '--all', '--dir', dir]);
      expect(verified.status).toBe(1);
      expect(verified.stderr).toMatch(/no sessions in local store .*: nothing verified \(check --dir, --redis or --prefix\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an argument too many instead of ignoring it (two bundles to verify, a file to mask, a second session)', () => {
    for (const args of [['verify', 'a.json', 'b.json'], ['mask', 'input.txt'], ['sessions', 'show', 'ses_a', 'ses_b'], ['lock', 'skill', 'triage', 'extra', '--reason', 'r'], ['sessions', 'list', 'x']]) {
      const r = run(args, '');
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 2, stderr: expect.stringMatching(new RegExp(`^skillgate: unexpected argument "${args.at(-1) === 'r' ? 'extra' : args.at(-1)!}"\\. Usage: skillgate \\S.*\n$`)) });
    }
  });

  it('the cluster commands say what is wrong with the command line first, then what is missing to reach a cluster, in one line', () => {
    expect(run(['lock', 'frob', 'x', '--reason', 'r'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: first argument must be one of/) });
    expect(run(['lock', 'skill', 'x'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/--reason is required/) });
    expect(run(['unlock'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/give a lock NAME or --target/) });
    expect(run(['lock', 'skill', 'x', '--reason', 'r', '--expires', '2'], '', noCluster)).toMatchObject({ status: 2, stderr: 'skillgate: --expires must look like 30m, 1h or 2d, got "2"\n' });
    expect(run(['approvals', 'show'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: missing approval ID/) });
    expect(run(['approvals', 'approve', '--reason', 'ok'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: missing approval ID/) });
    // A kill switch that would match nothing is refused, not reported as done.
    for (const [args, why] of [
      [['owner', 'bob'], /an owner lock names the owner's email/], [['namespace', 'Team-A'], /Team-A is not a namespace name/],
      [['pod', 'Pod_1', '-n', 'team-a'], /Pod_1 is not a pod name/], [['session', 'sess_123'], /sess_123 is not a session id \(ses_/],
      [['skill', 'x', '-n', 'Team A'], /-n Team A is not a namespace name/],
    ] as const) {
      expect(run(['lock', ...args, '--reason', 'r'], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(why) });
    }
    for (const args of [['lock', 'skill', 'x', '--reason', 'r'], ['owners', 'list'], ['approvals', 'list']]) {
      const r = run(args, '', noCluster);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 1, stderr: 'skillgate: no Kubernetes cluster to talk to: no kubeconfig found (set KUBECONFIG or pass --kubeconfig F), and not running inside a cluster\n' });
    }
    // The controller's JWKS read from the cluster is checked the same way.
    const trust = run(['sessions', 'verify', '--all', '--dir', tmpdir(), '--trust-jwks', 'kube:skillgate-system/skillgate-jwks'], '', noCluster);
    // Exit 3: it could not check (exit 1 says the record failed verification).
    expect(trust).toMatchObject({ status: 3, stderr: 'skillgate: cannot read the JWKS kube:skillgate-system/skillgate-jwks: no Kubernetes cluster to talk to: no kubeconfig found (set KUBECONFIG or pass --kubeconfig F), and not running inside a cluster\n' });
    expect(run(['sessions', 'verify', '--all', '--dir', tmpdir(), '--trust-jwks', 'kube:a/b', '--kubeconfig', '/nonexistent/kubeconfig'], '', noCluster).stderr).toBe('skillgate: cannot read the JWKS kube:a/b: cannot load the kubeconfig /nonexistent/kubeconfig: no such file\n');
    const missing = run(['lock', 'skill', 'x', '--reason', 'r', '--kubeconfig', '/nonexistent/kubeconfig'], '', noCluster);
    expect(missing).toMatchObject({ status: 1, stderr: 'skillgate: cannot load the kubeconfig /nonexistent/kubeconfig: no such file\n' });
  });

  it('dev --upstream needs a key file unless the upstream is on this machine', () => {
    const r = run(['dev', '--upstream', 'https://api.example.com']);
    expect(r).toMatchObject({ status: 2, stderr: 'skillgate: --upstream needs --key-file F (a file holding the upstream API key) unless the upstream is on this machine\n' });
    for (const url of ['http://127.0.0.1:8080', 'http://localhost:9', 'http://[::1]:80']) expect([url, onThisMachine(url)]).toEqual([url, true]);
    for (const url of ['https://api.anthropic.com', 'http://10.0.0.1', 'http://127.0.0.1.example.com', 'not a url']) expect([url, onThisMachine(url)]).toEqual([url, false]);
  });

  it('mask --json reports findings with offsets into the input and never the value', () => {
    const input = 'Mail jane.doe@example.com, card 4111 1111 1111 1111.';
    const r = run(['mask', '--json'], input);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { masked: string; findings: Array<{ type: string; start: number; end: number }> };
    expect(out.masked).not.toContain('jane.doe@example.com');
    expect(out.masked).toContain('[EMAIL_ADDRESS]');
    const email = out.findings.find((f) => f.type === 'EMAIL_ADDRESS')!;
    expect(input.slice(email.start, email.end)).toBe('jane.doe@example.com');
    const card = out.findings.find((f) => f.type === 'CREDIT_CARD')!;
    expect(input.slice(card.start, card.end)).toBe('4111 1111 1111 1111');
    expect(r.stdout).not.toContain('4111 1111 1111 1111');
  });

  it('mask fingerprints with the installation key from --key-file or SKILLGATE_MASKING_KEY_FILE, as the record does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-key-'));
    try {
      const keyFile = join(dir, 'key');
      writeFileSync(keyFile, 'a-cluster-installation-key-0123\n');
      const fingerprint = (args: string[], env: Record<string, string> = {}) => (JSON.parse(run(['mask', '--json', ...args], 'jane.doe@example.com', env).stdout) as { findings: Array<{ fingerprint: string }> }).findings[0]!.fingerprint;
      const fromFile = fingerprint(['--key-file', keyFile]);
      expect(fingerprint([], { SKILLGATE_MASKING_KEY_FILE: keyFile })).toBe(fromFile);
      expect(fingerprint([], { SKILLGATE_MASKING_KEY: 'a-cluster-installation-key-0123' })).toBe(fromFile);
      expect(fingerprint([])).not.toBe(fromFile); // the test's other key
      expect(run(['mask', '--key-file', join(dir, 'missing')], 'x')).toMatchObject({ status: 1, stderr: expect.stringMatching(/^skillgate: cannot read the masking key file .*missing/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a command group answers --help with its commands, and a bare group says what is missing', () => {
    for (const group of ['sessions', 'approvals', 'owners']) {
      const help = run([group, '--help']);
      expect({ group, status: help.status, stderr: help.stderr }).toEqual({ group, status: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^Usage: skillgate ${group} <command> \\[options\\]\n`));
      expect(help.stdout).toMatch(new RegExp(`^  ${group} \\w+`, 'm'));
      const rows = help.stdout.split('\n').filter((l) => /^ {2}\S/.test(l));
      expect(rows.filter((l) => !l.startsWith(`  ${group} `))).toEqual([]);
    }
    const bare = run(['owners']);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/^skillgate: 'owners' needs a command after it\.\n/);
    expect(bare.stderr).toMatch(/^ {2}owners offboard\b/m);
    const wrong = run(['sessions', 'frob']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/^skillgate: 'sessions frob' is not a command\.\n/);
  });

  it('every command answers --help with exit 0', () => {
    for (const args of [['sidecar'], ['dev'], ['fake-claude'], ['controller'], ['webhook'], ['recorder'], ['mask'], ['sessions', 'list'], ['verify'], ['approvals', 'list'], ['lock'], ['owners', 'offboard']]) {
      const r = run([...args, '--help']);
      expect({ args, status: r.status }).toEqual({ args, status: 0 });
      expect(r.stdout).toContain('Usage: skillgate');
    }
  });

  it('owners offboard and reinstate take a plain address, say so in --help, and refuse a spelling no pod may carry before asking the cluster', () => {
    const help = run(['owners', 'offboard', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/EMAIL is the owner's plain email address \(no "oidc:" or other prefix, no trailing dot\)/);
    expect(help).toMatch(/offboarding jane@example\.com \(or Jane\+triage@example\.com\) covers every skill whose pod names any spelling of it/);
    for (const [command, email, why] of [
      ['offboard', 'oidc:jane@example.com', /it has a prefix, "oidc:": use the plain email address jane@example\.com/],
      ['offboard', 'jane@example.com.', /its domain ends in a dot: write jane@example\.com/],
      ['reinstate', 'jane', /it has no @/],
    ] as const) {
      expect(run(['owners', command, email], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(new RegExp(`^skillgate: owners ${command}: ${email.replace(/[.+]/g, '\\$&')} is not an owner's email address: ${why.source}`)) });
    }
    // A +tag is an owner's address (folded to the owner): it gets as far as the cluster.
    expect(run(['owners', 'offboard', 'Jane+triage@example.com'], '', noCluster)).toMatchObject({ status: 1, stderr: expect.stringMatching(/no Kubernetes cluster to talk to/) });
  });

  it('every command\'s usage line names every flag it accepts', async () => {
    const unnamed: string[] = [];
    for (const cmd of await loadCommands()) {
      for (const [flag, spec] of Object.entries(cmd.options ?? {})) {
        const named = (text: string) => new RegExp(`(^|[\\s[|(])${text}(?![\\w-])`).test(cmd.usage);
        if (!named(`--${flag}`) && !(spec.short && named(`-${spec.short}`))) unnamed.push(`${cmd.name.join(' ')}: --${flag}`);
      }
    }
    expect(unnamed).toEqual([]);
  });

  it('stops quietly when the reader of its output goes away, and a failure it decided still exits non-zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-epipe-'));
    try {
      writeFileSync(join(dir, 'not-a-bundle.json'), '{}');
      const records = join(dir, 'records'); // an empty record
      mkdirSync(records);
      for (const [args, input] of [[['--help'], ''], [['sessions', '--help'], ''], [['sessions', 'list', '--dir', records], ''], [['mask'], 'mail jane.doe@example.com']] as const) {
        expect({ args, ...(await runWithReaderGone([...args], input)) }).toEqual({ args, status: 0, stderr: '' });
      }
      expect(await runWithReaderGone(['verify', join(dir, 'not-a-bundle.json')])).toEqual({ status: 1, stderr: expect.stringMatching(/^skillgate: bundle verification failed: .*\n$/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks arguments the same way everywhere: an id beside --all, an argument or option a command would ignore', () => {
    const refused: Array<[string[], RegExp]> = [
      [['sessions', 'verify', 'ses_a', '--all', '--dir', tmpdir()], /^skillgate: name sessions or pass --all, not both\n$/],
      [['sessions', 'replay', 'ses_a', '--speed', '2', '--instant', '--dir', tmpdir()], /--speed .* --instant .*give one/],
      [['lock', 'list', 'extra'], /^skillgate: unexpected argument "extra"\. Usage: skillgate lock /],
      [['lock', 'list', '--reason', 'r'], /--reason is for making a lock, not lock list/],
      [['unlock', 'skill-x-1234', '--target', 'skill=x'], /not both/],
      [['unlock', 'skill-x-1234', '-n', 'team-a'], /-n goes with --target/],
      [['approvals', 'list', '-n', 'team-a', '--all-namespaces'], /give one/],
      [['mask', '--output', 'yaml'], /--output yaml is not supported here/],
      [['mask', '--json', '--output', 'table'], /give one/],
    ];
    for (const [args, why] of refused) {
      const r = run(args, '', noCluster);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 2, stderr: expect.stringMatching(why) });
    }
    // Like every command that prints data, mask takes --output table: its default, the masked text.
    expect(run(['mask', '--output', 'table'], 'mail jane.doe@example.com')).toMatchObject({ status: 0, stdout: 'mail [EMAIL_ADDRESS]' });
  });

  it('lock refuses an expiry it cannot honour and a reason that says nothing, before reaching a cluster', () => {
    for (const [expires, why] of [['99999999999d', /^skillgate: --expires is at most 365d, got "99999999999d"/], ['0m', /^skillgate: --expires must be longer than 0, got "0m"/], ['', /must look like 30m/]] as const) {
      expect(run(['lock', 'skill', 'triage', '--reason', 'r', '--expires', expires], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(why) });
    }
    expect(run(['lock', 'skill', 'triage', '--reason', '   '], '', noCluster)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: --reason is required/) });
    // A reason with something in it, and a bounded expiry, get as far as the cluster.
    expect(run(['lock', 'skill', 'triage', '--reason', ' INC-1 ', '--expires', '365d'], '', noCluster)).toMatchObject({ status: 1, stderr: expect.stringMatching(/no Kubernetes cluster to talk to/) });
  });

  it('says what is wrong with a kubeconfig that does not parse in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-kubeconfig-'));
    try {
      writeFileSync(join(dir, 'config'), 'garbage: [\n');
      const r = run(['lock', 'list', '--kubeconfig', join(dir, 'config')], '', noCluster);
      expect({ status: r.status, lines: r.stderr.trimEnd().split('\n').length }).toEqual({ status: 1, lines: 1 });
      expect(r.stderr).toMatch(new RegExp(`^skillgate: cannot load the kubeconfig ${join(dir, 'config').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\S`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad value before starting anything, exit 2, naming the real reason', () => {
    expect(run(['sessions', 'show', '../../etc/passwd', '--dir', tmpdir()])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: not a session id: "\.\.\/\.\.\/etc\/passwd"/) });
    expect(run(['sessions', 'verify', 'ses_a', 'ses b', '--dir', tmpdir()])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: not a session id: "ses b"/) });
    expect(run(['webhook', '--port', '99999'])).toMatchObject({ status: 2, stderr: 'skillgate: --port must be a TCP port (0-65535), got "99999"\n' });
    expect(run(['webhook'], '', { SKILLGATE_WEBHOOK_PORT: 'https' })).toMatchObject({ status: 2, stderr: 'skillgate: SKILLGATE_WEBHOOK_PORT must be a TCP port (0-65535), got "https"\n' });
    expect(run(['webhook', '--metrics-port', '70000'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: --metrics-port must be a TCP port/) });
    expect(run(['dev', '--fake-port', 'abc'])).toMatchObject({ status: 2, stderr: 'skillgate: --fake-port must be a TCP port (0-65535), got "abc"\n' });
    expect(run(['dev', '--fake-port', '70000'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--fake-port must be a TCP port/) });
    expect(run(['dev', '--upstream', 'not-a-url'])).toMatchObject({ status: 2, stderr: 'skillgate: --upstream must be an http:// or https:// URL, got "not-a-url"\n' });
    expect(run(['dev', '--upstream', 'http://127.0.0.1:9', '--fake-port', '1234'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--fake-port .* --upstream/) });
  });

  it('dev prints an SDK line with the step that makes it work anywhere, and the README says the same', () => {
    const banner = devBanner({ claudeUrl: 'http://127.0.0.1:15001', upstream: 'fake', egressUrl: 'http://127.0.0.1:15002', dnsPort: 15053, healthUrl: 'http://127.0.0.1:15021', metricsUrl: 'http://127.0.0.1:15090', records: '/tmp/r' });
    const lines = banner.split('\n');
    const sdk = lines.findIndex((l) => l.includes("import A from '@anthropic-ai/sdk'"));
    // The line that imports the SDK follows the one that says to install it where it runs.
    expect(lines.slice(sdk - 2, sdk).join('\n')).toContain(SDK_STEP);
    expect(SDK_STEP).toContain('npm i @anthropic-ai/sdk');
    const readme = readFileSync(fileURLToPath(new URL('../../../../README.md', import.meta.url)), 'utf8');
    const makeDev = readme.split('\n\n').find((p) => p.startsWith('`make dev` needs nothing'))!;
    expect(makeDev.replace(/\s+/g, ' ')).toMatch(/an SDK line to run from a directory where the SDK is installed \(`npm i @anthropic-ai\/sdk`\)/);
  });
});

describe('unlock --target', () => {
  test('matches values as locks do: owners by normalised email, tokens exactly', async () => {
    const { lockTargets } = await import('../src/commands/lock.js');
    expect(lockTargets({ kind: 'owner', value: 'Alice@Example.com' }, 'owner', ' alice@example.com')).toBe(true);
    expect(lockTargets({ kind: 'token', value: 'ABC' }, 'token', 'abc')).toBe(false);
    expect(lockTargets({ kind: 'token', value: 'ABC' }, 'token', 'ABC')).toBe(true);
    expect(lockTargets({ kind: 'skill', value: 'triage', namespace: 'team-a' }, 'skill', 'triage')).toBe(false);
    expect(lockTargets({ kind: 'skill', value: 'triage', namespace: 'team-a' }, 'skill', 'triage', 'team-a')).toBe(true);
  });
});

describe('sessions show and replay on a damaged record', () => {
  test('say which events are missing instead of showing the rest as the whole session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-gap-'));
    try {
      const store = new FileSessionStore(dir);
      const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 's', owner: 'o@example.com' };
      let head: ReturnType<typeof headOf> | undefined;
      const events: SessionEvent[] = [];
      for (let i = 0; i < 4; i++) {
        const e = sealEvent({ sessionId: 'ses_gap', identity, kind: 'egress', data: { destination: `host-${i}:443`, method: 'CONNECT', allowed: false } }, head);
        head = headOf(e);
        events.push(e);
      }
      await store.append(events.map((event) => ({ type: 'event' as const, event })));
      await store.close();
      expect(run(['sessions', 'show', 'ses_gap', '--dir', dir]).stderr).toBe('');
      // A line made unreadable (a torn write, an edit), as a responder may find it.
      const file = join(dir, 'sessions', readdirSync(join(dir, 'sessions')).find((f) => f.startsWith('ses_gap'))!);
      const lines = readFileSync(file, 'utf8').split('\n');
      const whole = lines.filter((l) => l !== ''); // the events' stored (canonical) texts
      lines[2] = '{not json';
      writeFileSync(file, lines.join('\n'));
      for (const cmd of ['show', 'replay']) {
        const r = run(['sessions', cmd, 'ses_gap', '--dir', dir, ...(cmd === 'replay' ? ['--instant'] : [])]);
        expect({ cmd, status: r.status, stderr: r.stderr }).toEqual({ cmd, status: 0, stderr: expect.stringMatching(/session ses_gap lacks event\(s\) #2 \(unreadable or deleted\)/) });
      }
      const showErr = (): string => run(['sessions', 'show', 'ses_gap', '--dir', dir]).stderr;
      // Two lines swapped: out of order, not missing.
      writeFileSync(file, `${[whole[0], whole[2], whole[1], whole[3]].join('\n')}\n`);
      expect(showErr()).toMatch(/^skillgate: session ses_gap is damaged \(reordered\): event seq 1 of session ses_gap is out of order/);
      // An event's content changed.
      writeFileSync(file, `${[whole[0], whole[1].replace('host-1', 'host-9'), whole[2], whole[3]].join('\n')}\n`);
      expect(showErr()).toMatch(/^skillgate: session ses_gap is damaged \(altered\): event seq 1 of session ses_gap was altered/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


describe('skillgate recorder', () => {
  test('stops on SIGTERM, closing its archive, also while Redis is unreachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-recorder-'));
    try {
      const child = spawn(process.execPath, [MAIN, 'recorder', '--redis', 'redis://127.0.0.1:1', '--archive', join(dir, 'archive'), '--metrics-port', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c) => { out += c; });
      child.stderr.on('data', (c) => { out += c; });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let waited = 0; !out.includes('redis connection error') && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGTERM');
      // Bounded by the test's timeout: a recorder that never stops fails it.
      expect(await exited).toBe(0);
      expect(out).toContain('recorder stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test('--metrics-port takes off (and rejects what is not a port)', () => {
    expect(run(['recorder', '--redis', 'redis://127.0.0.1:1', '--metrics-port', 'on'])).toMatchObject({ status: 2, stderr: 'skillgate: --metrics-port must be a port from 0 to 65535, or off: not on\n' });
  });
});

describe('times the sessions commands take', () => {
  test('ISO-8601 with a zone, a UTC day or a duration back; anything else refused, never guessed at', () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseTime('2026-01-02T15:04:05Z', 'since').toISOString()).toBe('2026-01-02T15:04:05.000Z');
    expect(parseTime('2026-01-02T16:04:05.250+01:00', 'since').toISOString()).toBe('2026-01-02T15:04:05.250Z');
    expect(parseTime('2026-01-02', 'since').toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(parseTime('7d', 'since', now).toISOString()).toBe('2026-11-20T12:00:00.000Z');
    for (const bad of ['1', 'Jan 2', '2026-02-30', '2026-01-02T10:00', '2026-01-02T25:00Z', '2026-13-01', 'yesterday']) {
      expect(() => parseTime(bad, 'since')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(`--since: not a time: ${bad}`) }));
    }
  });

  test('a duration so long that it is no date is refused, not taken as no filter', () => {
    expect(() => parseTime('99999999999d', 'since')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--since: not a time: 99999999999d') }));
    expect(run(['sessions', 'list', '--dir', tmpdir(), '--since', '99999999999d'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^skillgate: --since: not a time: 99999999999d/) });
  });

  test('--since after --until is refused', () => {
    expect(run(['sessions', 'list', '--dir', tmpdir(), '--since', '2026-02-01', '--until', '2026-01-01'])).toMatchObject({ status: 2, stderr: 'skillgate: --since 2026-02-01 is after --until 2026-01-01: no session could match\n' });
  });
});

describe('files the commands read', () => {
  test('a config or policy file that does not parse is named, in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-files-'));
    try {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'limits:\n  - a: [1\n  b: }\n');
      const sidecar = run(['sidecar', '--config', bad]);
      expect(sidecar.status).toBe(2);
      expect(sidecar.stderr).toMatch(new RegExp(`^skillgate: invalid sidecar config: --config: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid YAML: .+ at line 3, column 3\n$`));
      const mask = run(['mask', '--policy', bad], 'x');
      expect(mask.status).toBe(1);
      expect(mask.stderr.trim().split('\n')).toHaveLength(1);
      expect(mask.stderr).toContain(`${bad} is not a valid SkillPolicy file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('mask refuses a policy file that holds no SkillPolicy, rather than masking with the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-nopolicy-'));
    try {
      for (const [name, text] of [['empty.yaml', ''], ['list.json', '[]'], ['null.yaml', 'null\n'], ['items.yaml', 'apiVersion: v1\nkind: List\nitems: []\n']]) {
        writeFileSync(join(dir, name), text);
        const r = run(['mask', '--policy', join(dir, name)], 'mail jane.doe@example.com');
        expect({ name, status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ name, status: 1, stdout: '', stderr: `skillgate: ${join(dir, name)} holds no SkillPolicy (expected a YAML or JSON document of kind SkillPolicy)\n` });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a masking key too short to be an installation key is refused naming where it came from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-shortkey-'));
    try {
      const keyFile = join(dir, 'shortkey');
      writeFileSync(keyFile, 'short\n');
      expect(run(['mask', '--key-file', keyFile], 'x')).toMatchObject({ status: 1, stderr: expect.stringMatching(new RegExp(`^skillgate: the masking key from --key-file ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is 5 bytes: an installation key is at least 16`)) });
      expect(run(['mask'], 'x', { SKILLGATE_MASKING_KEY: '', SKILLGATE_MASKING_KEY_FILE: keyFile })).toMatchObject({ status: 1, stderr: expect.stringMatching(/^skillgate: the masking key from SKILLGATE_MASKING_KEY_FILE \(.*shortkey\) is 5 bytes/) });
      expect(run(['mask'], 'x', { SKILLGATE_MASKING_KEY: 'short' })).toMatchObject({ status: 1, stderr: expect.stringMatching(/^skillgate: the masking key from SKILLGATE_MASKING_KEY is 5 bytes/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
