// The webhook-certificate loop as the controller builds it: a leader loop is built again each time
// the replica wins the Lease, on the controller's one metrics registry. Building it twice must not
// throw ("metric already registered"), and the rebuilt loop must count into the same metrics.
// The API server is a closed loopback port: each pass fails fast, which the loop counts and retries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ControllerMetrics } from '../src/metrics.js';
import { kubeClients } from '../src/kube.js';
import { webhookCertReconcilers } from '../src/webhook-certs/index.js';
import type { ControllerContext } from '../src/controller.js';

const ENV = {
  SKILLGATE_MANAGE_WEBHOOK_CERTS: 'true', SKILLGATE_NAMESPACE: 'sg', SKILLGATE_WEBHOOK_CERT_SECRET: 'sg-webhook-tls',
  SKILLGATE_WEBHOOK_CONFIGS: 'sg-inject,sg-validate', SKILLGATE_WEBHOOK_SERVICE: 'sg-webhook',
};
const FAILURES = 'skillgate_controller_webhook_certificate_reconcile_failures_total';

/** A loopback port nothing listens on (bound on port 0, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failures(metrics: ControllerMetrics): Promise<number> {
  const metric = metrics.registry.getSingleMetric(FAILURES);
  if (!metric) throw new Error(`${FAILURES} is not registered`);
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe('the webhook-certificate loop across leader elections', () => {
  test('is built twice on one registry without "already registered", and the rebuilt loop counts into the same metrics', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-certs-loop-'));
    const kubeconfig = path.join(dir, 'config');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${await closedPort()}` } }],
      users: [{ name: 'u', user: { token: 'x' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    }));
    const metrics = new ControllerMetrics(false);
    const ctx = { kube: kubeClients(kubeconfig), log: pino({ level: 'silent' }), metrics } as unknown as ControllerContext;
    const [factory] = webhookCertReconcilers(ENV);
    expect(factory).toBeDefined();

    // First term as leader: one pass (fails: nothing listens), then step down.
    const first = factory!(ctx);
    await first.start();
    await first.stop();
    expect(await failures(metrics)).toBe(1);

    // Second election: the loop is built again on the same registry.
    const second = factory!(ctx);
    await second.start();
    await second.stop();
    expect(await failures(metrics)).toBe(2);
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('skillgate_controller_webhook_certificate_'));
    expect(names.sort()).toEqual([
      'skillgate_controller_webhook_certificate_changes_total',
      'skillgate_controller_webhook_certificate_expiry_timestamp_seconds',
      FAILURES,
    ]);
  });
});
