// `skillgate approvals list|show|approve|deny`: the approver's side of just-in-time approvals.
// Reads SkillApprovals with the user's own kubeconfig (RBAC applies), learns who the user is from
// a SelfSubjectReview (never from a flag), and appends the decision to status.decisions through the
// controller's recordDecision (resourceVersion precondition, retried on conflict). Refuses early,
// with the reason, what would not count: the skill's owner, a non-approver, a closed approval.
// The user and groups it records are exactly the SelfSubjectReview's: the validating webhook
// rejects any other name or group, so nothing here may let a flag choose them.
import { AuthenticationV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { SkillApproval } from '@skillgate/api';
import { recordDecision, DecisionRefused, SKILLAPPROVALS } from '@skillgate/controller/approvals/index';
import { describeApiError } from '@skillgate/controller/kube';
import { approvalOutcome, requirementsOf, type RecordedDecision } from '@skillgate/policy';
import { CliError, outputOption, printData, type Command, type OptionSpec } from '../command.js';
import { loadKubeConfig } from './kube-access.js';

const kubeOptions: OptionSpec = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  ...outputOption,
};

function kube(values: Record<string, unknown>): { kc: KubeConfig; namespace: string } {
  const kc = loadKubeConfig(typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined);
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { kc, namespace: typeof values.namespace === 'string' ? values.namespace : ctx?.namespace ?? 'default' };
}

const missingId = (): CliError => new CliError('missing approval ID (see: skillgate approvals list)', 2);

/** ID is NAME or NAMESPACE/NAME. */
function target(id: string | undefined, namespace: string): { namespace: string; name: string } {
  if (!id) throw missingId();
  const slash = id.indexOf('/');
  return slash === -1 ? { namespace, name: id } : { namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}

function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  return s < 0 ? `in ${-s}s` : s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function phaseOf(a: SkillApproval): string {
  return a.status?.phase ?? approvalOutcome(a.spec, (a.status?.decisions ?? []) as RecordedDecision[], new Date()).phase;
}

function apiFailure(err: unknown, what: string): CliError {
  return new CliError(`${what}: ${describeApiError(err)}`);
}

const listCommand: Command = {
  name: ['approvals', 'list'],
  summary: 'List SkillApprovals (held requests) in a namespace',
  usage: 'approvals list [-n NS | --all-namespaces] [--pending] [--kubeconfig F] [--output json]',
  help: `Options:
  -n, --namespace NS     namespace (default: the kubeconfig context's)
  -A, --all-namespaces   every namespace
  --pending              only approvals still waiting for a decision
  --kubeconfig FILE      kubeconfig (default: KUBECONFIG or ~/.kube/config)
  -o, --output json      print the objects as JSON`,
  options: { ...kubeOptions, 'all-namespaces': { type: 'boolean', short: 'A' }, pending: { type: 'boolean' } },
  async run({ values }) {
    if (values['all-namespaces'] && values.namespace !== undefined) throw new CliError('-n NS and --all-namespaces name different places: give one', 2);
    const { kc, namespace } = kube(values);
    const custom = kc.makeApiClient(CustomObjectsApi);
    let items: SkillApproval[];
    try {
      const list = values['all-namespaces']
        ? await custom.listClusterCustomObject(SKILLAPPROVALS)
        : await custom.listNamespacedCustomObject({ ...SKILLAPPROVALS, namespace });
      items = (list as { items: SkillApproval[] }).items;
    } catch (err) {
      throw apiFailure(err, 'cannot list SkillApprovals');
    }
    if (values.pending) items = items.filter((a) => phaseOf(a) === 'Pending');
    printData(values, items, () => {
      if (!items.length) return 'No SkillApprovals.';
      const rows = [['NAMESPACE', 'NAME', 'PHASE', 'SKILL', 'OWNER', 'RULES', 'APPROVALS', 'EXPIRES']];
      for (const a of items) {
        const o = approvalOutcome(a.spec, (a.status?.decisions ?? []) as RecordedDecision[], new Date());
        rows.push([a.metadata.namespace ?? '', a.metadata.name, phaseOf(a), a.spec.identity.skill, a.spec.identity.owner, a.spec.rules.join(','), o.requirements.map((r) => `${r.approvedBy.length}/${r.quorum}`).join(','), age(a.spec.expiresAt)]);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
    });
    return 0;
  },
};

const showCommand: Command = {
  name: ['approvals', 'show'],
  args: 1,
  summary: 'Show one SkillApproval: who asked, why it was held, the masked summary, the decisions',
  usage: 'approvals show ID [-n NS] [--kubeconfig F] [--output json]',
  help: `ID is NAME or NAMESPACE/NAME; -n NS defaults to the kubeconfig context's namespace.`,
  options: kubeOptions,
  async run({ values, positionals }) {
    if (!positionals[0]) throw missingId();
    const { kc, namespace } = kube(values);
    const t = target(positionals[0], namespace);
    let a: SkillApproval;
    try {
      a = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...SKILLAPPROVALS, ...t })) as SkillApproval;
    } catch (err) {
      throw apiFailure(err, `cannot read SkillApproval ${t.namespace}/${t.name}`);
    }
    printData(values, a, () => {
      const s = a.spec;
      const o = approvalOutcome(s, (a.status?.decisions ?? []) as RecordedDecision[], new Date());
      return [
        `SkillApproval ${t.namespace}/${t.name}: ${phaseOf(a)}`,
        `skill      ${s.identity.namespace}/${s.identity.skill} (pod ${s.identity.pod}, owner ${s.identity.owner})`,
        `request    ${s.requestId}  session ${s.sessionId}  digest ${s.requestDigest}`,
        `policy     ${s.policy}  rules ${s.rules.join(', ')}`,
        ...s.reasons.map((r) => `reason     ${r}`),
        `model      ${s.summary.model ?? '-'}${s.summary.stream ? ' (streaming)' : ''}  ~${s.summary.estimatedInputTokens ?? '?'} input tokens`,
        `tools      ${[...(s.summary.tools ?? []), ...(s.summary.serverTools ?? [])].join(', ') || '-'}`,
        `mcp        ${s.summary.mcpServers?.join(', ') || '-'}`,
        `findings   ${s.summary.findings?.map((f) => `${f.type}×${f.count}`).join(', ') || '-'}`,
        ...(s.summary.excerpt ? [`excerpt    ${s.summary.excerpt.replace(/\n/g, '\n           ')}`] : []),
        ...(s.summary.batch ? [`batch      ${s.summary.batch.requests} request(s), ${s.summary.batch.matching} held by the rules${s.summary.batch.customIds?.length ? `: ${s.summary.batch.customIds.join(', ')}` : ''}`] : []),
        // Each matched rule's own approvers and quorum: every one must be met (a decision counts toward each it is eligible for).
        ...requirementsOf(s).map((r, i) => {
          const got = o.requirements[i]!.approvedBy;
          return `approvers  ${r.rule ?? 'all rules'}: ${got.length}/${r.quorum} approved${got.length ? ` (${got.join(', ')})` : ''}; groups ${r.groups?.join(', ') || '-'}; users ${r.users?.join(', ') || '-'}`;
        }),
        `expires    ${s.expiresAt} (${age(s.expiresAt)})`,
        ...(a.status?.decisions ?? []).map((d) => `decision   ${d.at} ${d.user}${d.groups?.length ? ` (groups ${d.groups.join(', ')})` : ''} ${d.decision}: ${d.reason}`),
        ...o.ignored.map((i) => `ignored    ${i.user}: ${i.reason}`),
      ].join('\n');
    });
    return 0;
  },
};

