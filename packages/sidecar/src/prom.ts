// prom-client's metric classes, imported from their own files rather than the package index. The
// index also loads the default process metrics (with a GC observer that runs on every collection),
// cluster aggregation, the push gateway (node:https, zlib) and OpenTelemetry (for exemplars), none of
// which a sidecar in every skill pod uses: about 1 MB less resident memory unbundled, more in the
// bundle, and no per-GC callback. The classes are prom-client's own (pinned in package-lock.json;
// prom-client has no "exports" map, so its files are importable); prom-lib.d.ts types them. The
// process metrics the sidecar exports are in process-metrics.ts.
import type * as Prom from 'prom-client';
import RegistryClass from 'prom-client/lib/registry.js';
import CounterClass from 'prom-client/lib/counter.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';

export const Registry = RegistryClass;
export const Counter = CounterClass;
export const Gauge = GaugeClass;
export const Histogram = HistogramClass;
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
