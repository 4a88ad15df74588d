// skillgate_sidecar_process_cpu_*_seconds_total are the process's CPU totals since it started (as
// /proc and Prometheus' process collectors count them), start-up included: not the CPU spent since
// the metrics were registered.
import { SidecarMetrics } from '../src/metrics.js';

const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('the sidecar\'s CPU counters', () => {
  it('count the CPU the process spent before the metrics existed', async () => {
    // This process has loaded Jest and the sidecar's modules: well over 100 ms of CPU already.
    const before = process.cpuUsage();
    expect(before.user + before.system).toBeGreaterThan(100_000);
    const text = await new SidecarMetrics().registry.metrics();
    const after = process.cpuUsage();
    const total = value(text, 'skillgate_sidecar_process_cpu_seconds_total');
    expect(total).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(total).toBeLessThanOrEqual((after.user + after.system) / 1e6);
    expect(value(text, 'skillgate_sidecar_process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(before.user / 1e6);
    expect(value(text, 'skillgate_sidecar_process_cpu_system_seconds_total')).toBeGreaterThanOrEqual(before.system / 1e6);
  });

  it('keep counting up from there, scrape after scrape', async () => {
    const m = new SidecarMetrics();
    const first = value(await m.registry.metrics(), 'skillgate_sidecar_process_cpu_seconds_total');
    let spin = 0;
    for (let i = 0; i < 2e6; i++) spin += Math.sqrt(i);
    expect(spin).toBeGreaterThan(0);
    const now = process.cpuUsage();
    const second = value(await m.registry.metrics(), 'skillgate_sidecar_process_cpu_seconds_total');
    expect(second).toBeGreaterThanOrEqual(first);
    expect(second).toBeGreaterThanOrEqual((now.user + now.system) / 1e6);
  });
});
