// The conversation a session holds, as replayable steps: the newest user turn (text and tool
// results) of each request, the assistant's answer (text deltas at their recorded times, tool
// calls with their input), and what the gateway did (decisions, approvals, refusals, stream ends).
// Exchange by exchange, in the order their first events were recorded: the chain can hold an
// exchange's events after the next exchange's request (concurrent requests; an answer's events are
// built while the next request's event travels to the store), and a replay reads each one whole.
// Pure over events; the CLI decides how fast to play it. Reads masked payloads only.
import type { EventOf, SessionEvent } from './event.js';

export type ReplayStep =
  | { at: number; kind: 'user'; requestId?: string; text: string }
  | { at: number; kind: 'tool_result'; requestId?: string; toolUseId: string; text: string; isError?: boolean }
  | { at: number; kind: 'assistant_text'; requestId?: string; text: string }
  | { at: number; kind: 'tool_use'; requestId?: string; id: string; name: string; input: unknown }
  | { at: number; kind: 'gateway'; requestId?: string; text: string };

type Block = { type?: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b: Block) => (b?.type === 'text' ? b.text ?? '' : b?.type ? `[${b.type}]` : '')).join('');
  return '';
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try { return JSON.parse(text) as unknown; } catch { return undefined; }
}

/** The steps of a session, `at` in ms since its first event. */
export function conversationOf(events: readonly SessionEvent[]): ReplayStep[] {
  const steps: ReplayStep[] = [];
  if (events.length === 0) return steps;
  const t0 = Date.parse(events[0]!.ts);
  const rel = (ts: string) => Date.parse(ts) - t0;
  const responseAt = new Map<string, number>(); // requestId -> ms of response head
  const tools = new Map<string, { index: number; id: string; name: string; json: string }>();
  // Where each step goes: its exchange's first event, or (a step of no exchange) its own event.
  const firstOf = new Map<string, number>();
  const places: number[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const rid = e.requestId;
    if (rid !== undefined && !firstOf.has(rid)) firstOf.set(rid, i);
    switch (e.kind) {
      case 'request': {
        const body = parseJson(e.data.body) as { messages?: Array<{ role: string; content: unknown }> } | undefined;
        const messages = body?.messages ?? [];
        // The newest turn: messages after the last assistant message.
        let i = messages.length;
        while (i > 0 && messages[i - 1]!.role !== 'assistant') i--;
        for (const m of messages.slice(i)) {
          if (typeof m.content === 'string') { steps.push({ at: rel(e.ts), kind: 'user', requestId: rid, text: m.content }); continue; }
          for (const b of (Array.isArray(m.content) ? m.content : []) as Block[]) {
            if (b.type === 'tool_result') {
              const step: ReplayStep = { at: rel(e.ts), kind: 'tool_result', requestId: rid, toolUseId: b.tool_use_id ?? '', text: textOf(b.content) };
              if (b.is_error) step.isError = true;
              steps.push(step);
            } else if (b.type === 'text') {
              steps.push({ at: rel(e.ts), kind: 'user', requestId: rid, text: b.text ?? '' });
            }
          }
        }
        if (e.data.body === undefined) steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `request ${e.data.method} ${e.data.path} recorded by digest only (${e.data.bodyBytes} bytes)` });
        break;
      }
      case 'response': {
        responseAt.set(rid ?? '', rel(e.ts));
        if (!e.data.stream) {
          const body = parseJson(e.data.body) as { content?: Block[] } | undefined;
          for (const b of body?.content ?? []) {
            if (b.type === 'text') steps.push({ at: rel(e.ts), kind: 'assistant_text', requestId: rid, text: b.text ?? '' });
            else if (b.type === 'tool_use' || b.type === 'server_tool_use') steps.push({ at: rel(e.ts), kind: 'tool_use', requestId: rid, id: b.id ?? '', name: b.name ?? '', input: b.input });
          }
          if (e.data.status >= 400) steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `upstream answered ${e.data.status}` });
        }
        break;
      }
      case 'stream_event':
        streamSteps(e, responseAt.get(rid ?? '') ?? rel(e.ts), tools, steps);
        break;
      case 'decision':
        if (e.data.action !== 'allow') steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `policy: ${e.data.action}${e.data.reason ? ` (${e.data.reason})` : ''}` });
        break;
      case 'approval':
        steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `approval ${e.data.approval}: ${e.data.state}${e.data.by ? ` by ${e.data.by}` : ''}` });
        break;
      case 'refusal':
        steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `refused ${e.data.status} ${e.data.code}: ${e.data.message}` });
        break;
      case 'stream_end':
        if (e.data.outcome !== 'complete') steps.push({ at: rel(e.ts), kind: 'gateway', requestId: rid, text: `stream ended: ${e.data.outcome}${e.data.reason ? ` (${e.data.reason})` : ''}` });
        break;
      case 'egress':
        steps.push({ at: rel(e.ts), kind: 'gateway', text: `egress ${e.data.method} ${e.data.destination}: ${e.data.allowed ? 'allowed' : 'denied'}` });
        break;
      case 'lock':
      case 'revocation':
        steps.push({ at: rel(e.ts), kind: 'gateway', text: `${e.kind}: ${e.kind === 'lock' ? e.data.target : e.data.token ?? ''}${e.data.reason ? ` (${e.data.reason})` : ''}` });
        break;
      default:
        break;
    }
    const place = rid === undefined ? i : firstOf.get(rid)!;
    while (places.length < steps.length) places.push(place);
  }
  // A stable sort by place: in chain order within an exchange.
  const order = steps.map((_, k) => k).sort((a, b) => places[a]! - places[b]! || a - b);
  return order.map((k) => steps[k]!);
}

function streamSteps(
  e: EventOf<'stream_event'>,
  base: number,
  tools: Map<string, { index: number; id: string; name: string; json: string }>,
  steps: ReplayStep[],
): void {
  const rid = e.requestId;
  for (const item of e.data.events) {
    const d = parseJson(item.data) as { type?: string; index?: number; delta?: { type?: string; text?: string; partial_json?: string }; content_block?: Block } | undefined;
    if (!d) continue;
    const key = `${rid}:${d.index}`;
    if (d.type === 'content_block_start' && (d.content_block?.type === 'tool_use' || d.content_block?.type === 'server_tool_use')) {
      tools.set(key, { index: d.index ?? 0, id: d.content_block.id ?? '', name: d.content_block.name ?? '', json: '' });
    } else if (d.type === 'content_block_delta' && d.delta?.type === 'text_delta') {
      steps.push({ at: base + item.t, kind: 'assistant_text', requestId: rid, text: d.delta.text ?? '' });
    } else if (d.type === 'content_block_delta' && d.delta?.type === 'input_json_delta') {
      const tool = tools.get(key);
      if (tool) tool.json += d.delta.partial_json ?? '';
    } else if (d.type === 'content_block_stop') {
      const tool = tools.get(key);
      if (tool) {
        tools.delete(key);
        steps.push({ at: base + item.t, kind: 'tool_use', requestId: rid, id: tool.id, name: tool.name, input: tool.json === '' ? {} : parseJson(tool.json) ?? tool.json });
      }
    } else if (item.event === 'error') {
      steps.push({ at: base + item.t, kind: 'gateway', requestId: rid, text: `stream error: ${item.data}` });
    }
  }
}
