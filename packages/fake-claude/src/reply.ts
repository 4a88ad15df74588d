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
 * flushed before the next; the last size repeats); default one write per event.
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

/** The reply used when nothing scripted matches: a deterministic echo of the last user text. */
export function echoReply(body: Record<string, unknown>): ContentReply {
  return { text: `echo: ${lastUserText(body)}` };
}

/** A stable, signature-shaped string for a thinking block. */
export function thinkingSignature(thinking: string): string {
  const digest = createHash('sha256').update(thinking).digest('base64');
  return `Eq${digest}${digest}`.replace(/=/g, '');
}

/** Build the complete Messages response for a content reply. */
export function buildMessage(reply: ContentReply, model: string, inputTokens: number): MessageResponse {
  const content: ContentBlock[] = [];
  if (reply.thinking !== undefined) {
    content.push({ type: 'thinking', thinking: reply.thinking, signature: reply.signature ?? thinkingSignature(reply.thinking) });
  }
  if (reply.text !== undefined) content.push({ type: 'text', text: reply.text });
  const calls = reply.toolUse === undefined ? [] : Array.isArray(reply.toolUse) ? reply.toolUse : [reply.toolUse];
  for (const call of calls) content.push({ type: 'tool_use', id: call.id ?? newId('toolu_01'), name: call.name, input: call.input ?? {} });
  if (content.length === 0) content.push({ type: 'text', text: '' });
  let outputChars = 0;
  for (const block of content) outputChars += blockText(block).length;
  return {
    id: newId('msg_01'),
    type: 'message',
    role: 'assistant',
    model: reply.model ?? model,
    content,
    stop_reason: reply.stopReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: Math.max(1, Math.ceil(outputChars / 4)),
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
      message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
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
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
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

function emptyBlock(block: ContentBlock): Record<string, unknown> {
  switch (block.type) {
    case 'text': return { type: 'text', text: '' };
    case 'thinking': return { type: 'thinking', thinking: '', signature: '' };
    case 'tool_use': return { type: 'tool_use', id: block.id, name: block.name, input: {} };
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
