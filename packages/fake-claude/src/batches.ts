// Message Batches: requests are answered when the batch is created (by the same reply engine as
// /v1/messages, non-streaming), but the batch reports `in_progress` until its processing time has
// passed, like the real service. `results_url` is absolute and points at the fake's own origin, as
// the real API's does: a gateway must rewrite it. Pure bookkeeping: answers come from the caller.
import { fakeId } from './reply.js';

export type BatchResult =
  | { type: 'succeeded'; message: unknown }
  | { type: 'errored'; error: { type: 'error'; error: { type: string; message: string } } }
  | { type: 'canceled' }
  | { type: 'expired' };

interface BatchRecord {
  id: string;
  createdAt: number;
  endsAt: number;
  cancelAt?: number;
  results: Array<{ custom_id: string; result: BatchResult }>;
}

export interface BatchObject {
  id: string;
  type: 'message_batch';
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: { processing: number; succeeded: number; errored: number; canceled: number; expired: number };
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

const DAY = 24 * 3600 * 1000;
const iso = (ms: number): string => new Date(ms).toISOString();

export class BatchStore {
  private readonly batches = new Map<string, BatchRecord>();

  constructor(private readonly processingMs: number, private readonly origin: () => string) {}

  create(results: Array<{ custom_id: string; result: BatchResult }>, now = Date.now()): BatchObject {
    const record: BatchRecord = { id: fakeId('msgbatch_01'), createdAt: now, endsAt: now + this.processingMs, results };
    this.batches.set(record.id, record);
    // The create answer always says in_progress, as the real one does.
    return this.view(record, now, true);
  }

  get(id: string, now = Date.now()): BatchObject | undefined {
    const record = this.batches.get(id);
    return record && this.view(record, now, false);
  }

  /** Newest first, as the real list is ordered. */
  list(now = Date.now()): BatchObject[] {
    return [...this.batches.values()].reverse().map((r) => this.view(r, now, false));
  }

  cancel(id: string, now = Date.now()): BatchObject | undefined {
    const record = this.batches.get(id);
    if (!record) return undefined;
    if (now < record.endsAt && record.cancelAt === undefined) {
      record.cancelAt = now;
      record.results = record.results.map((r) => ({ custom_id: r.custom_id, result: { type: 'canceled' } }));
      return this.view(record, now, true);
    }
    return this.view(record, now, false);
  }

  /** 'missing', 'in_progress' (cannot delete yet) or 'deleted'. */
  delete(id: string, now = Date.now()): 'missing' | 'in_progress' | 'deleted' {
    const record = this.batches.get(id);
    if (!record) return 'missing';
    if (!this.ended(record, now)) return 'in_progress';
    this.batches.delete(id);
    return 'deleted';
  }

  /** The JSONL results, or undefined when the batch is unknown or not ended yet. */
  resultsJsonl(id: string, now = Date.now()): string | undefined {
    const record = this.batches.get(id);
    if (!record || !this.ended(record, now)) return undefined;
    let out = '';
    for (const r of record.results) out += `${JSON.stringify(r)}\n`;
    return out;
  }

  private ended(record: BatchRecord, now: number): boolean {
    return now >= record.endsAt || record.cancelAt !== undefined;
  }

  private view(record: BatchRecord, now: number, justChanged: boolean): BatchObject {
    const ended = !justChanged && this.ended(record, now);
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    for (const r of record.results) {
      if (!ended) counts.processing++;
      else counts[r.result.type]++;
    }
    const status = ended ? 'ended' : record.cancelAt !== undefined ? 'canceling' : 'in_progress';
    return {
      id: record.id,
      type: 'message_batch',
      processing_status: status,
      request_counts: counts,
      ended_at: ended ? iso(record.cancelAt ?? record.endsAt) : null,
      created_at: iso(record.createdAt),
      expires_at: iso(record.createdAt + DAY),
      archived_at: null,
      cancel_initiated_at: record.cancelAt === undefined ? null : iso(record.cancelAt),
      results_url: ended ? `${this.origin()}/v1/messages/batches/${record.id}/results` : null,
    };
  }
}
