// Single-connection latency: sequential requests over one keep-alive socket, timed with hrtime from
// the moment the request is written to the last byte of the response (for SSE, the end of the
// stream). More precise than a load generator at one connection. Bounded by a count and a deadline;
// a wrong status or body length counts as an error, never as a sample.
import http from 'node:http';

/** A client for one target: `once()` sends one request and resolves with its duration in µs. */
export function latencyClient({ url, path, headers, body, expectBytes }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // `body` is fixed bytes, or a function giving each request's body (built before timing starts).
  const fixed = typeof body === 'function' ? undefined : Buffer.from(body);
  function once() {
    const payload = fixed ?? Buffer.from(body());
    const allHeaders = { ...headers, 'content-length': payload.length };
    return new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = http.request({ hostname: target.hostname, port: target.port, method: 'POST', path, headers: allHeaders, agent }, (res) => {
        let bytes = 0;
        res.on('data', (chunk) => { bytes += chunk.length; });
        res.on('end', () => {
          const us = Number(process.hrtime.bigint() - t0) / 1000;
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          else if (expectBytes !== undefined && bytes !== expectBytes) reject(new Error(`body ${bytes} bytes, expected ${expectBytes}`));
          else resolve(us);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
  return { once, close: () => agent.destroy() };
}

/** Run up to `count` sequential requests (stopping at `deadline`, a Date.now() value). */
export async function sampleLatency(client, count, deadline, into) {
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    try {
      into.samples.push(await client.once());
    } catch (err) {
      into.errors++;
      into.lastError = err.message;
      if (into.errors > 50 && into.errors > into.samples.length) return; // broken target: stop early
    }
  }
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarise(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1], mean };
}
