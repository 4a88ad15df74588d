// Metrics observed on the request path. Every exchange observes two or three latencies and adds to
// three counters; prom-client's Histogram and Counter hash the label set on every call and the
// histogram looks its bucket up by property name (together ~18 µs per exchange on the data path,
// measured with bench/proxy/profile.mjs). Here a labelled child is resolved once and cached, and
// observing is a bucket search and a few additions into a typed array.
// Both register with a prom-client Registry and read out exactly as prom-client renders a histogram
// or a counter (same series, same order, same text), so /metrics and the dashboard do not change.
import type { Registry } from './prom.js';

export interface HistogramChild {
  observe(value: number): void;
}

interface Series {
  labels: Record<string, string>;
  counts: Float64Array;
}

/** A value as prom-client's registry renders it: one line of one series. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

export class LatencyHistogram<L extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series & HistogramChild>();
  private readonly bounds: Float64Array;
  private unlabelled: (Series & HistogramChild) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
    // The registry reads a metric through name, help, type and get()/getForPromString().
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    // Without labels there is one series from the start, read out as zeros (as prom-client does).
    if (labelNames.length === 0) this.unlabelled = this.child({});
  }

  /** The child for these label values (in labelNames order); resolved once, then cached. */
  labels(...values: string[]): HistogramChild {
    return childFor(this, this.series, values, (labels) => this.child(labels));
  }

  /** Observe on the histogram without labels. */
  observe(value: number): void {
    if (!this.unlabelled) throw new Error(`${this.name} needs label values: use labels(...).observe()`);
    this.unlabelled.observe(value);
  }

  reset(): void {
    this.series.clear();
    this.unlabelled = this.labelNames.length === 0 ? this.child({}) : undefined;
  }

  /** The series as prom-client's registry renders them (see prom-client histogram.js). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: string }> {
    const values: ExportedValue[] = [];
    const all = this.unlabelled ? [this.unlabelled, ...this.series.values()] : [...this.series.values()];
    const n = this.bounds.length;
    for (const s of all) {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.counts[n + 1]!, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.counts[n]!, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.counts[n + 1]!, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same, with label sets merged (prom-client's get(), for getMetricsAsJSON). */
  async get(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: string }> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }

  private child(labels: Record<string, string>): Series & HistogramChild {
    const bounds = this.bounds;
    const n = bounds.length;
    // counts[0..n-1]: per bucket; counts[n]: sum; counts[n+1]: count (values above every bound
    // are in count only, as the +Inf bucket).
    const counts = new Float64Array(n + 2);
    const name = this.name;
    return {
      labels,
      counts,
      observe(value: number): void {
        if (!Number.isFinite(value)) throw new TypeError(`${name}: not a finite number: ${value}`);
        let i = 0;
        while (i < n && value > bounds[i]!) i++;
        if (i < n) counts[i]!++;
        counts[n] += value;
        counts[n + 1]!++;
      },
    };
  }
}

export interface CounterChild {
  inc(value?: number): void;
}

/** A counter with labels, for the request path (prom-client's Counter, without per-call hashing). */
export class PathCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<string, string>; value: number } & CounterChild>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly [L, ...L[]], registry: Registry) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The child for these label values (in labelNames order); resolved once, then cached. */
  labels(...values: string[]): CounterChild {
    return childFor(this, this.series, values, (labels) => {
      const name = this.name;
      const series = {
        labels, value: 0,
        inc(value = 1): void {
          if (!Number.isFinite(value)) throw new TypeError(`${name}: not a finite number: ${value}`);
          if (value < 0) throw new Error(`${name}: a counter cannot decrease`);
          series.value += value;
        },
      };
      return series;
    });
  }

  /** Forget every series (label sets are skill-chosen strings: the caller bounds them). */
  reset(): void {
    this.series.clear();
  }

  async get(): Promise<{ name: string; help: string; type: string; values: Array<{ labels: Record<string, string>; value: number }>; aggregator: string }> {
    const values = [...this.series.values()].map((s) => ({ value: s.value, labels: s.labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** The cached child of `series` for these label values (in labelNames order), made the first time. */
function childFor<C>(
  metric: { readonly name: string; readonly labelNames: readonly string[] }, series: Map<string, C>, values: string[],
  make: (labels: Record<string, string>) => C,
): C {
  if (values.length !== metric.labelNames.length) {
    throw new Error(`${metric.name} takes ${metric.labelNames.length} label values, got ${values.length}`);
  }
  const key = values.join('\u0000');
  let child = series.get(key);
  if (!child) {
    const labels: Record<string, string> = {};
    metric.labelNames.forEach((n, i) => { labels[n] = values[i]!; });
    child = make(labels);
    series.set(key, child);
  }
  return child;
}
