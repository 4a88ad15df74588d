// Validation of a Messages request body (also count_tokens and each batch entry's params) with the
// Anthropic API's own wording, so a client or gateway sees here the 400s the real service answers.
// Two layers, as upstream: first the schema (pydantic-style `path: message`, field by field), then
// the rules over the conversation as a whole (non-empty content, tool_use/tool_result pairing,
// unique tool names, the thinking budget). The first problem found is the answer.
// Pure: a body in, a problem or nothing out. It must never reject a field it does not know (real
// clients such as Claude Code send many beta fields), and where the real rule is unclear it accepts.
// Wording sources (public reports of real 400 bodies) are noted next to each message; a message not
// seen verbatim says so.
import { jsonNumberValue } from '@skillgate/wire';
import { invalid, type RequestProblem } from './validation.js';

export interface MessagesValidationOptions {
  /** Messages and batch entries require max_tokens; count_tokens has none. */
  requireMaxTokens: boolean;
  /** The request's `anthropic-beta` values (interleaved thinking lets budget_tokens exceed max_tokens). */
  betas?: readonly string[];
}


/**
 * Content block types the API names when it refuses an unknown tag, as it lists them: sorted, and
 * without the beta-only ones (a real refusal of `video_url` lists "'bash_code_execution_tool_result', …").
 */
const LISTED_BLOCK_TYPES = [
  'bash_code_execution_tool_result', 'code_execution_tool_result', 'container_upload', 'document', 'image',
  'redacted_thinking', 'search_result', 'server_tool_use', 'text', 'text_editor_code_execution_tool_result',
  'thinking', 'tool_result', 'tool_search_tool_result', 'tool_use', 'web_fetch_tool_result', 'web_search_tool_result',
] as const;

/**
 * Every block type a request may carry: the listed ones plus those the SDKs' beta params add
 * (@anthropic-ai/sdk BetaContentBlockParam). Accepted whatever betas the request names: when in doubt, accept.
 */
const ACCEPTED_BLOCK_TYPES: ReadonlySet<string> = new Set([
  ...LISTED_BLOCK_TYPES,
  'advisor_tool_result', 'compaction', 'fallback', 'mcp_tool_listing', 'mcp_tool_result', 'mcp_tool_use', 'tool_addition', 'tool_removal',
]);

const EXPECTED_TAGS = LISTED_BLOCK_TYPES.map((t) => `'${t}'`).join(', ');

/** With this beta, thinking spans the whole turn's tool calls and budget_tokens may exceed max_tokens. */
const INTERLEAVED_THINKING_BETA = 'interleaved-thinking-2025-05-14';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validate a Messages request (also count_tokens, which has no max_tokens). */
export function validateMessagesRequest(body: Record<string, unknown>, opts: MessagesValidationOptions): RequestProblem | undefined {
  if (body.model === undefined) return invalid('model: Field required');
  if (typeof body.model !== 'string') return invalid('model: Input should be a valid string');
  if (body.messages === undefined) return invalid('messages: Field required');
  let maxTokens: number | undefined;
  if (opts.requireMaxTokens) {
    if (body.max_tokens === undefined) return invalid('max_tokens: Field required');
    maxTokens = jsonNumberValue(body.max_tokens);
    if (maxTokens === undefined || !Number.isInteger(maxTokens)) return invalid('max_tokens: Input should be a valid integer');
    if (maxTokens < 1) return invalid('max_tokens: Input should be greater than or equal to 1');
  }
  if (!Array.isArray(body.messages)) return invalid('messages: Input should be a valid list');
  const messages = body.messages as unknown[];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) return invalid(`messages.${i}: Input should be a valid dictionary or object to extract fields from`);
    if (m.role === undefined) return invalid(`messages.${i}.role: Field required`);
    if (m.role !== 'user' && m.role !== 'assistant') return invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (m.content === undefined) return invalid(`messages.${i}.content: Field required`);
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return invalid(`messages.${i}.content: Input should be a valid list`);
    if (Array.isArray(m.content)) {
      for (let j = 0; j < m.content.length; j++) {
        const problem = blockSchemaProblem(m.content[j], `messages.${i}.content.${j}`);
        if (problem) return problem;
      }
    }
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return invalid('stream: Input should be a valid boolean');
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return invalid('system: Input should be a valid list');
  const schema = samplingProblem(body) ?? thinkingSchemaProblem(body.thinking) ?? toolsSchemaProblem(body.tools);
  if (schema) return schema;

  return conversationProblem(messages as Array<Record<string, unknown>>)
    ?? systemProblem(body.system)
    ?? toolNamesProblem(body.tools)
    ?? thinkingBudgetProblem(body.thinking, maxTokens, opts.betas);
}

