// `skillgate lock ...` / `skillgate unlock ...`: the kill switch, as SkillLock objects written with the
// caller's own kubeconfig, so RBAC decides who may lock. The controller propagates a new lock to every
// sidecar within a second: matching requests are refused and matching live streams are cut.
import { createHash } from 'node:crypto';
import { API_VERSION, isOwnerEmail, type LockTargetKind, type SkillLock } from '@skillgate/api';
import { LockClient } from '@skillgate/controller';
import { cliKubeClients } from './kube-access.js';
import { normalizeOwner } from '@skillgate/identity';
import { CliError, durationMs, outputOption, printData, type Command } from '../command.js';
import { whoAmI } from './who-am-i.js';

const KINDS: LockTargetKind[] = ['skill', 'owner', 'pod', 'session', 'token', 'namespace'];

/** Whether a lock expiring at `expiresAt` (undefined: until unlocked) would lift `current`, still in force, sooner. */
function liftsSooner(current: SkillLock, expiresAt: string | undefined, nowMs: number): boolean {
  const currentEnd = current.spec.expiresAt === undefined ? Infinity : Date.parse(current.spec.expiresAt);
  if (currentEnd <= nowMs) return false; // lapsed: nothing in force to weaken
  return expiresAt !== undefined && Date.parse(expiresAt) < currentEnd;
}

/** The longest --expires: a lock meant to hold longer holds until unlocked (no --expires). */
export const MAX_EXPIRES_DAYS = 365;

/** `1h`, `30m`, `90s`, `2d` → milliseconds, more than 0 and at most MAX_EXPIRES_DAYS. */
export function parseDuration(v: string): number {
  const ms = durationMs(v);
  if (ms === undefined) throw new CliError(`--expires must look like 30m, 1h or 2d, got "${v}"`, 2);
  // A lock that expires as it is made would look like success and hold nothing.
  if (ms === 0) throw new CliError(`--expires must be longer than 0, got "${v}" (leave it out for a lock that holds until unlocked)`, 2);
  if (ms > MAX_EXPIRES_DAYS * 86_400_000) throw new CliError(`--expires is at most ${MAX_EXPIRES_DAYS}d, got "${v}" (leave it out for a lock that holds until unlocked)`, 2);
  return ms;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A skill name is a label value (skillgate.dev/skill). */
const LABEL_VALUE = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Why VALUE cannot name a target of this kind (undefined when it can): a kill switch that matches
 * nothing because of a typo must not look like success.
 */
export function lockValueProblem(kind: LockTargetKind, value: string, namespace?: string): string | undefined {
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) return `-n ${namespace} is not a namespace name (lower-case letters, digits and '-')`;
  switch (kind) {
    case 'owner': return isOwnerEmail(value) ? undefined : `an owner lock names the owner's email (skillgate.dev/owner), and ${value} is not one`;
    case 'namespace': return DNS_LABEL.test(value) ? undefined : `${value} is not a namespace name (lower-case letters, digits and '-')`;
    case 'pod': return DNS_SUBDOMAIN.test(value) ? undefined : `${value} is not a pod name (lower-case letters, digits, '-' and '.')`;
    case 'skill': return LABEL_VALUE.test(value) ? undefined : `${value} is not a skill name (the value of a skillgate.dev/skill label)`;
    case 'session': return /^ses_[A-Za-z0-9_]+$/.test(value) ? undefined : `${value} is not a session id (ses_…, as skillgate sessions list shows them)`;
    case 'token': return /^\S+$/.test(value) ? undefined : 'a token lock names the token\'s jti, which has no spaces';
  }
}

/** A readable, deterministic lock name: kind, a slug of the value, and a short hash (DNS-1123). */
export function lockName(kind: LockTargetKind, value: string, namespace?: string): string {
  const slug = value.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'x';
  const hash = createHash('sha256').update(`${kind}\0${namespace ?? ''}\0${value}`).digest('hex').slice(0, 8);
  return `${kind}-${slug}-${hash}`;
}

