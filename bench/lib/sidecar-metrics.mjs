// What a skillgate sidecar says about its own latency, read from its Prometheus endpoint: the sums
// and counts of its gateway-added latency and of each request event becoming durable (the record's
// write-ahead). Two readings bracket a series; `insideSidecar` turns them into means per request.

/** Cumulative sums (seconds) and counts of the sidecar's latency histograms, over every route. */
export async function readSidecarLatency(metricsUrl) {
  const res = await fetch(new URL('/metrics', metricsUrl));
  if (!res.ok) throw new Error(`${metricsUrl}/metrics answered ${res.status}`);
  const text = await res.text();
  const total = (name) => {
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  };
  return {
    addedSum: total('skillgate_sidecar_added_latency_seconds_sum'),
    addedCount: total('skillgate_sidecar_added_latency_seconds_count'),
    durableSum: total('skillgate_sidecar_record_seconds_sum'),
    durableCount: total('skillgate_sidecar_record_seconds_count'),
  };
}

/** Means (µs per request) between two readings; durableUs is absent when nothing was recorded. */
export function insideSidecar(before, after) {
  const requests = after.addedCount - before.addedCount;
  const durable = after.durableCount - before.durableCount;
  return {
    requests,
    addedUs: requests > 0 ? ((after.addedSum - before.addedSum) / requests) * 1e6 : undefined,
    ...(durable > 0 ? { durableUs: ((after.durableSum - before.durableSum) / durable) * 1e6 } : {}),
  };
}
