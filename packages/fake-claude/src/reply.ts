// What the fake answers: a scripted Reply (text, tool calls, thinking, an error, a broken stream, a
// recorded fixture) turned into a Messages response and into the exact SSE event sequence the real
// API streams. Pure: no sockets here; the server writes what this module builds.
import { createHash } from 'node:crypto';
import { newId, type AnthropicErrorType, type ContentBlock, type MessageResponse } from '@skillgate/wire';
import type { ReceivedRequest } from './received.js';

export interface ToolCall {
  name: string;
  input: unknown;
  /** Defaults to a fresh `toolu_…` id. */
  id?: string;
}

export interface ScriptedError {
  /** Defaults to the status Anthropic uses for `type`. */
  status?: number;
  type: AnthropicErrorType | (string & {});
  /** Defaults to Anthropic's own wording for `type`. */
  message?: string;
  /** Extra response headers, e.g. `{ 'retry-after': '0' }`. */
  headers?: Record<string, string>;
  /**
   * A 429 for a spend limit rather than a rate limit: the API then sends no retry-after and no
   * exhausted rate-limit headers (there is nothing to wait for).
   */
  spendLimit?: boolean;
}

interface ReplyCommon {
  /** Answer only requests this predicate accepts (checked in script order). */
  when?: (request: ReceivedRequest) => boolean;
  /** How many requests this reply answers before it is used up (default 1; Infinity = always). */
  times?: number;
  /** Delay between streamed deltas for this reply, in ms (overrides the server's deltaDelayMs). */
  delayMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /**
   * Which requests the reply may answer: 'messages' (default: POST /v1/messages and /v1/complete)
   * or 'any' (an error reply then also answers count_tokens and other JSON endpoints).
   */
  on?: 'messages' | 'any';
}

export interface ContentReply extends ReplyCommon {
  text?: string;
  thinking?: string;
  /** Signature of the thinking block; defaults to a deterministic one derived from the thinking. */
  signature?: string;
  toolUse?: ToolCall | ToolCall[];
  stopReason?: string;
  /** Model named in the response (defaults to the request's). */
  model?: string;
}

export interface ErrorReply extends ReplyCommon { error: ScriptedError }
/** Start streaming, then send `event: error` after a few deltas (HTTP status stays 200). */
export interface ErrorMidStreamReply extends ReplyCommon { errorMidStream: ScriptedError | true; text?: string }
/**
 * Start streaming, then destroy the socket without finishing the response: between two events, or
 * with `midEvent`, halfway through the next event's `data:` line (as a connection cut at any byte).
 */
export interface DieMidStreamReply extends ReplyCommon { dieMidStream: true; midEvent?: boolean; text?: string }
/**
 * Replay a recorded stream file byte for byte. `chunks` sets the sizes of successive writes (each
 * flushed before the next; the last size repeats); default one write per event. A non-streaming
 * request gets the message the recording folds into (foldFixture); a recording that does not fold
 * (an error event, a block cut off, an unknown delta) answers it 500 api_error saying why.
 */
export interface FixtureReply extends ReplyCommon { fixture: string; chunks?: number[] }

export type Reply = ContentReply | ErrorReply | ErrorMidStreamReply | DieMidStreamReply | FixtureReply;

export function isErrorReply(r: Reply): r is ErrorReply { return 'error' in r && r.error !== undefined; }
export function isErrorMidStreamReply(r: Reply): r is ErrorMidStreamReply { return 'errorMidStream' in r && r.errorMidStream !== undefined; }
export function isDieMidStreamReply(r: Reply): r is DieMidStreamReply { return 'dieMidStream' in r && r.dieMidStream === true; }
export function isFixtureReply(r: Reply): r is FixtureReply { return 'fixture' in r && typeof r.fixture === 'string'; }

