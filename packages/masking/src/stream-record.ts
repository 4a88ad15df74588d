// Masking a response stream for the record (record mode and the record of every other mode). The
// record needs a masked copy of the stream, not a live rewrite: nothing waits for it, so it can
// look at a content block whole instead of delta by delta. Events from the start of a block to its
// stop are held; at the stop the block's whole text is masked once. When that finds nothing (the
// usual answer), the held events are recorded as they came. When it finds something, or a held
// event is anything unusual, the held events go through the live rewriter (SseRewriter), so the
// record is exactly what that would have produced. A block larger than the hold limit goes through
// the live rewriter from there on (memory stays bounded). Same findings, same masked text per block
// as the live rewriter, at one detector pass per block instead of one per delta. Blocks that arrive
// whole in their content_block_start — server tool results (a fetched page, code execution output),
// which the live rewriter leaves as Claude made them, and MCP tool results — are masked here as a
// non-streaming answer's are; a citation's cited_text as the live rewriter masks it.
//
// Streams of other routes (the OpenAI-compatible chunks of /v1/chat/completions, a legacy
// /v1/complete stream's `completion` events) are masked as streams too, never one event at a time
// (an address split across two chunks would be recorded raw): each choice's text, and each tool
// call's arguments as a tool input, through the same streaming maskers as a Messages block
// (ChoiceStreamRewriter). Their events are held until no choice is open, then recorded as they came
// when nothing was found, else as rewritten; past the hold limit they are recorded as rewritten.
import { parseJson, type SseEvent } from '@skillgate/wire';
import type { Finding } from './entities.js';
import { DELTA_FIELD, SseRewriter, blockStreamFor, isRecord, rewriteCitation, rewriteWholeBlock, sseEvent, type BlockPolicy, type BlockStream, type DeltaKind, type StreamOutput } from './stream.js';

