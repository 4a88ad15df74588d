// `skillgate owners add|offboard|reinstate|list`: the owner lifecycle from the command line, through
// the Kubernetes API with the caller's kubeconfig (RBAC applies). Does exactly what SCIM does: writes
// the owner record (vouching for the owner, as the identity provider's push does), flips it and
// places or lifts the owner's SkillLock; the controller then revokes their tokens and cuts their
// skills' live streams. An owner is named by a plain address and known by its canonical form
// (normalizeOwner), as everywhere else.
import { ownerAddressProblem } from '@skillgate/api';
import { isVouched } from '@skillgate/identity';
import { OwnerLifecycle, OwnerStore, LockClient } from '@skillgate/controller';
import { cliKubeClients } from './kube-access.js';
import { CliError, outputOption, printData, type Command } from '../command.js';
import { whoAmI } from './who-am-i.js';

/** Where the README installs skillgate (helm install ... -n skillgate-system): the owner records live there. */
const DEFAULT_NAMESPACE = 'skillgate-system';

const help = `Owner records live in the namespace skillgate is installed in: --skillgate-namespace NS
(default SKILLGATE_NAMESPACE or ${DEFAULT_NAMESPACE}). --kubeconfig F chooses the cluster (default
KUBECONFIG, ~/.kube/config or the pod's ServiceAccount); RBAC applies to the caller.`;

const addresses = `EMAIL is the owner's plain email address (no "oidc:" or other prefix, no trailing
dot). Owners are known by its canonical form: lower case, a +tag dropped, so offboarding
jane@example.com (or Jane+triage@example.com) covers every skill whose pod names any spelling of it.`;

/** The owner EMAIL argument, checked as pods' owner annotations are; a one-line reason otherwise. */
function ownerArgument(command: string, email: string | undefined): string {
  if (!email) throw new CliError(`owners ${command} needs the owner's EMAIL`, 2);
  const problem = ownerAddressProblem(email);
  if (problem) throw new CliError(`owners ${command}: ${email} is not an owner's email address: ${problem}`, 2);
  return email;
}

const common = {
  'skillgate-namespace': { type: 'string' as const },
  kubeconfig: { type: 'string' as const },
  ...outputOption,
};

function lifecycle(v: Record<string, string | undefined>): { store: OwnerStore; lifecycle: OwnerLifecycle; actor: () => Promise<string> } {
  const kube = cliKubeClients(v.kubeconfig);
  const store = new OwnerStore(kube, v['skillgate-namespace'] ?? process.env.SKILLGATE_NAMESPACE ?? DEFAULT_NAMESPACE);
  return { store, lifecycle: new OwnerLifecycle(store, new LockClient(kube)), actor: () => whoAmI(kube) };
}

export const ownersAddCommand: Command = {
  name: ['owners', 'add'],
  args: 1,
  summary: 'Vouch for an owner: record them as a known person skills may name',
  usage: 'owners add EMAIL [--name NAME] [--skillgate-namespace NS] [--kubeconfig F] [--output json]',
  help: `Records EMAIL as an owner you vouch for, as an identity provider's SCIM push does. With the
chart's controller.requireKnownOwners the controller gives workload tokens only to skills whose
owner the identity provider or a responder vouched for, not to owners merely named by a pod's
skillgate.dev/owner annotation (a made-up address there would escape every offboarding). An owner
the controller registered from a pod becomes known; a new one is recorded as active. An offboarded
owner stays offboarded (skillgate owners reinstate lifts that). --name NAME sets the display name.

${addresses}

${help}`,
  options: { name: { type: 'string' }, ...common },
  async run({ values, positionals }) {
    const v = values as Record<string, string | undefined>;
    const email = ownerArgument('add', positionals[0]);
    if (v.name !== undefined && v.name.trim() === '') throw new CliError('--name must say something (or leave it out)', 2);
    const owners = lifecycle(v);
    const owner = await owners.lifecycle.upsert(email, v.name ? { displayName: v.name.trim() } : {}, await owners.actor()).catch((err: Error) => { throw new CliError(err.message); });
    printData(values, owner, () => `${owner.email}: known${owner.active ? ' (active)' : `, still offboarded${owner.reason ? ` (${owner.reason})` : ''}: skillgate owners reinstate lifts that`}`);
    return 0;
  },
};

