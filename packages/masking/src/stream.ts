// SSE streams: rewrites a Claude Messages event stream block by block (mask, or restore in
// tokenize mode) while keeping it a live stream. Events it does not change go out as they came (the
// same SseEvent, original bytes); changed deltas are re-serialised; held text is flushed at
// content_block_stop, message_stop and error. A citation (citations_delta) arrives whole: its
// cited_text is rewritten whole. A block that arrives whole in its content_block_start (an MCP tool
// result; a server tool result, which only the record's copy masks) goes through the same block
// walk as a non-streaming answer (messages.ts). If anything goes wrong inside a block, that block's
// text is dropped, never emitted raw.
import { formatSse, isRecord, parseJson, type SseEvent } from '@skillgate/wire';
import type { Finding } from './entities.js';
import { maskResponseBody } from './messages.js';

/** One block's text transformer (TextStream, JsonTextStream or RestoreStream). */
export interface BlockStream {
  push(delta: string): string;
  end(): string;
  readonly findings?: Finding[];
}

/** What to do with each kind of block: return undefined to pass its deltas through. */
export interface BlockPolicy {
  text(): BlockStream | undefined;
  thinking(): BlockStream | undefined;
  json(index: number): BlockStream | undefined;
}

/**
 * Something to forward: the original event (unchanged, its exact bytes in `.raw`) or one synthesised
 * in its place. Write `.raw`; `event` and `data` are what those bytes say (the record keeps them).
 */
export type StreamOutput = SseEvent;

/** The delta type that carries a masked block's text, and the member of the delta that holds it. */
export type DeltaKind = 'text_delta' | 'thinking_delta' | 'input_json_delta';
export const DELTA_FIELD: Record<DeltaKind, 'text' | 'thinking' | 'partial_json'> = { text_delta: 'text', thinking_delta: 'thinking', input_json_delta: 'partial_json' };

/**
 * The stream `policy` gives the block that `content_block` starts, with the delta kind carrying its
 * text and the text the block starts with; undefined when the policy leaves the block alone.
 */
export function blockStreamFor(policy: BlockPolicy, cb: Record<string, unknown>, index: number): { stream: BlockStream; kind: DeltaKind; initial: string } | undefined {
  let stream: BlockStream | undefined;
  let kind: DeltaKind;
  if (cb.type === 'text') { stream = policy.text(); kind = 'text_delta'; }
  else if (cb.type === 'thinking') { stream = policy.thinking(); kind = 'thinking_delta'; }
  else if (cb.type === 'tool_use' || cb.type === 'server_tool_use' || cb.type === 'mcp_tool_use') { stream = policy.json(index); kind = 'input_json_delta'; }
  else return undefined;
  if (!stream) return undefined;
  // Text and thinking blocks may start with text already in them; a tool's input starts as {}.
  const field = kind === 'input_json_delta' ? undefined : DELTA_FIELD[kind];
  const initial = field && typeof cb[field] === 'string' ? cb[field] : '';
  return { stream, kind, initial };
}

/** Block types whose text arrives in deltas (blockStreamFor); every other block arrives whole. */
const DELTA_BLOCKS = new Set(['text', 'thinking', 'tool_use', 'server_tool_use', 'mcp_tool_use']);

/** A text rewritten whole by the policy's text stream (what streaming it in any pieces gives). */
export function rewriteWhole(policy: BlockPolicy, text: string): { text: string; findings: readonly Finding[] } {
  const stream = policy.text();
  if (!stream) return { text, findings: [] };
  const out = stream.push(text) + stream.end();
  return { text: out, findings: stream.findings ?? [] };
}

/**
 * A citation (of a citations_delta, or in a text block's start) rewritten as the block walk of a
 * non-streaming answer rewrites it (its cited_text; `forRecord`: its other text too): itself when
 * nothing changed. Findings are pushed under `path`.
 */