/** The text of the last user turn (or of its last tool result): what the default echo reply repeats. */
export function lastUserText(body: Record<string, unknown>): string {
  const messages = body.messages;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown };
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      for (let j = m.content.length - 1; j >= 0; j--) {
        const block = m.content[j] as { type?: unknown; text?: unknown };
        if (block?.type === 'text' && typeof block.text === 'string') return block.text;
      }
      // A turn that only returns tool results: echo the last result's text.
      for (let j = m.content.length - 1; j >= 0; j--) {
        const block = m.content[j] as { type?: unknown; content?: unknown };
        if (block?.type !== 'tool_result') continue;
        if (typeof block.content === 'string') return block.content;
        if (Array.isArray(block.content)) {
          return block.content.map((x: { type?: unknown; text?: unknown }) => (x?.type === 'text' && typeof x.text === 'string' ? x.text : '')).join('');
        }
      }
    }
    return '';
  }
  return '';
}

/** The thinking the echo reply shows when the request enabled extended thinking. */
export const ECHO_THINKING = 'The user wants their words back; I will echo them.';

/**
 * The reply used when nothing scripted matches: a deterministic echo of the last user text, after a
 * thinking block (with its signature) when the request enabled extended thinking, as the API
 * answers such a request.
 */
export function echoReply(body: Record<string, unknown>): ContentReply {
  const thinking = body.thinking as { type?: unknown } | undefined;
  const thinks = thinking !== null && typeof thinking === 'object' && (thinking.type === 'enabled' || thinking.type === 'adaptive');
  return { ...(thinks ? { thinking: ECHO_THINKING } : {}), text: `echo: ${lastUserText(body)}` };
}

/** A stable, signature-shaped string for a thinking block. */
export function thinkingSignature(thinking: string): string {
  const digest = createHash('sha256').update(thinking).digest('base64');
  return `Eq${digest}${digest}`.replace(/=/g, '');
}

/** Characters after the `msg_01` / `toolu_01` / `msgbatch_01` / `file_011` prefix in a real id (msg_019Q1hrJbZG26Fb9BQhrkHEr). */
export const ID_LENGTH = 22;

/** A fresh id shaped like the real API's: the prefix, then 22 base62 characters. */
export function fakeId(prefix: string): string {
  return newId(prefix, ID_LENGTH);
}

/** What the request asks of generation: where the generated text must stop. */
export interface GenerationLimits {
  /** The request's `max_tokens`: the text is cut at this many output tokens (by the fake's 4-characters estimate). */
  maxTokens?: number;
  /** The request's `stop_sequences`: the text ends before the first one that occurs. */
  stopSequences?: readonly string[];
}

/** The limits a Messages request body sets (ignoring malformed values; validation has run). */
export function generationLimits(body: Record<string, unknown>): GenerationLimits {
  const limits: GenerationLimits = {};
  if (typeof body.max_tokens === 'number' && Number.isFinite(body.max_tokens) && body.max_tokens >= 0) limits.maxTokens = Math.floor(body.max_tokens);
  if (Array.isArray(body.stop_sequences)) limits.stopSequences = body.stop_sequences.filter((x): x is string => typeof x === 'string' && x.length > 0);
  return limits;
}

/**
 * Build the complete Messages response for a content reply. With `limits`, the generated text is
 * cut as the real API cuts it: before the first stop sequence (stop_reason `stop_sequence`, and
 * `stop_sequence` names it) or at `max_tokens` output tokens (stop_reason `max_tokens`); a cut text
 * ends the turn, so tool calls scripted after it are not made.
 */