/** The events of a Messages stream (its blocks are what the record masks). */
const MESSAGES_EVENTS = new Set(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error']);
/**
 * The events of the other routes' streams: a legacy completion, and the OpenAI-compatible chunks,
 * which have no event line (SSE names them "message"). An event of neither kind (one a later API
 * adds to Messages streams) is masked whole and leaves the Messages rules in charge.
 */
const OTHER_ROUTE_EVENTS = new Set(['completion', 'message']);

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
  /** Another route's stream (OpenAI-compatible chunks, legacy completions): held events, their rewrite. */
  private other: { rewriter: ChoiceStreamRewriter; held: SseEvent[]; outs: StreamOutput[]; bytes: number; live: boolean; rewriteAlways: boolean } | undefined;

  /**
   * `serverResult`: masks a server tool result block (it arrives whole in content_block_start);
   * undefined for any other block (those arriving whole are walked here). `otherEvent`: masks the
   * data of an event that is not a Messages stream's (a legacy Text Completions `completion`, an
   * OpenAI-compatible chunk) — with it, such streams are masked as ChoiceStreamRewriter masks them,
   * the strings it does not stream by this; without it, they would be recorded as they came.
   */
  constructor(
    private readonly policy: BlockPolicy,
    private readonly limits: RecordStreamLimits = DEFAULT_RECORD_STREAM_LIMITS,
    private readonly serverResult?: (block: Record<string, unknown>) => { body: unknown; findings: Finding[] } | undefined,
    private readonly otherEvent?: (data: string) => { masked: string; findings: Finding[] },
  ) {}

  push(input: SseEvent): StreamOutput[] {
    if (this.other) return this.pushOther(input);
    if (this.otherEvent && !MESSAGES_EVENTS.has(input.event)) {
      // Another route's stream: masked as a stream from here on (a Messages stream never mixes in).
      if (!this.live && this.held.length === 0 && OTHER_ROUTE_EVENTS.has(input.event)) {
        this.other = { rewriter: new ChoiceStreamRewriter(this.policy, this.otherEvent), held: [], outs: [], bytes: 0, live: false, rewriteAlways: false };
        return this.pushOther(input);
      }
      return this.pushMessages(this.maskOther(input));
    }
    return this.pushMessages(input);
  }

  private pushMessages(ev: SseEvent): StreamOutput[] {
    if (this.live) return this.pushLive(ev);
    if (this.held.length === 0 && ev.event === 'content_block_start') {
      const out = this.maskWholeBlock(ev);
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

  /** An event of another route's stream (ChoiceStreamRewriter), held until no choice is open. */
  private pushOther(ev: SseEvent): StreamOutput[] {
    const o = this.other!;
    let outs: StreamOutput[];
    try {
      outs = this.through(o.rewriter.push(ev), ev, []);
    } catch {
      // An event that cannot be masked is dropped; what was held around it could hold part of a
      // value the rewriter then never saw whole, so nothing is recorded as it came from here on.
      o.rewriteAlways = true;
      outs = [];
    }
    if (o.live) return this.adoptOther(outs);
    o.held.push(ev);
    o.outs.push(...outs);
    o.bytes += ev.raw.length;
    if (o.rewriter.open === 0) return this.releaseOther();
    if (o.bytes > this.limits.maxHeldBytes) {
      // Too much held: recorded as rewritten from here on (memory stays bounded).
      o.live = true;
      o.held = [];
      return this.adoptOther(o.outs.splice(0));
    }
    return [];
  }

  /** Hand out another route's held events: as they came when nothing was found, else rewritten. */
  private releaseOther(ending: StreamOutput[] = []): StreamOutput[] {
    const o = this.other!;
    const held = o.held;
    const outs = o.outs;
    o.held = [];
    o.outs = [];
    o.bytes = 0;
    if (o.rewriter.findings.length === 0 && !o.rewriteAlways) return held;
    return this.adoptOther([...outs, ...ending]);
  }

  private adoptOther(outs: StreamOutput[]): StreamOutput[] {
    for (const f of this.other!.rewriter.findings.splice(0)) this.findings.push(f);
    return outs;
  }

  /** The upstream ended: whatever is held is recorded (blocks still open end here). */
  end(): StreamOutput[] {
    if (this.other) {
      const o = this.other;
      const last = o.held[o.held.length - 1];
      let ending: StreamOutput[];
      try {
        ending = o.rewriter.end();
      } catch {
        ending = []; // held text that cannot be masked is dropped, never recorded raw
      }
      if (last) for (const out of ending) this.madeFrom.set(out, last);
      return o.live ? this.adoptOther(ending) : this.releaseOther(ending);
    }
    if (this.live) {
      const out = this.live.end();
      this.leaveLive();
      return out;
    }
    return this.held.length ? this.release(true) : [];
  }

  /**
   * The start event of a block that arrives whole (a server or MCP tool result), masked (itself when
   * nothing was found); undefined for a block whose text comes in deltas, or an unreadable event.
   */
  private maskWholeBlock(ev: SseEvent): StreamOutput | undefined {
    let data: unknown;
    try {
      data = parseJson(ev.data);
    } catch {
      return undefined; // the held path decides what an unreadable event becomes
    }
    if (!isRecord(data) || !isRecord(data.content_block) || typeof data.index !== 'number') return undefined;
    if (blockStreamFor(this.policy, data.content_block, data.index)) return undefined;
    const server = this.serverResult?.(data.content_block);
    const whole = server ? { block: server.body, findings: server.findings } : rewriteWholeBlock(this.policy, data.content_block, data.index, true);
    if (!whole || whole.findings.length === 0) return ev;
    for (const f of whole.findings) this.findings.push(f);
    return this.madeOf(sseEvent('content_block_start', { ...data, content_block: whole.block }), ev);
  }

  private madeOf(out: StreamOutput, from: SseEvent): StreamOutput {
    this.madeFrom.set(out, from);
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
        if (found) {
          this.open.set(data.index, { stream: found.stream, kind: found.kind, parts: found.initial ? [found.initial] : [] });
          const citations = data.content_block.citations;
          if (Array.isArray(citations) && citations.some((c) => rewriteCitation(this.policy, c, '', [], true) !== c)) this.needsRewrite = true;
        } else if (rewriteWholeBlock(this.policy, data.content_block, data.index, true)) {
          this.needsRewrite = true; // a block that arrived whole with something to mask
        }
        return;
      }
      case 'content_block_delta': {
        const index = isRecord(data) && typeof data.index === 'number' ? data.index : -1;
        const block = this.open.get(index);
        if (!block) return;
        const delta = isRecord(data) ? data.delta : undefined;
        if (isRecord(delta) && delta.type === 'citations_delta' && block.kind === 'text_delta') {
          if (rewriteCitation(this.policy, delta.citation, '', [], true) !== delta.citation) this.needsRewrite = true;
          return;
        }
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
    const rewriter = new SseRewriter(this.policy, { forRecord: true });
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
    this.live = new SseRewriter(this.policy, { forRecord: true });
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

type OtherMask = (data: string) => { masked: string; findings: Finding[] };

/** What one choice of another route's stream has open: its text and its tool calls' arguments. */
interface OpenChoice { text: BlockStream | undefined; tools: Map<number, BlockStream> }

/**
 * The events of another route's stream with each choice's text masked as a stream: an OpenAI-
 * compatible chunk's choices[i].delta.content (each tool call's function.arguments as a tool input,
 * JSON), a legacy completion's `completion`. A choice is flushed when its finish_reason (stop_reason)
 * arrives — what it still holds goes into that event — or, if the stream ends first, at [DONE], an
 * error or the end, in an event made for it. Every other string of an event is masked whole
 * (`otherMask`); an event that is neither shape is masked whole. Findings of a choice's text carry
 * its path (`choices[0].delta.content`, `completion`) and offsets into its whole text.
 */
export class ChoiceStreamRewriter {
  readonly findings: Finding[] = [];
  private readonly choices = new Map<number, OpenChoice>();
  /** The last chunk seen (masked), whose id and model an event made for a flush repeats. */
  private last: { source: SseEvent; data: Record<string, unknown>; completion: boolean } | undefined;

  constructor(private readonly policy: BlockPolicy, private readonly otherMask: OtherMask) {}

  /** Choices with text or arguments not yet flushed. */
  get open(): number {
    return this.choices.size;
  }

  push(ev: SseEvent): StreamOutput[] {
    if (ev.data.trim() === '[DONE]' || ev.event === 'error') return [...this.end(), ev];
    if (ev.event === 'ping') return [ev];
    let data: unknown;
    try {
      data = parseJson(ev.data);
    } catch {
      return [this.wholly(ev)];
    }
    if (!isRecord(data)) return [this.wholly(ev)];
    if (typeof data.completion === 'string') return [this.completion(ev, data)];
    if (Array.isArray(data.choices)) return [this.chunk(ev, data, data.choices)];
    return [this.wholly(ev)];
  }

  /** The stream ended: each open choice's held text, in an event made for it. */
  end(): StreamOutput[] {
    const out: StreamOutput[] = [];
    for (const [index, choice] of [...this.choices]) {
      const last = this.last;
      const text = this.close(index, choice, last?.completion === true);
      if (!last) continue;
      if (last.completion) {
        if (text.content) out.push(likeSource(last.source, { ...last.data, completion: text.content, stop_reason: null }));
        continue;
      }
      if (!text.content && text.tools.size === 0) continue;
      const delta: Record<string, unknown> = {};
      if (text.content) delta.content = text.content;
      if (text.tools.size > 0) delta.tool_calls = [...text.tools].map(([i, args]) => ({ index: i, function: { arguments: args } }));
      const { choices: _, ...base } = last.data;
      out.push(likeSource(last.source, { ...base, choices: [{ index, delta, finish_reason: null }] }));
    }
    return out;
  }

  /** A legacy completion event: its text streamed (index 0), the rest masked whole. */
  private completion(ev: SseEvent, data: Record<string, unknown>): StreamOutput {
    const choice = this.choice(0);
    const text = data.completion as string;
    let emitted = pushInto(choice.text, text);
    if (data.stop_reason !== null && data.stop_reason !== undefined) emitted += this.close(0, choice, true).content;
    const rest = this.maskRest({ ...data, completion: '' });
    this.last = { source: ev, data: { ...rest.data, completion: '' }, completion: true };
    if (!rest.changed && emitted === text) return ev;
    return likeSource(ev, { ...rest.data, completion: emitted });
  }

  /** An OpenAI-compatible chunk: each choice's content and tool arguments streamed, the rest masked whole. */
  private chunk(ev: SseEvent, data: Record<string, unknown>, choices: unknown[]): StreamOutput {
    // Take out what is streamed; what remains is masked whole.
    const stripped = choices.map((c) => {
      if (!isRecord(c) || !isRecord(c.delta)) return c;
      const delta: Record<string, unknown> = { ...c.delta };
      if (typeof delta.content === 'string') delta.content = '';
      if (Array.isArray(delta.tool_calls)) {
        delta.tool_calls = delta.tool_calls.map((t) => (isRecord(t) && isRecord(t.function) && typeof t.function.arguments === 'string'
          ? { ...t, function: { ...t.function, arguments: '' } } : t));
      }
      return { ...c, delta };
    });
    const rest = this.maskRest({ ...data, choices: stripped });
    const maskedChoices = rest.data.choices as unknown[];
    let changed = rest.changed;
    const outChoices = choices.map((c, position) => {
      const masked = maskedChoices[position];
      if (!isRecord(c) || !isRecord(c.delta) || !isRecord(masked) || !isRecord(masked.delta)) return masked;
      const index = typeof c.index === 'number' ? c.index : position;
      const choice = this.choice(index);
      const delta: Record<string, unknown> = { ...masked.delta };
      if (typeof c.delta.content === 'string') {
        delta.content = pushInto(choice.text, c.delta.content);
        if (delta.content !== c.delta.content) changed = true;
      }
      const calls = Array.isArray(c.delta.tool_calls) ? c.delta.tool_calls : [];
      const maskedCalls = Array.isArray(masked.delta.tool_calls) ? masked.delta.tool_calls : [];
      const outCalls = calls.map((t, k) => {
        const m = maskedCalls[k];
        if (!isRecord(t) || !isRecord(t.function) || typeof t.function.arguments !== 'string' || !isRecord(m) || !isRecord(m.function)) return m;
        const at = typeof t.index === 'number' ? t.index : k;
        let stream = choice.tools.get(at);
        if (!stream) {
          stream = this.policy.json(at);
          if (stream) choice.tools.set(at, stream);
        }
        const args = pushInto(stream, t.function.arguments);
        if (args !== t.function.arguments) changed = true;
        return { ...m, function: { ...m.function, arguments: args } };
      });
      if (calls.length > 0) delta.tool_calls = outCalls;
      if (c.finish_reason !== null && c.finish_reason !== undefined) {
        // The choice is finished: what its streams still hold goes into this chunk.
        const held = this.close(index, choice, false);
        if (held.content) { delta.content = (typeof delta.content === 'string' ? delta.content : '') + held.content; changed = true; }
        if (held.tools.size > 0) {
          changed = true;
          const list = (delta.tool_calls as Array<Record<string, unknown>> | undefined) ?? [];
          for (const [at, args] of held.tools) {
            const k = calls.findIndex((t, i) => (isRecord(t) && typeof t.index === 'number' ? t.index : i) === at);
            const call = k >= 0 ? list[k] : undefined;
            if (call && isRecord(call.function)) list[k] = { ...call, function: { ...call.function, arguments: `${String(call.function.arguments ?? '')}${args}` } };
            else list.push({ index: at, function: { arguments: args } });
          }
          delta.tool_calls = list;
        }
      }
      return { ...masked, delta };
    });
    this.last = { source: ev, data: rest.data, completion: false };
    if (!changed) return ev;
    return likeSource(ev, { ...rest.data, choices: outChoices });
  }

  private choice(index: number): OpenChoice {
    let c = this.choices.get(index);
    if (!c) {
      c = { text: this.policy.text(), tools: new Map() };
      this.choices.set(index, c);
    }
    return c;
  }

  /** Flush a choice's streams: the text each still holds; its findings recorded with their paths. */
  private close(index: number, choice: OpenChoice, completion: boolean): { content: string; tools: Map<number, string> } {
    this.choices.delete(index);
    const path = completion ? 'completion' : `choices[${index}].delta.content`;
    const content = choice.text ? choice.text.end() : '';
    for (const f of choice.text?.findings ?? []) this.findings.push({ ...f, path });
    const tools = new Map<number, string>();
    for (const [at, stream] of choice.tools) {
      const rest = stream.end();
      if (rest) tools.set(at, rest);
      for (const f of stream.findings ?? []) this.findings.push({ ...f, path: `choices[${index}].delta.tool_calls[${at}].function.arguments${f.path ? f.path.replace(/^input/, '') : ''}` });
    }
    return { content, tools };
  }

  /** An event's data masked whole (neither shape this class streams). */
  private wholly(ev: SseEvent): StreamOutput {
    const r = this.otherMask(ev.data);
    if (r.findings.length === 0) return ev;
    for (const f of r.findings) this.findings.push(f);
    return likeSource(ev, r.masked);
  }

  /** The strings of an event that are not streamed, masked whole. */
  private maskRest(data: Record<string, unknown>): { data: Record<string, unknown>; changed: boolean } {
    const r = this.otherMask(JSON.stringify(data));
    if (r.findings.length === 0) return { data, changed: false };
    for (const f of r.findings) this.findings.push(f);
    return { data: parseJson(r.masked) as Record<string, unknown>, changed: true };
  }
}

/** Text through a stream (or as it is when the policy leaves it alone). */
function pushInto(stream: BlockStream | undefined, text: string): string {
  return stream ? stream.push(text) : text;
}

/** An event made in place of `source`, framed as it was (an OpenAI-compatible stream has no event lines). */
function likeSource(source: SseEvent, data: unknown): SseEvent {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  const named = source.raw.subarray(0, 6).toString('latin1') === 'event:';
  return { event: source.event, data: text, raw: Buffer.from(`${named ? `event: ${source.event}\n` : ''}data: ${text.split('\n').join('\ndata: ')}\n\n`, 'utf8') };
}
