// Approval notifications: one POST of Slack-compatible JSON (`text` plus Block Kit `blocks`) to a
// configured webhook URL per new SkillApproval, with signed approve/deny links. The message holds
// only the masked summary the sidecar wrote (never request text); delivery failures are logged and
// retried by the reconciler, never block a decision.
import type { SkillApproval } from '@skillgate/api';

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

export function approvalMessage(a: SkillApproval, links?: { approve: string; deny: string }): SlackMessage {
  const s = a.spec;
  const id = `${a.metadata.namespace}/${a.metadata.name}`;
  const lines = [
    `*Skill* ${s.identity.namespace}/${s.identity.skill} (owner ${s.identity.owner})`,
    `*Policy* ${s.policy} — rules ${s.rules.join(', ')}`,
    ...s.reasons.map((r) => `• ${r}`),
    s.summary.model ? `*Model* ${s.summary.model}${s.summary.stream ? ' (streaming)' : ''}` : '',
    s.summary.tools?.length ? `*Tools* ${s.summary.tools.join(', ')}` : '',
    s.summary.serverTools?.length ? `*Server tools* ${s.summary.serverTools.join(', ')}` : '',
    s.summary.findings?.length ? `*Findings* ${s.summary.findings.map((f) => `${f.type}×${f.count}`).join(', ')}` : '',
    s.summary.estimatedInputTokens ? `*Input* ~${s.summary.estimatedInputTokens} tokens` : '',
    `*Expires* ${s.expiresAt} · digest \`${s.requestDigest.slice(0, 19)}…\``,
  ].filter(Boolean);
  const blocks: SlackMessage['blocks'] = [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${id}` } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
  ];
  if (s.summary.excerpt) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Newest turn (masked)*\n>${s.summary.excerpt.slice(0, 500).replace(/\n/g, '\n>')}` } });
  if (links) {
    blocks.push({ type: 'actions', elements: [
      { type: 'button', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, url: links.approve },
      { type: 'button', style: 'danger', text: { type: 'plain_text', text: 'Deny' }, url: links.deny },
    ] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `or: \`skillgate approvals approve ${a.metadata.name} -n ${a.metadata.namespace} --reason "…"\`` }] });
  return { text: `Approval needed for skill ${s.identity.skill} (${id}): ${s.reasons[0] ?? s.rules.join(', ')}`, blocks };
}

export async function postNotification(webhookUrl: string, message: SlackMessage, timeoutMs = 5000): Promise<void> {
  const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message), signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`notification webhook answered ${res.status}`);
  await res.body?.cancel();
}
