// What the approvers of a held Message Batch are shown: the requests the batch's decision held it
// for (@skillgate/policy evaluateBatch names them), not a second judgement made when the approval is
// asked, under another clock. The approval service records what it was asked and denies at once
// (a stand-in: no SkillApproval API here; the e2e approvals test runs the real one).
import { combine, compilePolicy } from '@skillgate/policy';
import { createMasker } from '@skillgate/masking';
import { createLogger } from '../src/index.js';
import { createPolicyGuard } from '../src/cluster/guard.js';
import type { ApprovalRequest } from '../src/cluster/approvals.js';
import type { Exchange } from '../src/exchange.js';

const log = createLogger('silent');
const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' };
const masker = createMasker(undefined, { key: 'batch-summary-masking-key' });
const guardMasker = { findings: (text: string) => masker.maskText(text).findings, maskText: (text: string) => masker.maskText(text).masked };

function recordingApprovals() {
  const asked: ApprovalRequest[] = [];
  return { asked, close: () => undefined, hold: async (req: ApprovalRequest) => {
    asked.push(req);
    return { name: 'a', namespace: 'team-a', phase: 'Denied' as const, approvedBy: [], deniedBy: ['sam@example.com'], reasons: ['no'] };
  } };
}

const item = (id: string, content: string) => ({ custom_id: id, params: { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content }] } });

describe('a held Message Batch shows its approvers', () => {
  test('the requests its decision held it for, even when the clock leaves the policy\'s schedule before the approval is asked', async () => {
    const effective = combine([compilePolicy({ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'office', namespace: 'team-a' },
      spec: { schedule: { windows: [{ start: '09:00', end: '17:00', timeZone: 'UTC' }] }, approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } } })]);
    // A fake clock: inspected just inside the window, held for approval just after it closed.
    let clock = new Date('2026-03-04T16:59:59.900Z');
    const approvals = recordingApprovals();
    const guard = createPolicyGuard({ policy: () => ({ effective }), approvals, masker: guardMasker, log, now: () => clock });
    const request = { requests: [item('r0', 'every employee salary'), item('r1', 'what is the weather'), item('r2', 'salary bands for 2026')] };
    const x = { id: 'req_1', identity, route: { kind: 'batch_create' }, request, body: Buffer.from(JSON.stringify(request)), abort: new AbortController(), stream: false } as unknown as Exchange;

    const verdict = await guard.inspect(x);
    expect(verdict.approval?.rules).toEqual(['team-a/office/salary']);
    clock = new Date('2026-03-04T17:00:00.100Z');
    await expect(guard.hold(x, verdict.approval!, () => undefined)).rejects.toThrow(/denied by sam@example\.com/);

    const summary = approvals.asked[0]!.summary;
    expect(summary.batch).toEqual({ requests: 3, matching: 2, customIds: ['r0', 'r2'] });
    expect(summary.excerpt).toMatch(/^Message Batch of 3 requests; 2 match the approval rules: r0, r2\./);
    expect(summary.excerpt).toContain('[r0] every employee salary');
    expect(summary.excerpt).toContain('[r2] salary bands for 2026');
    expect(summary.excerpt).not.toContain('weather');
  });
});
