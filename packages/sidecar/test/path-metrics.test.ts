// LatencyHistogram and PathCounter read out exactly as prom-client's Histogram and Counter do for
// the same observations: the same /metrics text and the same JSON, with labels and without.
import { Counter, Histogram, Registry } from 'prom-client';
import { LatencyHistogram, PathCounter } from '../src/path-metrics.js';
import { MAX_MODEL_LABELS, SidecarMetrics } from '../src/metrics.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1, 10];

/** A value generator that hits bucket bounds exactly, values between them, zero and beyond the last. */
function* values(seed: number, n: number): Generator<number> {
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const r = x / 2147483648;
    if (i % 7 === 0) yield BUCKETS[i % BUCKETS.length]!; // exactly on a bound: counts in that bucket
    else if (i % 11 === 0) yield 0;
    else if (i % 13 === 0) yield 20 + r; // above every bound: +Inf only
    else yield r * r * 0.05;
  }
}

describe('LatencyHistogram', () => {
  it('renders the same /metrics text and JSON as prom-client for labelled observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new LatencyHistogram('t_added_seconds', 'Added latency.', ['route'], BUCKETS, ours);
    const p = new Histogram({ name: 't_added_seconds', help: 'Added latency.', labelNames: ['route'], buckets: BUCKETS, registers: [theirs] });
    const routes = ['messages', 'count_tokens', 'models'];
    let i = 0;
    for (const v of values(42, 3000)) {
      const route = routes[i++ % routes.length]!;
      h.labels(route).observe(v);
      p.labels(route).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // JSON: the same, but for prom-client's (empty) exemplar fields; exemplars are not used here.
    const withoutExemplars = (metrics: Array<{ values: Array<Record<string, unknown>> }>) =>
      metrics.map((m) => ({ ...m, values: m.values.map(({ exemplar, ...v }) => { void exemplar; return v; }) }));
    expect(withoutExemplars(await ours.getMetricsAsJSON() as never)).toEqual(withoutExemplars(await theirs.getMetricsAsJSON() as never));
  });

  it('renders an unlabelled histogram like prom-client, empty and after observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new LatencyHistogram('t_record_seconds', 'Record latency.', [], BUCKETS, ours);
    const p = new Histogram({ name: 't_record_seconds', help: 'Record latency.', buckets: BUCKETS, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics()); // zeros before anything is observed
    for (const v of values(7, 500)) { h.observe(v); p.observe(v); }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    h.reset(); p.reset();
    // prom-client's reset() drops the unlabelled series until the next observation; ours keeps zeros.
    h.observe(0.003); p.observe(0.003);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses label mistakes and values that are not finite numbers', () => {
    const h = new LatencyHistogram('t_err_seconds', 'x', ['route'], BUCKETS, new Registry());
    expect(() => h.labels()).toThrow(/takes 1 label values, got 0/);
    expect(() => h.observe(1)).toThrow(/needs label values/);
    expect(() => h.labels('messages').observe(Number.NaN)).toThrow(/not a finite number/);
  });
});

describe('PathCounter', () => {
  it('renders the same /metrics text and JSON as prom-client for labelled increments', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const c = new PathCounter('t_requests_total', 'Requests.', ['route', 'status'], ours);
    const p = new Counter({ name: 't_requests_total', help: 'Requests.', labelNames: ['route', 'status'], registers: [theirs] });
    const routes = ['messages', 'models', 'files'];
    let i = 0;
    for (const v of values(3, 2000)) {
      const route = routes[i % 3]!;
      const status = String([200, 429, 529][(i >> 2) % 3]);
      if (i++ % 5 === 0) { c.labels(route, status).inc(); p.labels(route, status).inc(); } // by one
      else { c.labels(route, status).inc(v * 1000); p.labels(route, status).inc(v * 1000); }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    c.reset(); p.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses label mistakes, decrements and values that are not finite numbers', () => {
    const c = new PathCounter('t_err_total', 'x', ['route'], new Registry());
    expect(() => c.labels('a', 'b')).toThrow(/takes 1 label values, got 2/);
    expect(() => c.labels('messages').inc(-1)).toThrow(/cannot decrease/);
    expect(() => c.labels('messages').inc(Number.POSITIVE_INFINITY)).toThrow(/not a finite number/);
  });
});

describe('SidecarMetrics', () => {
  it('keeps the model label bounded: real ids up to a limit, then "other"; made-up strings are "other"', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    m.requestDone('messages', 200, 'claude-sonnet-4-6', 10, 20);
    m.requestDone('messages', 200, 'not a model <script>', 10, 20);
    for (let i = 0; i < 3 * MAX_MODEL_LABELS; i++) m.requestDone('messages', 200, `claude-made-up-${i}`, 10, 20);
    m.requestDone('messages', 200, 'claude-sonnet-4-6', 10, 20); // seen before: keeps its own label
    const text = await m.registry.metrics();
    const models = new Set([...text.matchAll(/skillgate_sidecar_requests_total\{[^}]*model="([^"]*)"/g)].map((x) => x[1]));
    expect(models.size).toBe(MAX_MODEL_LABELS + 1);
    expect(models.has('other')).toBe(true);
    expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="200",model="claude-sonnet-4-6"} 2');
    expect(text).toContain(`skillgate_sidecar_requests_total{route="messages",status="200",model="other"} ${2 * MAX_MODEL_LABELS + 2}`);
  });
});

describe('the lock feed, read at scrape time', () => {
  it('says how long the feed has been unusable and how many published locks it could not read', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    let lost = 0;
    const unreadable = new Map<string, unknown>();
    m.watchLockFeed(() => ({ lostForMs: () => lost, unreadable }));
    expect(await m.registry.getSingleMetricAsString('skillgate_sidecar_lock_feed_unreadable_locks')).toMatch(/ 0$/m);
    lost = 4500;
    unreadable.set('lock-of-a-newer-kind', {});
    expect(await m.registry.getSingleMetricAsString('skillgate_sidecar_lock_feed_lost_seconds')).toMatch(/ 4.5$/m);
    expect(await m.registry.getSingleMetricAsString('skillgate_sidecar_lock_feed_unreadable_locks')).toMatch(/ 1$/m);
  });
});
