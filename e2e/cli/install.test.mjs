// The CLI as a responder installs it: `make install-cli` puts `skillgate` and `kubectl-skillgate` on
// a PATH, and kubectl finds the plugin (`kubectl skillgate ...`) with the kubectl built for this tier.
// No control plane: the commands run here read a local record.
// `make install-cli` rebuilds the CLI bundle the other suites run; the tier runs in band, so no
// suite runs while it does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('make install-cli gives skillgate and kubectl skillgate on the PATH, running this checkout with a Node >= 22', () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'sg-e2e-bin-'));
  const records = mkdtempSync(path.join(tmpdir(), 'sg-e2e-records-'));
  try {
    const kubectlDir = ensureBinaries({ names: ['kubectl'] });
    const made = spawnSync('make', ['-s', 'install-cli', `BINDIR=${bin}`], { cwd: ROOT, encoding: 'utf8' });
    expect([made.status, made.stderr.split('\n').filter((l) => /error/i.test(l))]).toEqual([0, []]);
    expect(made.stdout).toContain(`installed skillgate and kubectl-skillgate in ${bin}`);
    for (const name of ['skillgate', 'kubectl-skillgate']) {
      expect(statSync(path.join(bin, name)).mode & 0o111).not.toBe(0);
      expect(readFileSync(path.join(bin, name), 'utf8')).toContain(path.join(ROOT, 'packages/cli/bundle/skillgate.mjs'));
    }
    // A PATH with no other Node on it: the scripts name theirs.
    // HOME apart from the record: kubectl may make its cache there, and a --dir holding anything
    // but a record is refused.
    const env = { PATH: `${bin}:${kubectlDir}:/usr/bin:/bin`, HOME: bin };
    const direct = spawnSync('skillgate', ['sessions', 'list', '--dir', records, '--output', 'json'], { env, encoding: 'utf8' });
    expect([direct.status, direct.stdout.trim(), direct.stderr]).toEqual([0, '[]', '']);
    const plugin = spawnSync('kubectl', ['skillgate', 'sessions', 'list', '--dir', records, '--output', 'json'], { env, encoding: 'utf8' });
    expect([plugin.status, plugin.stdout.trim(), plugin.stderr]).toEqual([0, '[]', '']);
    const help = spawnSync('kubectl', ['skillgate', '--help'], { env, encoding: 'utf8' });
    expect(help.stdout).toMatch(/^Usage: skillgate <command>/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
    rmSync(records, { recursive: true, force: true });
  }
});