export function buildMessage(reply: ContentReply, model: string, inputTokens: number, limits: GenerationLimits = {}): MessageResponse {
  const content: ContentBlock[] = [];
  if (reply.thinking !== undefined) {
    content.push({ type: 'thinking', thinking: reply.thinking, signature: reply.signature ?? thinkingSignature(reply.thinking) });
  }
  let calls = reply.toolUse === undefined ? [] : Array.isArray(reply.toolUse) ? reply.toolUse : [reply.toolUse];
  let stopReason = reply.stopReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn');
  let stopSequence: string | null = null;
  if (reply.text !== undefined) {
    let text = reply.text;
    // Characters the text may use: max_tokens at four characters a token, less any thinking before it.
    const budget = limits.maxTokens === undefined ? Infinity : Math.max(0, limits.maxTokens * 4 - (reply.thinking?.length ?? 0));
    let stopAt = -1;
    for (const seq of limits.stopSequences ?? []) {
      const at = text.indexOf(seq);
      if (at !== -1 && (stopAt === -1 || at < stopAt) && at + seq.length <= budget) {
        stopAt = at;
        stopSequence = seq;
      }
    }
    if (stopSequence !== null) {
      text = text.slice(0, stopAt);
      stopReason = 'stop_sequence';
      calls = [];
    } else if (text.length > budget) {
      text = text.slice(0, budget);
      stopReason = 'max_tokens';
      calls = [];
    }
    content.push({ type: 'text', text });
  }
  for (const call of calls) content.push({ type: 'tool_use', id: call.id ?? fakeId('toolu_01'), name: call.name, input: call.input ?? {} });
  if (content.length === 0) content.push({ type: 'text', text: '' });
  let outputChars = 0;
  for (const block of content) outputChars += blockText(block).length;
  let outputTokens = Math.max(1, Math.ceil(outputChars / 4));
  if (stopReason === 'max_tokens' && limits.maxTokens !== undefined) outputTokens = Math.max(1, limits.maxTokens);
  return {
    id: fakeId('msg_01'),
    type: 'message',
    role: 'assistant',
    model: reply.model ?? model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage: {
      input_tokens: inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: outputTokens,
      service_tier: 'standard',
    },
  };
}

function blockText(block: ContentBlock): string {
  switch (block.type) {
    case 'text': return String(block.text);
    case 'thinking': return String(block.thinking);
    case 'tool_use': return JSON.stringify(block.input);
    default: return '';
  }
}

/** One SSE event: its name (= data.type) and its JSON data. */
export interface StreamEvent { event: string; data: Record<string, unknown> }

/** An event's data line as the API writes it: compact JSON, but its ping padded (`{"type": "ping"}`, as recorded). */
export function eventData(e: StreamEvent): string {
  return e.event === 'ping' && e.data.type === 'ping' && Object.keys(e.data).length === 1 ? '{"type": "ping"}' : JSON.stringify(e.data);
}

/**
 * The SSE events the real API sends for a message, in its order: message_start, per block
 * content_block_start / *_delta… / content_block_stop (a ping after the first block starts),
 * message_delta with cumulative usage, message_stop.
 */
export function streamEvents(message: MessageResponse): StreamEvent[] {
  const events: StreamEvent[] = [];
  const usage = message.usage;
  events.push({
    event: 'message_start',
    data: {
      type: 'message_start',
      // Newer recordings carry `stop_details` (null until the end) right after stop_sequence.
      message: {
        id: message.id, type: message.type, role: message.role, model: message.model, content: [],
        stop_reason: null, stop_sequence: null, stop_details: null, usage: { ...usage, output_tokens: 1 },
        ...rest(message, ['id', 'type', 'role', 'model', 'content', 'stop_reason', 'stop_sequence', 'usage']),
      },
    },
  });
  message.content.forEach((block, index) => {
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: emptyBlock(block) } });
    if (index === 0) events.push({ event: 'ping', data: { type: 'ping' } });
    for (const delta of blockDeltas(block)) events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence, stop_details: null },
      usage: {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        output_tokens: usage.output_tokens,
      },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/** The fields of `o` other than `keys` (e.g. a message's `container`), in their order. */
