// The event-loop delay is sampled only while the sidecar has work (process-metrics.ts): an idle
// sidecar runs no 10 ms sampling timer. Sampling starts as the first of a run of exchanges is
// admitted, goes on while exchanges come or are in flight, and stops once the sidecar has been
// quiet for the set time; a sidecar serving a request starts it, and its /metrics still carry the
// gauges.
import { startFakeClaude } from '@skillgate/fake-claude';
import { EventLoopDelay } from '../src/process-metrics.js';
import { LiveExchanges } from '../src/live.js';
import { resolveConfig, startSidecar } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay sampling', () => {
  it('samples from the first exchange until the sidecar has been quiet for the set time', async () => {
    // Real timers: the quiet time is long against the steps below, so a slow machine cannot make
    // the sampler stop early, and its stop is awaited rather than timed.
    const delay = new EventLoopDelay(300);
    const live = new LiveExchanges((l) => delay.busy(l));
    const exchange = () => live.add({ subject: { identity: { namespace: 'n', serviceAccount: 's', pod: 'p', skill: 'k', owner: 'o' }, sessionId: '' }, kill: () => undefined });
    // Polls until sampling stops; how long after `since` (performance.now(), the sampler's clock) it was seen off.
    const stoppedAfter = async (since: number) => {
      while (delay.sampling && performance.now() - since < 5000) await sleep(20);
      return { sampling: delay.sampling, afterMs: performance.now() - since };
    };
    try {
      expect(delay.sampling).toBe(false);
      const done = exchange();
      expect(delay.sampling).toBe(true);
      // In flight past the quiet time: still sampling.
      await sleep(700);
      expect(delay.sampling).toBe(true);
      done();
      // Exchanges keep coming, each ending before the next: still sampling.
      let lastEnded = 0;
      for (let i = 0; i < 5; i++) {
        exchange()();
        lastEnded = performance.now();
        await sleep(40);
        expect(delay.sampling).toBe(true);
      }
      // Quiet: it stops, never before the quiet time has passed since the last exchange ended (it
      // looks four times per quiet time, so within a quarter more), and starts again with the next.
      const stop = await stoppedAfter(lastEnded);
      expect(stop.sampling).toBe(false);
      expect(stop.afterMs).toBeGreaterThanOrEqual(300);
      exchange()();
      expect(delay.sampling).toBe(true);
    } finally {
      delay.stop();
    }
    expect(delay.sampling).toBe(false);
  });

  it('is off in an idle sidecar, on once it serves, and the gauges are on /metrics', async () => {
    const fake = await startFakeClaude();
    const sidecar = await startSidecar(resolveConfig({
      upstreamUrl: fake.url, upstreamApiKey: 'k', logLevel: 'silent',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }));
    try {
      const delay = sidecar.context.metrics.eventLoopDelay!;
      expect(delay.sampling).toBe(false);
      const res = await fetch(`${sidecar.claudeUrl}/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
      expect(delay.sampling).toBe(true);
      const metrics = await (await fetch(`${sidecar.metricsUrl}/metrics`)).text();
      for (const g of ['mean', 'p99', 'max']) expect(metrics).toMatch(new RegExp(`^skillgate_sidecar_nodejs_eventloop_lag_${g}_seconds \\d`, 'm'));
    } finally {
      await sidecar.close();
      await fake.close();
    }
  });
});