export function rewriteCitation(policy: BlockPolicy, citation: unknown, path: string, findings: Finding[], forRecord = false): unknown {
  if (!isRecord(citation)) return citation;
  const r = walkWhole(policy, { type: 'text', text: '', citations: [citation] }, forRecord);
  const out = (r.block as { citations: unknown[] }).citations[0];
  for (const f of r.findings) findings.push({ ...f, path: (f.path ?? '').replace(/^content\[0\]\.citations\[0\]/, path) });
  return r.findings.length === 0 && JSON.stringify(out) === JSON.stringify(citation) ? citation : out;
}

/** One block through the walk a non-streaming answer gets (messages.ts), its text rewritten whole by the policy. */
function walkWhole(policy: BlockPolicy, block: Record<string, unknown>, forRecord: boolean): { block: unknown; findings: Finding[] } {
  const r = maskResponseBody({ content: [block] }, (t) => {
    const w = rewriteWhole(policy, t);
    return { masked: w.text, findings: [...w.findings] };
  }, { thinking: false, forRecord });
  return { block: (r.body as { content: unknown[] }).content[0], findings: r.findings };
}

/**
 * A block that arrived whole in its content_block_start, rewritten by the walk a non-streaming
 * answer gets (maskResponseBody; `forRecord`: server tool results too), findings under
 * `content[index]`; undefined for a block whose text comes in deltas, or when nothing changed.
 */
export function rewriteWholeBlock(policy: BlockPolicy, block: Record<string, unknown>, index: number, forRecord: boolean): { block: unknown; findings: Finding[] } | undefined {
  if (typeof block.type === 'string' && DELTA_BLOCKS.has(block.type)) return undefined;
  const r = walkWhole(policy, block, forRecord);
  if (r.findings.length === 0 && JSON.stringify(r.block) === JSON.stringify(block)) return undefined;
  return { block: r.block, findings: r.findings.map((f) => ({ ...f, path: (f.path ?? 'content[0]').replace(/^content\[0\]/, `content[${index}]`) })) };
}

interface Block { stream: BlockStream; kind: DeltaKind; failed: boolean; index: number; citations: number }

export { isRecord };

export interface RewriterOptions {
  /** The record's copy: blocks that arrive whole are walked as the record walks them (server tool results too). */
  forRecord?: boolean;
}

export class SseRewriter {
  private readonly blocks = new Map<number, Block>();
  readonly findings: Finding[] = [];
  private readonly forRecord: boolean;

  constructor(private readonly policy: BlockPolicy, opts: RewriterOptions = {}) {
    this.forRecord = opts.forRecord === true;
  }

  /** Blocks started and not yet stopped (held text may be waiting in them). */
  get openBlocks(): number {
    return this.blocks.size;
  }

  push(ev: SseEvent): StreamOutput[] {
    try {
      return this.handle(ev);
    } catch {
      // Unknown failure: drop the event if it could carry text, pass the rest.
      return ev.event === 'content_block_delta' || ev.event === 'content_block_start' ? [] : [ev];
    }
  }

  /** The upstream ended (possibly without message_stop): flush every open block. */
  end(): StreamOutput[] {
    const out: StreamOutput[] = [];
    for (const b of [...this.blocks.values()]) this.flush(b, out);
    return out;
  }

  private handle(ev: SseEvent): StreamOutput[] {
    switch (ev.event) {
      case 'content_block_start': return this.onStart(ev);
      case 'content_block_delta': return this.onDelta(ev);
      case 'content_block_stop': {
        const data = parse(ev);
        const index = data && typeof data.index === 'number' ? data.index : undefined;
        const out: StreamOutput[] = [];
        const b = index !== undefined ? this.blocks.get(index) : undefined;
        if (b) this.flush(b, out);
        out.push(ev);
        return out;
      }
      case 'message_stop': case 'error': {
        const out = this.end();
        out.push(ev);
        return out;
      }
      default:
        return [ev];
    }
  }