function rest(o: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function emptyBlock(block: ContentBlock): Record<string, unknown> {
  switch (block.type) {
    case 'text': return { type: 'text', text: '' };
    case 'thinking': return { type: 'thinking', thinking: '', signature: '' };
    // As recorded (tool_use_response.txt): the caller sits between name and input.
    case 'tool_use': return { type: 'tool_use', id: block.id, name: block.name, caller: { type: 'direct' }, input: {} };
    default: return block;
  }
}

function blockDeltas(block: ContentBlock): Array<Record<string, unknown>> {
  switch (block.type) {
    case 'text':
      return splitText(String(block.text)).map((text) => ({ type: 'text_delta', text }));
    case 'thinking':
      return [
        ...splitText(String(block.thinking)).map((thinking) => ({ type: 'thinking_delta', thinking })),
        { type: 'signature_delta', signature: block.signature },
      ];
    case 'tool_use': {
      // The real API opens with an empty partial_json, then sends the input in pieces.
      const json = JSON.stringify(block.input);
      const parts: Array<Record<string, unknown>> = [{ type: 'input_json_delta', partial_json: '' }];
      for (let i = 0; i < json.length; i += 12) parts.push({ type: 'input_json_delta', partial_json: json.slice(i, i + 12) });
      return parts;
    }
    default:
      return [];
  }
}

/** Split text into delta-sized pieces (a few words each), keeping every character. */
export function splitText(text: string): string[] {
  if (text.length === 0) return [];
  const pieces: string[] = [];
  const words = text.match(/\s*\S+\s*|\s+/g) ?? [text];
  let current = '';
  for (const word of words) {
    if (current.length > 0 && current.length + word.length > 24) {
      pieces.push(current);
      current = '';
    }
    current += word;
  }
  if (current.length > 0) pieces.push(current);
  return pieces;
}

/** The `event: error` a stream carries when the API fails after the 200 was sent. */
export function streamErrorEvent(type: string, message: string): StreamEvent {
  return { event: 'error', data: { type: 'error', error: { details: null, type, message } } };
}

export function formatEvents(events: readonly StreamEvent[]): string {
  let out = '';
  for (const e of events) out += `event: ${e.event}\ndata: ${eventData(e)}\n\n`;
  return out;
}

/**
 * Fold a recorded stream into the Messages response a non-streaming request gets: message_start's
 * message, each block's start plus its text/thinking/signature/input_json deltas, message_delta's
 * stop fields and usage. Returns a string (why not) when the recording is not that simple: an
 * `error` event, an unknown delta, a block never stopped, or no message_stop.
 */
export function foldFixture(bytes: Buffer | string): Record<string, unknown> | string {
  let message: Record<string, unknown> | undefined;
  const blocks: Array<Record<string, unknown>> = [];
  const partialJson = new Map<number, string>();
  const open = new Set<number>();
  let stopped = false;
  for (const raw of bytes.toString('utf8').split(/\r?\n\r?\n/)) {
    const dataLines = raw.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
    if (dataLines.length === 0) continue;
    let data: Record<string, unknown>;
    try { data = JSON.parse(dataLines.join('\n')) as Record<string, unknown>; } catch { return 'an event whose data is not JSON'; }
    const index = typeof data.index === 'number' ? data.index : -1;
    switch (data.type) {
      case 'message_start':
        message = { ...(data.message as Record<string, unknown>) };
        break;
      case 'ping':
        break;
      case 'content_block_start':
        blocks[index] = { ...(data.content_block as Record<string, unknown>) };
        open.add(index);
        break;
      case 'content_block_delta': {
        const block = blocks[index];
        const delta = data.delta as Record<string, unknown>;
        if (!block) return `a delta for block ${index} that never started`;
        if (delta.type === 'text_delta') block.text = String(block.text ?? '') + String(delta.text);
        else if (delta.type === 'thinking_delta') block.thinking = String(block.thinking ?? '') + String(delta.thinking);
        else if (delta.type === 'signature_delta') block.signature = String(block.signature ?? '') + String(delta.signature);
        else if (delta.type === 'compaction_delta') Object.assign(block, { content: delta.content, encrypted_content: delta.encrypted_content });
        else if (delta.type === 'input_json_delta') partialJson.set(index, (partialJson.get(index) ?? '') + String(delta.partial_json));
        else return `a ${String(delta.type)} it cannot fold`;
        break;
      }
      case 'content_block_stop': {
        const json = partialJson.get(index);
        if (json !== undefined && json !== '') {
          try { blocks[index]!.input = JSON.parse(json); } catch { return `block ${index}'s input is not complete JSON`; }
        }
        open.delete(index);
        break;
      }
      case 'message_delta': {
        if (!message) return 'a message_delta before message_start';
        Object.assign(message, data.delta as Record<string, unknown>);
        message.usage = { ...(message.usage as Record<string, unknown>), ...(data.usage as Record<string, unknown>) };
        break;
      }
      case 'message_stop':
        stopped = true;
        break;
      default:
        return `a ${String(data.type)} event`;
    }
  }
  if (!message) return 'no message_start';
  if (open.size > 0) return `block ${[...open][0]} is never stopped`;
  if (!stopped) return 'no message_stop';
  return { ...message, content: blocks.filter((b) => b !== undefined) };
}