// ---- the schema ------------------------------------------------------------------------

/** A content block: an object tagged by `type` (a pydantic discriminated union), then the fields this fake relies on. */
function blockSchemaProblem(block: unknown, path: string): RequestProblem | undefined {
  if (!isObject(block)) return invalid(`${path}: Input should be a valid dictionary or object to extract fields from`);
  const type = block.type;
  // Pydantic's union_tag_not_found wording; not seen verbatim from the API for message blocks.
  if (type === undefined) return invalid(`${path}: Unable to extract tag using discriminator 'type'`);
  if (typeof type !== 'string' || !ACCEPTED_BLOCK_TYPES.has(type)) {
    // Seen: "messages.2.content.0: Input tag 'drive_file' found using 'type' does not match any of the expected tags: ...".
    return invalid(`${path}: Input tag '${typeof type === 'string' ? type : JSON.stringify(type)}' found using 'type' does not match any of the expected tags: ${EXPECTED_TAGS}`);
  }
  // Field errors name the tag in their path, as upstream does ("...tool_result.content.0.tool_reference.tool_name: Field required").
  switch (type) {
    case 'text':
      return stringField(block, 'text', `${path}.text`);
    case 'tool_use':
      return stringField(block, 'id', `${path}.tool_use`)
        ?? stringField(block, 'name', `${path}.tool_use`)
        ?? (block.input === undefined ? invalid(`${path}.tool_use.input: Field required`)
          : isObject(block.input) ? undefined : invalid(`${path}.tool_use.input: Input should be a valid dictionary`));
    case 'tool_result':
      return stringField(block, 'tool_use_id', `${path}.tool_result`);
    default:
      return undefined;
  }
}

function stringField(o: Record<string, unknown>, key: string, path: string): RequestProblem | undefined {
  if (o[key] === undefined) return invalid(`${path}.${key}: Field required`);
  if (typeof o[key] !== 'string') return invalid(`${path}.${key}: Input should be a valid string`);
  return undefined;
}

/** temperature and top_p in 0..1, top_k an integer from 0 (pydantic's wording; null counts as absent). */
function samplingProblem(body: Record<string, unknown>): RequestProblem | undefined {
  for (const key of ['temperature', 'top_p'] as const) {
    const raw = body[key];
    if (raw === undefined || raw === null) continue;
    const n = jsonNumberValue(raw);
    if (n === undefined) return invalid(`${key}: Input should be a valid number`);
    if (n < 0) return invalid(`${key}: Input should be greater than or equal to 0`);
    if (n > 1) return invalid(`${key}: Input should be less than or equal to 1`);
  }
  if (body.top_k !== undefined && body.top_k !== null) {
    const n = jsonNumberValue(body.top_k);
    if (n === undefined || !Number.isInteger(n)) return invalid('top_k: Input should be a valid integer');
    if (n < 0) return invalid('top_k: Input should be greater than or equal to 0');
  }
  return undefined;
}

