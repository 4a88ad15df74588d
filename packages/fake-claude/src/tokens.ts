// A deterministic token estimate for count_tokens and usage: about four characters a token over the
// text a model would read (system, messages, tools). Never a real tokenizer: tests need stable
// numbers that grow with the prompt, not Anthropic's exact counts.

export function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(textLength(value) / 4));
}

/** Tokens of a Messages or count_tokens request body. */
export function estimateInputTokens(body: Record<string, unknown>): number {
  return Math.max(1, Math.ceil((textLength(body.system) + textLength(body.messages) + textLength(body.tools)) / 4));
}

function textLength(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value === 'number' || typeof value === 'boolean') return 1;
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += textLength(item);
    return n;
  }
  if (value !== null && typeof value === 'object') {
    let n = 0;
    for (const key in value) n += textLength((value as Record<string, unknown>)[key]);
    return n;
  }
  return 0;
}