  private onStart(ev: SseEvent): StreamOutput[] {
    const data = parse(ev);
    if (!data || typeof data.index !== 'number' || !isRecord(data.content_block)) return [ev];
    const cb = data.content_block;
    const index = data.index;
    const found = blockStreamFor(this.policy, cb, index);
    if (!found) {
      // A block that arrives whole: walked as a non-streaming answer's block (an error drops it).
      const whole = rewriteWholeBlock(this.policy, cb, index, this.forRecord);
      if (!whole) return [ev];
      for (const f of whole.findings) this.findings.push(f);
      return [sseEvent('content_block_start', { ...data, content_block: whole.block })];
    }
    const { stream, kind, initial } = found;
    const block: Block = { stream, kind, failed: false, index, citations: 0 };
    this.blocks.set(index, block);
    // Citations a text block starts with (they usually come later, in citations_delta events).
    let start: Record<string, unknown> = cb;
    if (Array.isArray(cb.citations) && cb.citations.length > 0) {
      const citations = cb.citations.map((c) => rewriteCitation(this.policy, c, `content[${index}].citations[${block.citations++}]`, this.findings, this.forRecord));
      if (citations.some((c, i) => c !== (cb.citations as unknown[])[i])) start = { ...cb, citations };
    }
    // A block that starts with text already in it: run that text through the block stream too.
    if (initial !== '') {
      let emitted: string;
      try { emitted = block.stream.push(initial); } catch { block.failed = true; emitted = ''; }
      if (start === cb && emitted === initial && !('held' in block.stream && (block.stream as { held: number }).held > 0)) return [ev];
      return [sseEvent('content_block_start', { ...data, content_block: { ...start, [DELTA_FIELD[kind]]: emitted } })];
    }
    return start === cb ? [ev] : [sseEvent('content_block_start', { ...data, content_block: start })];
  }

  private onDelta(ev: SseEvent): StreamOutput[] {
    const data = parse(ev);
    if (!data) {
      // A delta we cannot read might carry text: never forward it unread.
      return [];
    }
    const index = typeof data.index === 'number' ? data.index : -1;
    const b = this.blocks.get(index);
    const delta = isRecord(data.delta) ? data.delta : undefined;
    if (b && delta && delta.type === 'citations_delta' && b.kind === 'text_delta') {
      // A citation arrives whole: its cited_text (a document's words) rewritten whole.
      const citation = rewriteCitation(this.policy, delta.citation, `content[${index}].citations[${b.citations++}]`, this.findings, this.forRecord);
      return citation === delta.citation ? [ev] : [sseEvent('content_block_delta', { ...data, delta: { ...delta, citation } })];
    }
    if (!b || !delta || delta.type !== b.kind) return [ev];
    const field = DELTA_FIELD[b.kind];
    const input = delta[field];
    if (typeof input !== 'string') return [];
    if (b.failed) return [];
    const heldBefore = heldOf(b.stream);
    let emitted: string;
    try {
      emitted = b.stream.push(input);
    } catch {
      b.failed = true;
      return [];
    }
    if (emitted === input && heldBefore === 0 && heldOf(b.stream) === 0) return [ev];
    if (emitted === '') return [];
    return [sseEvent('content_block_delta', { ...data, delta: { ...delta, [field]: emitted } })];
  }

  private flush(b: Block, out: StreamOutput[]): void {
    this.blocks.delete(b.index);
    if (b.failed) return;
    let rest: string;
    try { rest = b.stream.end(); } catch { return; }
    if (b.stream.findings) for (const f of b.stream.findings) this.findings.push({ ...f, path: f.path ? `content[${b.index}].${f.path}` : `content[${b.index}]` });
    if (rest === '') return;
    out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: b.index, delta: { type: b.kind, [DELTA_FIELD[b.kind]]: rest } }));
  }
}

function heldOf(s: BlockStream): number {
  const h = (s as { held?: unknown }).held;
  return typeof h === 'number' ? h : 0;
}

function parse(ev: SseEvent): Record<string, unknown> | undefined {
  if (ev.data === '') return undefined;
  try {
    const v: unknown = parseJson(ev.data);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** An SSE event made here: its name, its data as JSON, and the bytes that frame them. */
export function sseEvent(name: string, data: unknown): SseEvent {
  const text = formatSse(name, data);
  return { event: name, data: JSON.stringify(data), raw: Buffer.from(text, 'utf8') };
}
