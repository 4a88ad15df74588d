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
  // reads them as one turn) and, when the request ends with them, the assistant prefill the skill
  // wrote — every trailing assistant message, which the API merges into one prefill as it merges
  // user messages (skipping only the last would leave the prefill's first part as "the turn").
  const parts: string[] = [];
  let i = messages.length - 1;
  const at = (k: number): Record<string, unknown> | undefined => { const m = messages[k]; return isRecord(m) ? m : undefined; };
  while (i >= 0 && at(i)?.role === 'assistant') parts.unshift(contentText(at(i--)!.content));
  while (i >= 0 && at(i)?.role === 'user') parts.unshift(contentText(at(i--)!.content));
  return parts.filter((p) => p !== '').join('\n');
}

/** The facts of a request on `route`: the OpenAI-compatible endpoint's read as its own shape, others as Messages. */
export function requestFactsOn(route: RouteKind, req: unknown): RequestFacts {
  return route === 'openai_chat' ? openAiChatFacts(req) : requestFacts(req as MessagesRequest | undefined);
}

/**
 * The facts of an OpenAI-compatible chat completion (POST /v1/chat/completions, which the Claude
 * API also serves): its model, token cap (max_completion_tokens or the older max_tokens; with both,
 * the larger, so a small one cannot pass a cap while the upstream honours the other), function tools
 * by name (`tools[].function` and the legacy `functions[]` alike), and its newest turn — so that the
 * same policy governs it as a Messages request.
 */
export function openAiChatFacts(body: unknown): RequestFacts {
  if (!isRecord(body)) return requestFacts(undefined);
  const caps = [jsonNumberValue(body.max_completion_tokens), jsonNumberValue(body.max_tokens)].filter((n): n is number => n !== undefined);
  const cap = caps.length ? Math.max(...caps) : undefined;
  const functionTools = Array.isArray(body.tools) ? body.tools.map((t) => (isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string' ? { name: t.function.name } : t)) : [];
  const legacyFunctions = Array.isArray(body.functions) ? body.functions.flatMap((f) => (isRecord(f) && typeof f.name === 'string' ? [{ name: f.name }] : [])) : [];
  const tools = Array.isArray(body.tools) || Array.isArray(body.functions) ? [...functionTools, ...legacyFunctions] : undefined;
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

/**
 * An http(s) URL in a text and its authority. As a URL parser reads the special schemes, the
 * slashes after the colon may be any number of '/' or '\' ("https:\\evil.com" is https://evil.com)
 * and the authority ends at the first '/', '\', '?' or '#'; in a text it also ends at whitespace and
 * at the quotes and angle brackets that close a URL in prose or markup.
 */
const URL_RE = /https?:[/\\]*([^\s/\\?#<>"'`]*)/gi;
/**
 * A host as written: letters (and their marks), digits, '-', '.', '_', '~', percent escapes and the
 * dots IDNA reads as '.'; it ends at anything else (a port's ':', or the ',', ';', ')' of the prose
 * around it). An IPv6 literal is taken whole, brackets included.
 */
const HOST_RUN = /^(?:\[[^\]]*\]?|[\p{L}\p{M}\p{N}\-._~%\u3002\uff0e\uff61]*)/u;
const PERCENT_ESCAPES = /(?:%[0-9a-f]{2})+/gi;
/** A host a URL parser reads as written (lower-cased): ASCII letters, digits, '-' and '.'... */
const PLAIN_NAME = /^[a-z0-9.-]*$/i;
/** ...unless its last label is a number, which makes it an IPv4 address ("2130706433", "0x7f.1"). */
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/i;

/**
 * Hosts of the http(s) URLs in a text (the newest turn), lower-cased, without port or trailing dot.
 * A fetchDomains rule holds a request on any of them, so each URL gives every host it may be read
 * as: as written after any userinfo ("https://a@evil.com"), and as a URL parser reaches it (percent
 * escapes decoded, IDNA: "%65vil.com", "EVİL.com" as punycode, "evil。com", "[0::1]" as "[::1]");
 * with userinfo, also what a reader may take for the host, the text before the '@'
 * ("https://evil.com;x@good.com" names evil.com to the reader, good.com to the parser).
 */
export function urlHosts(text: string): string[] {
  const hosts = new Set<string>();
  for (const m of text.matchAll(URL_RE)) {
    const authority = m[1]!;
    const userinfo = authority.lastIndexOf('@');
    addHostReadings(authority.slice(userinfo + 1), hosts);
    if (userinfo !== -1) addHostReadings(authority.slice(0, authority.indexOf('@')), hosts);
  }
  return [...hosts];
}

function addHostReadings(written: string, hosts: Set<string>): void {
  const runs = [HOST_RUN.exec(written)![0]];
  if (written.includes('%')) runs.push(HOST_RUN.exec(written.replace(PERCENT_ESCAPES, percentDecoded))![0]);
  for (const run of runs) {
    addHost(run, hosts);
    // Most hosts are plain names: no URL to parse (a turn may hold thousands of them).
    if (run && !(PLAIN_NAME.test(run) && !NUMERIC_LAST_LABEL.test(run))) addHost(parsedHost(run), hosts);
  }
}

function addHost(host: string, hosts: Set<string>): void {
  let h = host.toLowerCase();
  while (h.endsWith('.')) h = h.slice(0, -1);
  if (h) hosts.add(h);
}

/** The host a URL parser (WHATWG, as fetch clients use) reads from `run`, or '' when it reads none. */
function parsedHost(run: string): string {
  try {
    return new URL(`http://${run}/`).hostname;
  } catch {
    return '';
  }
}

function percentDecoded(escapes: string): string {
  try {
    return decodeURIComponent(escapes);
  } catch {
    return escapes; // not UTF-8: left as written
  }
}
