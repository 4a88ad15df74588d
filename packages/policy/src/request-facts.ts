// What a policy looks at in a Messages request, extracted once per request: custom tool names,
// server tool families, web_fetch/web_search domain restrictions, MCP server URLs, container skills,
// and the newest user turn or tool result (the END of the conversation, where new content is —
// never a prefix of the body). Pure; reads the parsed body, never mutates it.
import { isRecord, jsonNumberValue, serverToolFamily, type MessagesRequest, type RouteKind } from '@skillgate/wire';

export interface FetchTool {
  family: string;              // web_fetch, web_search
  /** allowed_domains as the request set them; undefined = unrestricted. */
  allowedDomains?: string[];
}

export interface RequestFacts {
  model?: string;
  maxTokens?: number;
  stream: boolean;
  customTools: string[];
  serverTools: string[];       // families, e.g. web_search, code_execution
  fetchTools: FetchTool[];
  mcpServerUrls: string[];
  containerSkills: string[];
  /** Text of the newest user turn (text blocks and tool_result contents), in order. */
  newestTurn: string;
}

const FETCH_FAMILIES = new Set(['web_fetch', 'web_search']);

export function requestFacts(req: MessagesRequest | undefined): RequestFacts {
  const facts: RequestFacts = {
    stream: req?.stream === true,
    customTools: [], serverTools: [], fetchTools: [], mcpServerUrls: [], containerSkills: [], newestTurn: '',
  };
  if (!req) return facts;
  if (typeof req.model === 'string') facts.model = req.model;
  // A cap of more than 15 digits is kept as its text (parseJson): read as the double nearest it.
  const maxTokens = jsonNumberValue(req.max_tokens) ?? jsonNumberValue(req.max_tokens_to_sample); // the latter: legacy Text Completions
  if (maxTokens !== undefined) facts.maxTokens = maxTokens;
  if (Array.isArray(req.tools)) {
    for (const tool of req.tools) {
      if (!isRecord(tool)) continue;
      const family = serverToolFamily(tool as { name: string; type?: string });
      if (family) {
        facts.serverTools.push(family);
        if (FETCH_FAMILIES.has(family)) {
          const allowed = (tool as Record<string, unknown>).allowed_domains;
          facts.fetchTools.push(Array.isArray(allowed) ? { family, allowedDomains: allowed.filter((d): d is string => typeof d === 'string') } : { family });
        }
      } else if (typeof tool.name === 'string') {
        facts.customTools.push(tool.name);
      }
    }
  }
  if (Array.isArray(req.mcp_servers)) {
    for (const s of req.mcp_servers) if (isRecord(s) && typeof s.url === 'string') facts.mcpServerUrls.push(s.url);
  }
  const container = req.container;
  if (isRecord(container) && Array.isArray(container.skills)) {
    for (const s of container.skills) if (isRecord(s) && typeof s.skill_id === 'string') facts.containerSkills.push(s.skill_id);
  }
  facts.newestTurn = newestTurnText(req);
  return facts;
}

/**
 * The newest user message's text: text blocks, tool results (MCP's too), plain-text and
 * content-block documents with their title and context, and search results with theirs — every
 * text Claude reads in it, as masking sees them. For a legacy Text Completions request, the prompt
 * after its last "Human:" turn.
 */
export function newestTurnText(req: MessagesRequest): string {
  if (!Array.isArray(req.messages) && typeof req.prompt === 'string') {
    const at = req.prompt.lastIndexOf('\n\nHuman:');
    const turn = at === -1 ? req.prompt : req.prompt.slice(at + '\n\nHuman:'.length);
    const end = turn.indexOf('\n\nAssistant:');
    return (end === -1 ? turn : turn.slice(0, end)).trim();
  }
  const messages: unknown[] = Array.isArray(req.messages) ? req.messages : [];
  // The newest turn is everything after Claude's last answer: consecutive user messages (the API
  // reads them as one turn) and, when the request ends with one, the assistant prefill the skill wrote.
  const parts: string[] = [];
  let i = messages.length - 1;
  const at = (k: number): Record<string, unknown> | undefined => { const m = messages[k]; return isRecord(m) ? m : undefined; };
  if (i >= 0 && at(i)?.role === 'assistant') parts.unshift(contentText(at(i--)!.content));
  while (i >= 0 && at(i)?.role === 'user') parts.unshift(contentText(at(i--)!.content));
  return parts.filter((p) => p !== '').join('\n');
}