/** `thinking` is tagged by type; `enabled` needs budget_tokens of at least 1024. Other types (adaptive, disabled, newer) pass. */
function thinkingSchemaProblem(thinking: unknown): RequestProblem | undefined {
  if (thinking === undefined || thinking === null) return undefined;
  if (!isObject(thinking)) return invalid('thinking: Input should be a valid dictionary or object to extract fields from');
  if (thinking.type === undefined) return invalid("thinking: Unable to extract tag using discriminator 'type'");
  if (thinking.type !== 'enabled') return undefined;
  if (thinking.budget_tokens === undefined) return invalid('thinking.enabled.budget_tokens: Field required');
  const budget = jsonNumberValue(thinking.budget_tokens);
  if (budget === undefined || !Number.isInteger(budget)) return invalid('thinking.enabled.budget_tokens: Input should be a valid integer');
  // Seen verbatim (LibreChat#8346, via Bedrock).
  if (budget < 1024) return invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  return undefined;
}

/**
 * `tools`: a list of objects. An entry without a type (or `custom`) is a custom tool and needs a name
 * of 1 to 128 characters and an input_schema; server tools (web_search_…, bash_…, mcp_toolset, …)
 * are an open list and pass.
 */
function toolsSchemaProblem(tools: unknown): RequestProblem | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) return invalid('tools: Input should be a valid list');
  for (let i = 0; i < tools.length; i++) {
    const tool: unknown = tools[i];
    if (!isObject(tool)) return invalid(`tools.${i}: Input should be a valid dictionary or object to extract fields from`);
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') continue;
    const path = `tools.${i}.custom`;
    // "tools.N.custom.<field>" as in real refusals ("tools.18.custom.name: String should have at most 128 characters",
    // "tools.23.custom.defer_loading: Extra inputs are not permitted"); "Field required" itself not seen verbatim.
    const name = stringField(tool, 'name', path);
    if (name) return name;
    const length = (tool.name as string).length;
    if (length < 1) return invalid(`${path}.name: String should have at least 1 character`);
    if (length > 128) return invalid(`${path}.name: String should have at most 128 characters`);
    if (tool.input_schema === undefined) return invalid(`${path}.input_schema: Field required`);
  }
  return undefined;
}

// ---- rules over the whole request ------------------------------------------------------

