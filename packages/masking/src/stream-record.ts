// Masking a response stream for the record (record mode and the record of every other mode). The
// record needs a masked copy of the stream, not a live rewrite: nothing waits for it, so it can
// look at a content block whole instead of delta by delta. Events from the start of a block to its
// stop are held; at the stop the block's whole text is masked once. When that finds nothing (the
// usual answer), the held events are recorded as they came. When it finds something, or a held
// event is anything unusual, the held events go through the live rewriter (SseRewriter), so the
// record is exactly what that would have produced. A block larger than the hold limit goes through
// the live rewriter from there on (memory stays bounded). Same findings, same masked text per block
// as the live rewriter, at one detector pass per block instead of one per delta. Server tool
// results (a fetched page, code execution output), which arrive whole in their content_block_start
// and which the live rewriter leaves as Claude made them, are masked here: the record only.
import type { SseEvent } from '@skillgate/wire';
import type { Finding } from './entities.js';
import { DELTA_FIELD, SseRewriter, blockStreamFor, isRecord, sseEvent, type BlockPolicy, type BlockStream, type DeltaKind, type StreamOutput } from './stream.js';

/** The events of a Messages stream (its blocks are what the record masks). */
const MESSAGES_EVENTS = new Set(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error']);

export interface RecordStreamLimits {
  /** Most bytes of events held for one block before it goes through the live rewriter. */
  maxHeldBytes: number;
}

export const DEFAULT_RECORD_STREAM_LIMITS: RecordStreamLimits = { maxHeldBytes: 64 * 1024 };

/** A block being held: the (unused) stream that masks its whole text at its stop, and that text so far. */
interface HeldBlock { stream: BlockStream; kind: DeltaKind; parts: string[] }

export class RecordStreamMasker {
  readonly findings: Finding[] = [];
  /** Events held since the first open block started, in order. */
  private held: SseEvent[] = [];
  private heldBytes = 0;
  private readonly open = new Map<number, HeldBlock>();
  /** Something in the held events needs the live rewriter's judgement (a finding, an odd event). */
  private needsRewrite = false;
  /** A block too large to hold: the live rewriter runs until no block is open. */
  private live: SseRewriter | undefined;
  /** For each event the rewriter made, the input it was made from (the record keeps its time). */
  private readonly madeFrom = new WeakMap<StreamOutput, SseEvent>();

  /**
   * `serverResult`: masks a server tool result block (it arrives whole in content_block_start);
   * undefined for any other block. `otherEvent`: masks the data of an event that is not a Messages
   * stream's (a legacy Text Completions `completion`, an OpenAI-compatible chunk), which no block
   * rule reads: without it, such events would be recorded as they came.
   */
  constructor(
    private readonly policy: BlockPolicy,
    private readonly limits: RecordStreamLimits = DEFAULT_RECORD_STREAM_LIMITS,
    private readonly serverResult?: (block: Record<string, unknown>) => { body: unknown; findings: Finding[] } | undefined,
    private readonly otherEvent?: (data: string) => { masked: string; findings: Finding[] },
  ) {}

  push(input: SseEvent): StreamOutput[] {
    const ev = this.otherEvent && !MESSAGES_EVENTS.has(input.event) ? this.maskOther(input) : input;
    if (this.live) return this.pushLive(ev);
    if (this.held.length === 0 && ev.event === 'content_block_start' && this.serverResult) {
      const out = this.maskServerResult(ev);
      if (out) return [out];
    }
    if (this.held.length === 0 && ev.event !== 'content_block_start') return [ev];
    this.held.push(ev);
    this.heldBytes += ev.raw.length;
    try {
      this.inspect(ev);
    } catch {
      this.needsRewrite = true;
    }
    if (ev.event === 'message_stop' || ev.event === 'error') return this.release(true);
    if (this.open.size === 0) return this.release(false);
    if (this.heldBytes > this.limits.maxHeldBytes) return this.goLive();
    return [];
  }

  /** An event of another stream, its data masked (itself when nothing was found). */
  private maskOther(ev: SseEvent): SseEvent {
    const r = this.otherEvent!(ev.data);
    if (r.findings.length === 0) return ev;
    for (const f of r.findings) this.findings.push(f);
    const out: SseEvent = { event: ev.event, data: r.masked, raw: Buffer.from(`event: ${ev.event}\ndata: ${r.masked.split('\n').join('\ndata: ')}\n\n`) };
    this.madeFrom.set(out, ev);
    return out;
  }

  /** The input an output was made from: itself when it passed as it came. */
  sourceOf(out: StreamOutput): SseEvent {
    return this.madeFrom.get(out) ?? out;
  }

  /** The upstream ended: whatever is held is recorded (blocks still open end here). */
  end(): StreamOutput[] {
    if (this.live) {
      const out = this.live.end();
      this.leaveLive();
      return out;
    }
    return this.held.length ? this.release(true) : [];
  }

  /** A server tool result's start event, masked (itself when nothing was found); undefined for other blocks. */
  private maskServerResult(ev: SseEvent): StreamOutput | undefined {
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return undefined; // the held path decides what an unreadable event becomes
    }
    if (!isRecord(data) || !isRecord(data.content_block)) return undefined;
    const r = this.serverResult!(data.content_block);
    if (!r) return undefined;
    if (r.findings.length === 0) return ev;
    for (const f of r.findings) this.findings.push(f);
    const out = sseEvent('content_block_start', { ...data, content_block: r.body });
    this.madeFrom.set(out, ev);
    return out;
  }

  /** Track one held event: which blocks are open and their text; flag anything unusual. */
  private inspect(ev: SseEvent): void {
    const data = ev.data === '' ? undefined : JSON.parse(ev.data) as unknown;
    switch (ev.event) {
      case 'content_block_start': {
        if (!isRecord(data) || typeof data.index !== 'number' || !isRecord(data.content_block)) return;
        // A block the policy leaves alone is not held for its own sake (its deltas pass).
        const found = blockStreamFor(this.policy, data.content_block, data.index);
        if (found) this.open.set(data.index, { stream: found.stream, kind: found.kind, parts: found.initial ? [found.initial] : [] });
        return;
      }
      case 'content_block_delta': {
        const index = isRecord(data) && typeof data.index === 'number' ? data.index : -1;
        const block = this.open.get(index);
        if (!block) return;
        const delta = isRecord(data) ? data.delta : undefined;
        if (!isRecord(delta) || delta.type !== block.kind) return; // passes in the live rewriter too
        const text = delta[DELTA_FIELD[block.kind]];
        if (typeof text !== 'string') {
          this.needsRewrite = true;
          return;
        }
        block.parts.push(text);
        return;
      }
      case 'content_block_stop': {
        const index = isRecord(data) && typeof data.index === 'number' ? data.index : -1;
        const block = this.open.get(index);
        if (block) this.close(index, block);
        return;
      }
      default:
    }
  }

  /** A block ended: mask its whole text once; anything found sends the held events through the rewriter. */
  private close(index: number, block: HeldBlock): void {
    this.open.delete(index);
    if (this.needsRewrite) return;
    const text = block.parts.join('');
    try {
      const masked = block.stream.push(text) + block.stream.end();
      if (masked !== text || (block.stream.findings?.length ?? 0) > 0) this.needsRewrite = true;
    } catch {
      this.needsRewrite = true; // the live rewriter decides what a block that cannot be masked keeps
    }
  }

  /** Hand out the held events: as they came, or rewritten when masking found something. */
  private release(ending: boolean): StreamOutput[] {
    if (ending) for (const [index, block] of [...this.open]) this.close(index, block);
    const held = this.held;
    const rewrite = this.needsRewrite;
    this.held = [];
    this.heldBytes = 0;
    this.needsRewrite = false;
    this.open.clear();
    if (!rewrite) return held;
    const rewriter = new SseRewriter(this.policy);
    const out: StreamOutput[] = [];
    for (const ev of held) this.through(rewriter.push(ev), ev, out);
    const last = held[held.length - 1]!;
    if (ending && last.event !== 'message_stop' && last.event !== 'error') this.through(rewriter.end(), last, out);
    for (const f of rewriter.findings) this.findings.push(f);
    return out;
  }

  /** Too much held: the held events go through a live rewriter, which carries on until the blocks close. */
  private goLive(): StreamOutput[] {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.needsRewrite = false;
    this.open.clear();
    this.live = new SseRewriter(this.policy);
    const out: StreamOutput[] = [];
    for (const ev of held) this.through(this.live.push(ev), ev, out);
    if (this.live.openBlocks === 0) this.leaveLive();
    return out;
  }

  private pushLive(ev: SseEvent): StreamOutput[] {
    const live = this.live!;
    const out = this.through(live.push(ev), ev, []);
    if (live.openBlocks === 0) this.leaveLive();
    return out;
  }

  /** Append the rewriter's outputs for `input`, remembering that the new ones came from it. */
  private through(outs: StreamOutput[], input: SseEvent, into: StreamOutput[]): StreamOutput[] {
    for (const o of outs) {
      if (o !== input) this.madeFrom.set(o, input);
      into.push(o);
    }
    return into;
  }

  private leaveLive(): void {
    this.adoptLiveFindings();
    this.live = undefined;
  }

  private adoptLiveFindings(): void {
    if (this.live) for (const f of this.live.findings) this.findings.push(f);
  }
}