export const lockCommand: Command = {
  name: ['lock'],
  args: 2,
  summary: 'Lock a skill, owner, pod, session, token or namespace (cuts live streams)',
  usage: 'lock skill|owner|pod|session|token|namespace VALUE [-n NS] --reason R [--expires 1h] [--name N] [--replace] [--kubeconfig F] [--output json] | lock list [--kubeconfig F] [--output json]',
  help: `Creates a SkillLock through the Kubernetes API (your kubeconfig, or --kubeconfig F; RBAC applies).
A skill lock with -n NS holds that namespace's skill of that name; without -n, the skill in every
namespace. A token lock (the workload token's jti) stops that token at once and keeps the pod that
held it from getting another until the lock is lifted (the pod's next refresh is refused, so a newer
token it already holds lasts until then); the skill's other pods keep running: to stop a whole skill,
lock the skill.
--expires 30m|1h|2d lifts a lock on its own after that long (at most ${MAX_EXPIRES_DAYS}d; default:
until unlocked). --reason must say something (the spaces around it are trimmed).
--name N names the SkillLock (default: kind, value and a hash). Locking a target again replaces its
lock (a new reason or expiry), but not one that would lift sooner than the lock in force (another
responder's, until unlocked, say): that takes --replace.
  skillgate lock skill summarize -n team-a --reason "exfiltration suspected" --expires 2h
  skillgate lock owner alice@example.com --reason "offboarded"
  skillgate lock pod summarize-7d9f -n team-a --reason "investigating"
  skillgate lock session ses_8f3a2c --reason "bad prompt"
  skillgate lock token 3f2a...-jti --reason "token leaked"
  skillgate lock namespace team-a --reason "incident 42"
  skillgate lock list`,
  options: {
    namespace: { type: 'string', short: 'n' },
    reason: { type: 'string' },
    expires: { type: 'string' },
    name: { type: 'string' },
    replace: { type: 'boolean' },
    kubeconfig: { type: 'string' },
    ...outputOption,
  },
  async run({ values, positionals }) {
    const v = values as Record<string, string | undefined>;
    const [kind, value] = positionals;
    const reason = v.reason?.trim();
    // What is wrong with the command line is said before anything about the cluster.
    if (kind === 'list') {
      if (value !== undefined) throw new CliError(`unexpected argument "${value}". Usage: skillgate ${this.usage}`, 2);
      const stray = ['reason', 'expires', 'name', 'namespace', 'replace'].find((f) => v[f] !== undefined);
      if (stray) throw new CliError(`--${stray} is for making a lock, not lock list`, 2);
    } else {
      if (!kind || !KINDS.includes(kind as LockTargetKind)) throw new CliError(`first argument must be one of ${KINDS.join(', ')} or list`, 2);
      if (!value) throw new CliError(`lock ${kind} needs a value, e.g. skillgate lock ${kind} NAME --reason R`, 2);
      if (!reason) throw new CliError('--reason is required: say why, it is shown to the skill and recorded', 2);
      if (v.namespace && kind !== 'skill' && kind !== 'pod') throw new CliError('-n applies only to skill and pod locks', 2);
      if (kind === 'pod' && !v.namespace) throw new CliError('lock pod needs -n NAMESPACE', 2);
      const problem = lockValueProblem(kind as LockTargetKind, value, v.namespace);
      if (problem) throw new CliError(problem, 2);
    }
    const expiresMs = kind !== 'list' && v.expires !== undefined ? parseDuration(v.expires) : undefined;
    const clients = cliKubeClients(v.kubeconfig);
    const client = new LockClient(clients);
    if (kind === 'list') {
      const locks = await client.list().catch((err: Error) => { throw new CliError(err.message); });
      const rows = locks.map((l) => ({
        name: l.metadata.name, kind: l.spec.target.kind, value: l.spec.target.value, namespace: l.spec.target.namespace ?? '',
        reason: l.spec.reason, createdBy: l.spec.createdBy ?? '', expiresAt: l.spec.expiresAt ?? '',
        active: l.status?.conditions?.find((c) => c.type === 'Active')?.status ?? 'Unknown',
      }));
      printData(values, rows, () => rows.length === 0 ? 'no locks' : rows.map((r) => `${r.name}\t${r.kind}=${r.namespace ? `${r.namespace}/` : ''}${r.value}\tactive=${r.active}\t${r.expiresAt ? `until ${r.expiresAt}\t` : ''}${r.reason}`).join('\n'));
      return 0;
    }
    const expiresAt = expiresMs !== undefined ? new Date(Date.now() + expiresMs).toISOString() : undefined;
    const name = v.name ?? lockName(kind as LockTargetKind, value, v.namespace);
    const lock: SkillLock = {
      apiVersion: API_VERSION as 'skillgate.dev/v1alpha1',
      kind: 'SkillLock',
      metadata: { name, labels: { 'skillgate.dev/lock-source': 'cli' } },
      spec: {
        target: { kind: kind as LockTargetKind, value: value!, ...(v.namespace ? { namespace: v.namespace } : {}) },
        reason: reason!,
        createdBy: await whoAmI(clients),
        ...(expiresAt ? { expiresAt } : {}),
      },
    };
    const current = await client.get(name).catch((err: Error) => { throw new CliError(err.message); });
    // A kill switch is not weakened by accident: a lock in force is lifted sooner only on purpose.
    if (current && !values.replace && liftsSooner(current, expiresAt, Date.now())) {
      throw new CliError(`SkillLock ${name} already holds ${kind} ${v.namespace ? `${v.namespace}/` : ''}${value} ${current.spec.expiresAt ? `until ${current.spec.expiresAt}` : 'until unlocked'} (reason: ${JSON.stringify(current.spec.reason)}${current.spec.createdBy ? `, by ${current.spec.createdBy}` : ''}); this lock would lift it sooner: pass --replace to replace it, or leave --expires out`);
    }
    const created = await client.apply(lock).catch((err: Error) => { throw new CliError(err.message); });
    const replaced = current ? ` (replaced the lock there: reason ${JSON.stringify(current.spec.reason)}${current.spec.createdBy ? `, by ${current.spec.createdBy}` : ''})` : '';
    printData(values, created, () => `locked: SkillLock ${name} (${kind} ${v.namespace ? `${v.namespace}/` : ''}${value})${expiresAt ? ` until ${expiresAt}` : ''}${replaced}`);
    return 0;
  },
};