/** The facts of a request on `route`: the OpenAI-compatible endpoint's read as its own shape, others as Messages. */
export function requestFactsOn(route: RouteKind, req: unknown): RequestFacts {
  return route === 'openai_chat' ? openAiChatFacts(req) : requestFacts(req as MessagesRequest | undefined);
}

/**
 * The facts of an OpenAI-compatible chat completion (POST /v1/chat/completions, which the Claude
 * API also serves): its model, token cap (max_completion_tokens, or the older max_tokens), function
 * tools by name, and its newest turn — so that the same policy governs it as a Messages request.
 */
export function openAiChatFacts(body: unknown): RequestFacts {
  if (!isRecord(body)) return requestFacts(undefined);
  const cap = jsonNumberValue(body.max_completion_tokens) ?? jsonNumberValue(body.max_tokens);
  const tools = Array.isArray(body.tools) ? body.tools.map((t) => (isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string' ? { name: t.function.name } : t)) : undefined;
  const messages = Array.isArray(body.messages)
    ? body.messages.filter(isRecord).filter((m) => m.role !== 'system' && m.role !== 'developer').map((m) => ({
      role: m.role === 'assistant' ? 'assistant' : 'user',
      content: typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.filter(isRecord).filter((p) => p.type === 'text') : '',
    }))
    : undefined;
  return requestFacts({
    ...(typeof body.model === 'string' ? { model: body.model } : {}),
    ...(typeof cap === 'number' ? { max_tokens: cap } : {}),
    stream: body.stream === true,
    ...(tools ? { tools } : {}),
    ...(messages ? { messages } : {}),
  } as MessagesRequest);
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const b of content) {
    if (!isRecord(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') parts.push(b.text);
    else if (b.type === 'tool_result' || b.type === 'mcp_tool_result') parts.push(contentText(b.content));
    else if (b.type === 'search_result') {
      for (const s of [b.title, b.source]) if (typeof s === 'string') parts.push(s);
      parts.push(contentText(b.content));
    } else if (b.type === 'document') {
      const src = b.source;
      if (typeof b.title === 'string') parts.push(b.title);
      if (isRecord(src) && src.type === 'text' && typeof src.data === 'string') parts.push(src.data);
      else if (isRecord(src) && src.type === 'content') parts.push(contentText(src.content));
      if (typeof b.context === 'string') parts.push(b.context);
    }
  }
  return parts.join('\n');
}

/**
 * Input tokens, estimated without a tokenizer: one token per 4 bytes of the request body. Cheap and
 * deterministic, close to Claude's tokenizer for English and JSON; used for rate limits and the
 * inputTokensOver approval condition, and reconciled with reported usage where the sidecar sees it.
 */
export function estimateInputTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 4);
}

const URL_RE = /\bhttps?:\/\/([^\s/"'<>()\]]+)/gi;

/** Hosts of the http(s) URLs in a text (the newest turn), lower-cased, without ports. */
export function urlHosts(text: string): string[] {
  const hosts: string[] = [];
  for (const m of text.matchAll(URL_RE)) {
    let h = m[1]!.toLowerCase();
    const at = h.lastIndexOf('@');
    if (at !== -1) h = h.slice(at + 1);
    const colon = h.lastIndexOf(':');
    if (colon !== -1 && !h.startsWith('[')) h = h.slice(0, colon);
    hosts.push(h);
  }
  return hosts;
}
