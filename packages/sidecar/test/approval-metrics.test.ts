// Requests held for approval, counted by outcome with their hold time
// (skillgate_sidecar_approvals_total, skillgate_sidecar_approval_hold_seconds), through a running
// sidecar. The guard here stands in for the SkillApproval broker (which needs a kube-apiserver: its
// own tests are in e2e/approvals): it decides each hold as the test says.
import { GatewayError, codes } from '@skillgate/wire';
import { startSidecar, type Guard, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import type { Exchange } from '../src/exchange.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';
import { send } from './skill-client.js';

type Decide = (x: Exchange) => Promise<void>;

describe('approval metrics', () => {
  let upstream: UpstreamDouble;
  let sidecar: Sidecar;
  /** How the next hold ends: the test sets it before each request. */
  let decide: Decide = async () => undefined;
  const guard: Guard = {
    inspect: () => ({ approval: { rules: ['needs-a-human'], reasons: ['test'], timeoutMs: 60_000 } }),
    hold: (x) => decide(x),
  };

  beforeAll(async () => {
    upstream = await startUpstreamDouble();
    sidecar = await startSidecar({
      upstreamUrl: upstream.url, upstreamApiKey: 'sk-ant-sidecar-key',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), guard });
  });
  afterAll(async () => {
    await sidecar.close();
    await upstream.close();
  });

  const body = (stream = false) => JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, stream, messages: [{ role: 'user', content: 'hi' }] });
  const ask = (stream = false) => send(sidecar.claudeUrl, 'POST', '/v1/messages', body(stream));
  const metrics = async () => (await send(sidecar.metricsUrl, 'GET', '/metrics').done).body;
  const value = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1]);

  it('reads every outcome as 0 before any request is held', async () => {
    const text = await metrics();
    for (const outcome of ['approved', 'denied', 'expired', 'cancelled']) {
      expect(value(text, `skillgate_sidecar_approvals_total{outcome="${outcome}"}`)).toBe(0);
      expect(value(text, `skillgate_sidecar_approval_hold_seconds_count{outcome="${outcome}"}`)).toBe(0);
    }
  });

  it('counts approved, denied and expired holds, with how long each was held', async () => {
    // Approved: released once the test says so, after the request has been seen waiting.
    let release!: () => void;
    let held!: () => void;
    const waiting = new Promise<void>((r) => { held = r; });
    decide = () => { held(); return new Promise<void>((r) => { release = r; }); };
    const approved = ask();
    await waiting;
    const heldFrom = performance.now();
    await new Promise<void>((r) => setImmediate(r)); // a turn of the loop while it waits
    const heldAtLeast = (performance.now() - heldFrom) / 1000;
    release();
    expect((await approved.done).status).toBe(200);

    decide = async () => { throw new GatewayError(codes.approvalDenied, 'permission_error', 'SkillApproval team-a/x was denied by bob@example.com'); };
    expect((await ask().done).status).toBe(403);
    // Approved, then refused by the policy in force: not released, so denied.
    decide = async () => { throw new GatewayError(codes.policyDenied, 'permission_error', 'approved, but SkillPolicy p now denies it'); };
    expect((await ask().done).status).toBe(403);
    decide = async () => { throw new GatewayError(codes.approvalExpired, 'permission_error', 'SkillApproval team-a/y expired after 60 s'); };
    expect((await ask().done).status).toBe(403);

    const text = await metrics();
    expect(value(text, 'skillgate_sidecar_approvals_total{outcome="approved"}')).toBe(1);
    expect(value(text, 'skillgate_sidecar_approvals_total{outcome="denied"}')).toBe(2);
    expect(value(text, 'skillgate_sidecar_approvals_total{outcome="expired"}')).toBe(1);
    expect(value(text, 'skillgate_sidecar_approval_hold_seconds_count{outcome="approved"}')).toBe(1);
    expect(value(text, 'skillgate_sidecar_approval_hold_seconds_count{outcome="denied"}')).toBe(2);
    expect(value(text, 'skillgate_sidecar_approval_hold_seconds_sum{outcome="approved"}')).toBeGreaterThanOrEqual(heldAtLeast);
    // Buckets reach the longest timeout a SkillPolicy may give (86400 s).
    expect(value(text, 'skillgate_sidecar_approval_hold_seconds_bucket{le="86400",outcome="approved"}')).toBe(1);
  });

  it('leaves the wait for a human out of the gateway\'s added latency', async () => {
    const added = async (): Promise<number> => value(await metrics(), 'skillgate_sidecar_added_latency_seconds_sum{route="messages"}') || 0;
    const before = await added();
    decide = () => new Promise<void>((r) => setTimeout(r, 400));
    expect((await ask().done).status).toBe(200);
    expect(value(await metrics(), 'skillgate_sidecar_approval_hold_seconds_sum{outcome="approved"}')).toBeGreaterThanOrEqual(0.39);
    expect(await added() - before).toBeLessThan(0.2);
  });

  it('counts a hold the skill walked away from as cancelled', async () => {
    let held!: () => void;
    let settled!: () => void;
    const waiting = new Promise<void>((r) => { held = r; });
    const gaveUp = new Promise<void>((r) => { settled = r; });
    // Held as the broker holds: until the exchange is cut.
    decide = (x) => new Promise<void>((_, reject) => {
      x.abort.signal.addEventListener('abort', () => { reject(x.abort.signal.reason); settled(); }, { once: true });
      held();
    });
    const before = value(await metrics(), 'skillgate_sidecar_approvals_total{outcome="cancelled"}');
    const streaming = ask(true);
    streaming.done.catch(() => undefined);
    await waiting;
    streaming.req.destroy();
    await gaveUp;
    expect(value(await metrics(), 'skillgate_sidecar_approvals_total{outcome="cancelled"}')).toBe(before + 1);
  });
});
