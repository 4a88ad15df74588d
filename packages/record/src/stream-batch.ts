// Batching of a streamed response's SSE events into stream_event records. Why batch: a long answer
// is thousands of small deltas; one record event each would multiply hashing, Redis entries and
// fsyncs without adding evidence. Each item keeps its own relative time (ms since the response head),
// so replay reproduces the original pace exactly. A batch closes at `maxEvents` items or `maxBytes`
// of data, and the caller flushes the rest when the stream ends; the record then holds every event
// in order. Pure: no timers (the sidecar flushes on stream end, and may flush on its own timer).
import type { RecordedFinding, RecordedSseEvent, StreamEventData } from './event.js';

export interface StreamBatchLimits {
  maxEvents: number;
  maxBytes: number;
}

export const DEFAULT_STREAM_BATCH: StreamBatchLimits = { maxEvents: 64, maxBytes: 64 * 1024 };

export class StreamBatcher {
  private events: RecordedSseEvent[] = [];
  private findings: RecordedFinding[] = [];
  private bytes = 0;

  constructor(private readonly limits: StreamBatchLimits = DEFAULT_STREAM_BATCH) {}

  /**
   * Add one SSE event (data already masked; findings with offsets into that data). Returns a full
   * batch to record, or undefined while the batch is still filling.
   */
  push(event: string, data: string, t: number, findings: readonly RecordedFinding[] = []): StreamEventData | undefined {
    const at = this.events.length;
    this.events.push({ data, event, t }); // canonical (sorted) member order: sealed without a copy
    for (const f of findings) this.findings.push({ ...f, at });
    this.bytes += data.length;
    if (this.events.length >= this.limits.maxEvents || this.bytes >= this.limits.maxBytes) return this.flush();
    return undefined;
  }

  /** The events not yet returned, or undefined when there are none. */
  flush(): StreamEventData | undefined {
    if (this.events.length === 0) return undefined;
    const batch: StreamEventData = { events: this.events };
    if (this.findings.length > 0) batch.findings = this.findings;
    this.events = [];
    this.findings = [];
    this.bytes = 0;
    return batch;
  }
}
