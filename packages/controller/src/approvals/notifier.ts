// Approval notifications: one POST of Slack-compatible JSON (`text` plus Block Kit `blocks`) to a
// configured webhook URL per new SkillApproval, with signed approve/deny links. The message holds
// only the masked summary the sidecar wrote (never request text); delivery failures are logged and
// retried by the reconciler, never block a decision. Everything in the summary came from the skill
// (its turn, tool names, model, custom ids, the reasons quoting them): it is escaped before it
// reaches mrkdwn, so a turn can neither ping a channel (`<!channel>`) nor draw a link of its own
// (`<https://…|Approve>`) in the approver's message.
import { textTail, type SkillApproval } from '@skillgate/api';
import { requirementsOf } from '@skillgate/policy/approval';

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** How much of the newest turn the message shows: its end, where the newest instruction is. */
const EXCERPT_SHOWN = 500;

/** Text as Slack mrkdwn shows it literally: `&`, `<` and `>` are its control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The last `max` characters, after an ellipsis when cut (never half a surrogate pair). */
export function excerptTail(text: string, max = EXCERPT_SHOWN): string {
  return text.length <= max ? text : `…${textTail(text, max)}`;
}

export function approvalMessage(a: SkillApproval, links?: { approve: string; deny: string }): SlackMessage {
  const s = a.spec;
  const e = escapeMrkdwn;
  const id = `${a.metadata.namespace}/${a.metadata.name}`;
  const list = (xs: readonly string[]) => xs.map(e).join(', ');
  const batch = s.summary.batch;
  // Each matched rule's approvers must approve on their own: say who is needed for which rule.
  const needed = requirementsOf(s).map((r) => `• ${r.quorum} of ${[...(r.groups ?? []).map((g) => `group ${g}`), ...(r.users ?? [])].map(e).join(', ')}${r.rule ? ` (${e(r.rule)})` : ''}`);
  const lines = [
    `*Skill* ${e(s.identity.namespace)}/${e(s.identity.skill)} (owner ${e(s.identity.owner)})`,
    `*Policy* ${e(s.policy)} — rules ${list(s.rules)}`,
    ...s.reasons.map((r) => `• ${e(r)}`),
    s.summary.model ? `*Model* ${e(s.summary.model)}${s.summary.stream ? ' (streaming)' : ''}` : '',
    batch ? `*Message Batch* ${batch.requests} requests, ${batch.matching} matching${batch.customIds?.length ? `: ${list(batch.customIds)}` : ''}` : '',
    s.summary.tools?.length ? `*Tools* ${list(s.summary.tools)}` : '',
    s.summary.serverTools?.length ? `*Server tools* ${list(s.summary.serverTools)}` : '',
    s.summary.mcpServers?.length ? `*MCP servers* ${list(s.summary.mcpServers)}` : '',
    s.summary.findings?.length ? `*Findings* ${s.summary.findings.map((f) => `${e(f.type)}×${f.count}`).join(', ')}` : '',
    s.summary.estimatedInputTokens ? `*Input* ~${s.summary.estimatedInputTokens} tokens` : '',
    `*Approvals needed* (each rule by its own approvers)`,
    ...needed,
    `*Expires* ${e(s.expiresAt)} · digest \`${e(s.requestDigest.slice(0, 19))}…\``,
  ].filter(Boolean);
  const blocks: SlackMessage['blocks'] = [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${id}` } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
  ];
  if (s.summary.excerpt) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Newest turn (masked)*\n>${e(excerptTail(s.summary.excerpt)).replace(/\n/g, '\n>')}` } });
  }
  if (links) {
    blocks.push({ type: 'actions', elements: [
      { type: 'button', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, url: links.approve },
      { type: 'button', style: 'danger', text: { type: 'plain_text', text: 'Deny' }, url: links.deny },
    ] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `or: \`skillgate approvals approve ${e(a.metadata.name)} -n ${e(a.metadata.namespace ?? '')} --reason "…"\`` }] });
  return { text: `Approval needed for skill ${e(s.identity.skill)} (${e(id)}): ${e(s.reasons[0] ?? s.rules.join(', '))}`, blocks };
}

export async function postNotification(webhookUrl: string, message: SlackMessage, timeoutMs = 5000): Promise<void> {
  const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message), signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`notification webhook answered ${res.status}`);
  await res.body?.cancel();
}
