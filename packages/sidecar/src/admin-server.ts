// The admin endpoints: /healthz and /readyz (:15021) for the kubelet, /metrics (:15090) for
// Prometheus. Ready means every port can do its job now: e.g. a workload token is held and the
// lock feed is trusted. Not-ready answers 503 with the reasons, so `kubectl describe` says why.
import type { Server } from 'node:http';
import { http } from './node-http.js';
import type { SidecarContext } from './context.js';

export function createHealthServer(ctx: SidecarContext, readiness: () => string[]): Server {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok\n');
    }
    if (req.url === '/readyz') {
      const problems = readiness();
      for (const p of [ctx.identity.refusal(), ctx.locks.refusal()]) if (p) problems.push(p.message);
      res.writeHead(problems.length ? 503 : 200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ready: problems.length === 0, problems }));
    }
    res.writeHead(404).end();
  });
}

export function createMetricsServer(ctx: SidecarContext): Server {
  return http.createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    ctx.metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
        res.end(text);
      },
      () => res.writeHead(500).end(),
    );
  });
}