function conversationProblem(messages: ReadonlyArray<Record<string, unknown>>): RequestProblem | undefined {
  // Seen verbatim: "messages: at least one message is required" (DevoxxGenieIDEAPlugin#567).
  if (messages.length === 0) return invalid('messages: at least one message is required');
  const last = messages.length - 1;
  for (let i = 0; i < messages.length; i++) {
    const { role, content } = messages[i]!;
    const empty = typeof content === 'string' ? content.length === 0 : (content as unknown[]).length === 0;
    // Seen verbatim: "messages.0: all messages must have non-empty content except for the optional final assistant message" (claude-code#6774).
    if (empty && !(i === last && role === 'assistant')) return invalid(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
  }
  for (const { content } of messages) {
    if (!Array.isArray(content)) continue;
    for (const block of content as Array<Record<string, unknown>>) {
      if (block.type !== 'text') continue;
      const text = block.text as string;
      // Both seen verbatim (bolt.new#7426; claude-code#23440).
      if (text.length === 0) return invalid('messages: text content blocks must be non-empty');
      if (text.trim().length === 0) return invalid('messages: text content blocks must contain non-whitespace text');
    }
  }
  const final = messages[last]!;
  if (final.role === 'assistant' && endsWithWhitespace(final.content)) {
    // Seen verbatim (reported through Bedrock and through Copilot's Anthropic upstream).
    return invalid('messages: final assistant content cannot end with trailing whitespace');
  }
  return toolPairingProblem(messages);
}

function endsWithWhitespace(content: unknown): boolean {
  if (typeof content === 'string') return /\s$/.test(content);
  const tail = (content as Array<Record<string, unknown>>).at(-1);
  return tail?.type === 'text' && /\s$/.test(tail.text as string);
}

/**
 * Every `tool_use` of an assistant message must be answered by a `tool_result` among the blocks that
 * open the next message (a user message), and every `tool_result` must answer a `tool_use` of the
 * message before it. A final assistant message (a prefill) is not checked: when in doubt, accept.
 */
function toolPairingProblem(messages: ReadonlyArray<Record<string, unknown>>): RequestProblem | undefined {
  for (let i = 0; i < messages.length; i++) {
    const { role, content } = messages[i]!;
    if (!Array.isArray(content)) continue;
    const blocks = content as Array<Record<string, unknown>>;
    if (role === 'user') {
      const asked = toolUseIds(messages[i - 1]);
      for (let j = 0; j < blocks.length; j++) {
        const block = blocks[j]!;
        if (block.type !== 'tool_result' || asked.includes(block.tool_use_id as string)) continue;
        // Seen verbatim: "messages.12.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_…. Each …" (CLIProxyAPI#497).
        return invalid(`messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
      continue;
    }
    const ids = toolUseIds(messages[i]);
    const next = messages[i + 1];
    if (ids.length === 0 || next === undefined) continue;
    const answered = leadingToolResultIds(next);
    const missing = ids.filter((id) => !answered.includes(id));
    // Seen verbatim, several ids joined by ", ": "messages.22: `tool_use` ids were found without `tool_result` blocks
    // immediately after: toolu_A, toolu_B. Each …" (claude-code#5989); N is the assistant message's index.
    if (missing.length > 0) {
      return invalid(`messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
  }
  return undefined;
}

/** The ids of an assistant message's `tool_use` blocks (server and MCP tool calls are answered in the same message). */
function toolUseIds(message: Record<string, unknown> | undefined): string[] {
  if (message?.role !== 'assistant' || !Array.isArray(message.content)) return [];
  const ids: string[] = [];
  for (const block of message.content as Array<Record<string, unknown>>) if (block.type === 'tool_use') ids.push(block.id as string);
  return ids;
}

/** The tool_use_ids of the `tool_result` blocks a user message opens with. */
function leadingToolResultIds(message: Record<string, unknown>): string[] {
  if (message.role !== 'user' || !Array.isArray(message.content)) return [];
  const ids: string[] = [];
  for (const block of message.content as Array<Record<string, unknown>>) {
    if (block.type !== 'tool_result') break;
    ids.push(block.tool_use_id as string);
  }
  return ids;
}

/** A system prompt given as blocks: its text blocks must not be empty. */
function systemProblem(system: unknown): RequestProblem | undefined {
  if (!Array.isArray(system)) return undefined;
  for (const block of system) {
    // Seen verbatim: "system: text content blocks must be non-empty". A whitespace-only one is accepted (not seen refused).
    if (isObject(block) && block.type === 'text' && block.text === '') return invalid('system: text content blocks must be non-empty');
  }
  return undefined;
}

function toolNamesProblem(tools: unknown): RequestProblem | undefined {
  if (!Array.isArray(tools)) return undefined;
  const seen = new Set<string>();
  for (const tool of tools as Array<Record<string, unknown>>) {
    if (typeof tool.name !== 'string') continue;
    // Seen verbatim (claude-code#10687, LibreChat#13162: a server tool and a custom tool of the same name count too).
    if (seen.has(tool.name)) return invalid('tools: Tool names must be unique.');
    seen.add(tool.name);
  }
  return undefined;
}

/** budget_tokens must stay below max_tokens, unless interleaved thinking lets it span the turn (not checked by count_tokens). */
function thinkingBudgetProblem(thinking: unknown, maxTokens: number | undefined, betas: readonly string[] | undefined): RequestProblem | undefined {
  if (maxTokens === undefined || !isObject(thinking) || thinking.type !== 'enabled') return undefined;
  if (jsonNumberValue(thinking.budget_tokens)! < maxTokens) return undefined;
  if (betas?.includes(INTERLEAVED_THINKING_BETA)) return undefined;
  // Seen verbatim (antigravity2api-nodejs#149).
  return invalid('`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size');
}