export const ownersOffboardCommand: Command = {
  name: ['owners', 'offboard'],
  args: 1,
  summary: 'Offboard an owner: lock every skill they own and revoke their tokens',
  usage: 'owners offboard EMAIL [--reason R] [--skillgate-namespace NS] [--kubeconfig F] [--output json]',
  help: `Flips the owner record to offboarded and places the owner's SkillLock (every skill they own,
every namespace): the controller revokes their workload tokens and sidecars cut their live streams.
--reason R is recorded on the lock (default "offboarded with skillgate owners offboard by <you>").

${addresses}

${help}`,
  options: { reason: { type: 'string' }, ...common },
  async run({ values, positionals }) {
    const v = values as Record<string, string | undefined>;
    const email = ownerArgument('offboard', positionals[0]);
    if (v.reason !== undefined && v.reason.trim() === '') throw new CliError('--reason must say something (or leave it out)', 2);
    const owners = lifecycle(v);
    const actor = await owners.actor();
    const change = await owners.lifecycle.offboard(email, v.reason ?? `offboarded with skillgate owners offboard by ${actor}`, actor).catch((err: Error) => { throw new CliError(err.message); });
    printData(values, change, () => `${change.owner.email}: ${change.transition === 'unchanged' ? 'already offboarded (lock re-applied)' : 'offboarded'}; every skill they own is locked`);
    return 0;
  },
};

export const ownersReinstateCommand: Command = {
  name: ['owners', 'reinstate'],
  args: 1,
  summary: 'Reinstate an owner and lift their offboarding lock',
  usage: 'owners reinstate EMAIL [--skillgate-namespace NS] [--kubeconfig F] [--output json]',
  help: `Flips the owner record back to active and lifts the offboarding lock (their skills get tokens again).

${addresses}

${help}`,
  options: common,
  async run({ values, positionals }) {
    const v = values as Record<string, string | undefined>;
    const email = ownerArgument('reinstate', positionals[0]);
    const owners = lifecycle(v);
    const change = await owners.lifecycle.reinstate(email, await owners.actor()).catch((err: Error) => { throw new CliError(err.message); });
    printData(values, change, () => `${change.owner.email}: ${change.transition === 'unchanged' ? 'already active' : 'reinstated'}`);
    return 0;
  },
};

export const ownersListCommand: Command = {
  name: ['owners', 'list'],
  summary: 'List known owners and their status',
  usage: 'owners list [--skillgate-namespace NS] [--kubeconfig F] [--output json]',
  help: `Each owner once, by the canonical form of their address (lower case, no +tag, no trailing dot).
An owner nobody vouched for (only registered from a pod's annotation: not provisioned by SCIM nor
added by a responder) is marked "pod annotation only"; with the chart's
controller.requireKnownOwners their skills get no workload token (skillgate owners add vouches for
them). JSON output: the records, each with "vouched".

${help}`,
  options: common,
  async run({ values }) {
    const records = await lifecycle(values as Record<string, string | undefined>).store.list().catch((err: Error) => { throw new CliError(err.message); });
    const owners = records.map((o) => ({ ...o, vouched: isVouched(o) }));
    printData(values, owners, () => owners.length === 0 ? 'no owners recorded' : owners.map((o) => `${o.email}\t${o.active ? 'active' : 'offboarded'}${o.vouched ? '' : '\tpod annotation only (not vouched for)'}${o.reason ? `\t${o.reason}` : ''}`).join('\n'));
    return 0;
  },
};
