// The parts of the Messages API that skillgate reads. Every object is open (unknown fields are
// kept and forwarded): these types describe what policy and masking look at, not the whole API.

import { isRawJsonNumber } from './json-text.js';

export type Role = 'user' | 'assistant';

export interface TextBlock { type: 'text'; text: string; [k: string]: unknown }
export interface ToolUseBlock { type: 'tool_use'; id: string; name: string; input: unknown; [k: string]: unknown }
export interface ToolResultBlock { type: 'tool_result'; tool_use_id: string; content?: string | ContentBlock[]; is_error?: boolean; [k: string]: unknown }
export interface ThinkingBlock { type: 'thinking'; thinking: string; signature: string; [k: string]: unknown }
export interface GenericBlock { type: string; [k: string]: unknown }
export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | GenericBlock;

export interface MessageParam { role: Role; content: string | ContentBlock[] }

export interface ToolDefinition { name: string; type?: string; [k: string]: unknown }

export interface McpServer { type: 'url'; url: string; name: string; authorization_token?: string; [k: string]: unknown }

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | ContentBlock[];
  stream?: boolean;
  tools?: ToolDefinition[];
  tool_choice?: unknown;
  metadata?: { user_id?: string; [k: string]: unknown };
  container?: string | { id?: string; skills?: Array<{ type: string; skill_id: string; version?: string }> };
  mcp_servers?: McpServer[];
  thinking?: unknown;
  [k: string]: unknown;
}

export interface Usage { input_tokens: number; output_tokens: number; [k: string]: unknown }

export interface MessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: Usage;
  [k: string]: unknown;
}

/** Server tools are versioned types such as web_search_20250305; their family is the prefix. */
export function serverToolFamily(tool: ToolDefinition): string | undefined {
  if (!tool.type || tool.type === 'custom') return undefined;
  const m = /^([a-z_]+?)_\d{8}$/.exec(tool.type);
  return m ? m[1] : tool.type;
}

/**
 * A JSON object: not null, not an array, and not a number parseJson kept as its source text (whose
 * one member, rawJSON, is no member of the JSON).
 */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isRawJsonNumber(v);
}
