// prom-client's metric classes, loaded without the package index. The index also loads the default
// process metrics (with a GC observer that runs on every collection), cluster aggregation, the push
// gateway and OpenTelemetry (for exemplars), none of which a sidecar in every skill pod uses: about
// 1 MB less resident memory and no per-GC callback. The classes are prom-client's own; only the
// entry point differs. The process metrics the sidecar exports are in process-metrics.ts.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

/** prom-client/lib/<name>; should a later prom-client close its lib/ folder, the index instead. */
function load<T>(name: string, exported: keyof typeof Prom): T {
  try {
    return require(`prom-client/lib/${name}`) as T;
  } catch {
    return (require('prom-client') as typeof Prom)[exported] as T;
  }
}

export const Registry = load<typeof Prom.Registry>('registry', 'Registry');
export const Counter = load<typeof Prom.Counter>('counter', 'Counter');
export const Gauge = load<typeof Prom.Gauge>('gauge', 'Gauge');
export const Histogram = load<typeof Prom.Histogram>('histogram', 'Histogram');
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