function decideCommand(decision: 'approve' | 'deny'): Command {
  return {
    name: ['approvals', decision],
    args: 1,
    summary: decision === 'approve' ? 'Approve a held request (counts toward its quorum)' : 'Deny a held request (one valid denial denies it)',
    usage: `approvals ${decision} ID -r|--reason R [-n NS] [--kubeconfig F] [--output json]`,
    help: `Records your decision on SkillApproval ID (NAME or NAMESPACE/NAME). You are identified by your
kubeconfig credential (SelfSubjectReview), never by a flag; your Kubernetes groups are recorded
with the decision and count for the approval's approver groups. The skill's owner cannot decide its
own requests; you must be one of the approval's approver users or in one of its approver groups (a
rule that names neither is decided by the group skillgate-approvers).

ID is NAME or NAMESPACE/NAME; -n NS defaults to the kubeconfig context's namespace; --kubeconfig F
chooses the cluster.

Example:
  skillgate approvals ${decision} triage-req-01j9 -n team-a --reason "checked with the incident lead"`,
    options: { ...kubeOptions, reason: { type: 'string', short: 'r' } },
    async run({ values, positionals }) {
      const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
      if (!reason) throw new CliError(`--reason is required: say why you ${decision} this request`, 2);
      if (!positionals[0]) throw missingId();
      const { kc, namespace } = kube(values);
      const t = target(positionals[0], namespace);
      let user: string;
      let groups: string[];
      try {
        const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
        user = review.status?.userInfo?.username ?? '';
        groups = review.status?.userInfo?.groups ?? [];
      } catch (err) {
        throw apiFailure(err, 'cannot learn who you are (SelfSubjectReview)');
      }
      if (!user) throw new CliError('the API server did not say who you are (SelfSubjectReview returned no username)');
      let updated: SkillApproval;
      try {
        updated = await recordDecision(kc.makeApiClient(CustomObjectsApi), t.namespace, t.name, { user, groups, decision, reason });
      } catch (err) {
        if (err instanceof DecisionRefused) throw new CliError(err.message);
        throw apiFailure(err, `cannot record your decision on SkillApproval ${t.namespace}/${t.name}`);
      }
      const phase = phaseOf(updated);
      printData(values, { approval: `${t.namespace}/${t.name}`, user, decision, phase }, () =>
        `${user} ${decision === 'approve' ? 'approved' : 'denied'} SkillApproval ${t.namespace}/${t.name}; it is now ${phase}.`);
      return 0;
    },
  };
}

export const approvalsCommands: Command[] = [listCommand, showCommand, decideCommand('approve'), decideCommand('deny')];
