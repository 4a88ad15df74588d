// Request validation with the Anthropic API's own wording ("max_tokens: Field required",
// "messages.0.role: Input should be 'user' or 'assistant'"), so clients and gateways see the same
// 400s they would see from the real service. Pure: a body in, the first problem (or none) out.
// It must never reject fields it does not know: real clients (Claude Code) send many beta fields.
// The Messages body's own rules live in messages-validation.ts.
import { parseJson, type AnthropicErrorType } from '@skillgate/wire';

export { validateMessagesRequest, type MessagesValidationOptions } from './messages-validation.js';

export interface RequestProblem {
  status: number;
  type: AnthropicErrorType;
  message: string;
}

/** A 400 invalid_request_error with the API's `path: message` wording. */
export const invalid = (message: string): RequestProblem => ({ status: 400, type: 'invalid_request_error', message });

export function parseJsonBody(text: string): { body: Record<string, unknown> } | { problem: RequestProblem } {
  let value: unknown;
  try {
    // Integers read exactly, as the API reads them (a number of more than 15 digits is kept as its text).
    value = parseJson(text);
  } catch (err) {
    return { problem: invalid(`There was an error parsing the body of your request: ${(err as Error).message}`) };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: invalid('Input should be a valid dictionary or object to extract fields from') };
  }
  return { body: value as Record<string, unknown> };
}

/** Validate a legacy Text Completions request. */
export function validateCompleteRequest(body: Record<string, unknown>): RequestProblem | undefined {
  if (body.model === undefined) return invalid('model: Field required');
  if (body.prompt === undefined) return invalid('prompt: Field required');
  if (typeof body.prompt !== 'string') return invalid('prompt: Input should be a valid string');
  if (body.max_tokens_to_sample === undefined) return invalid('max_tokens_to_sample: Field required');
  if (typeof body.max_tokens_to_sample !== 'number' || !Number.isInteger(body.max_tokens_to_sample)) return invalid('max_tokens_to_sample: Input should be a valid integer');
  if (!/\n\nHuman:/.test(body.prompt) || !/\n\nAssistant:\s*$/.test(body.prompt)) {
    return invalid('prompt must start with "\\n\\nHuman:" turn after an optional system prompt and end with "\\n\\nAssistant:"');
  }
  return undefined;
}

/** The messages Anthropic's API answers for each error type when nothing more specific applies. */
export const DEFAULT_ERROR_MESSAGES: Record<AnthropicErrorType, string> = {
  invalid_request_error: 'Invalid request',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not Found',
  conflict_error: 'Conflict',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
};

/** `limit` on the list endpoints, checked as the real API does: an integer from 1 to 1000. */
export function listLimitProblem(query: URLSearchParams): RequestProblem | undefined {
  const raw = query.get('limit');
  if (raw === null) return undefined;
  const bad = (message: string): RequestProblem => invalid(`limit: ${message}`);
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) return bad('Input should be a valid integer, unable to parse string as an integer');
  const n = Number(raw);
  if (n < 1) return bad('Input should be greater than or equal to 1');
  if (n > 1000) return bad('Input should be less than or equal to 1000');
  return undefined;
}