export const unlockCommand: Command = {
  name: ['unlock'],
  args: 1,
  summary: 'Lift a lock by name, or by its target',
  usage: 'unlock NAME | unlock --target KIND=VALUE [-n NS] [--kubeconfig F] [--output json]',
  help: `Deletes the SkillLock (your kubeconfig; RBAC applies). With --target, finds the lock that
skillgate lock created for that target, e.g. skillgate unlock --target skill=summarize -n team-a.`,
  options: {
    target: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    kubeconfig: { type: 'string' },
    ...outputOption,
  },
  async run({ values, positionals }) {
    const v = values as Record<string, string | undefined>;
    const m = v.target === undefined ? undefined : /^(\w+)=(.+)$/.exec(v.target);
    if (!positionals[0] && v.target === undefined) throw new CliError('give a lock NAME or --target KIND=VALUE', 2);
    if (positionals[0] && v.target !== undefined) throw new CliError('give a lock NAME or --target KIND=VALUE, not both', 2);
    if (positionals[0] && v.namespace !== undefined) throw new CliError('-n goes with --target (a lock NAME is cluster-wide)', 2);
    if (!positionals[0] && (!m || !KINDS.includes(m[1] as LockTargetKind))) throw new CliError(`--target must be KIND=VALUE with KIND one of ${KINDS.join(', ')}`, 2);
    const client = new LockClient(cliKubeClients(v.kubeconfig));
    const names: string[] = [];
    if (positionals[0]) names.push(positionals[0]);
    else if (v.target && m) {
      const all = await client.list().catch((err: Error) => { throw new CliError(err.message); });
      for (const l of all) {
        const t = l.spec.target;
        if (lockTargets(t, m[1]!, m[2]!, v.namespace)) names.push(l.metadata.name);
      }
      if (names.length === 0) throw new CliError(`no lock targets ${v.target}${v.namespace ? ` in ${v.namespace}` : ''}`);
    } else throw new CliError('give a lock NAME or --target KIND=VALUE', 2);
    const removed: string[] = [];
    for (const name of names) {
      const gone = await client.remove(name).catch((err: Error) => { throw new CliError(err.message); });
      if (!gone && positionals[0]) throw new CliError(`no SkillLock named ${name}`);
      removed.push(name);
    }
    printData(values, { removed }, () => `unlocked: ${removed.join(', ')}`);
    return 0;
  },
};

/**
 * Whether a lock's target is KIND=VALUE (in `namespace`): values compare as locks match them, owners
 * by normalised email and everything else exactly (a token id differing in case is another token).
 */
export function lockTargets(target: SkillLock['spec']['target'], kind: string, value: string, namespace?: string): boolean {
  if (target.kind !== kind || (target.namespace ?? '') !== (namespace ?? '')) return false;
  return kind === 'owner' ? normalizeOwner(target.value) === normalizeOwner(value) : target.value === value;
}
