// prom-client's metric classes, loaded without the package index. The index also loads the default
// process metrics (with a GC observer that runs on every collection), cluster aggregation, the push
// gateway and OpenTelemetry (for exemplars), none of which a sidecar in every skill pod uses: about
// 1 MB less resident memory and no per-GC callback. The classes are prom-client's own; only the
// entry point differs. The process metrics the sidecar exports are in process-metrics.ts.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry;
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram;
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
