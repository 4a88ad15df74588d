// A realistic request event for the record benchmarks: what the sidecar records for one Messages
// call from an SDK or Claude Code — ~15 request headers (credentials dropped by recordHeaders), a
// masked body of ~0.6 KB (system prompt, a short conversation with masking placeholders and a
// tool call) and its findings. Sealed and serialised it is ~2.4 KB.
export const identity = { namespace: 'payments', serviceAccount: 'refunds-bot', pod: 'refunds-7d9f8c6b5-x2x9q', podUid: '3f0c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a69', skill: 'refunds', owner: 'contractor@example.com' };

export const headers = {
  host: '127.0.0.1:15001', connection: 'keep-alive', accept: 'application/json', 'content-type': 'application/json',
  'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31,fine-grained-tool-streaming-2025-05-14',
  'user-agent': 'Anthropic/JS 0.68.0', 'x-stainless-lang': 'js', 'x-stainless-package-version': '0.68.0', 'x-stainless-os': 'Linux',
  'x-stainless-arch': 'x64', 'x-stainless-runtime': 'node', 'x-stainless-runtime-version': 'v24.11.1', 'x-stainless-retry-count': '0',
  'x-stainless-timeout': '600', 'x-claude-code-session-id': '5b0f3a1e-8c2d-4e6f-9a1b-2c3d4e5f6a7b', 'x-api-key': 'sk-ant-never-recorded',
  'content-length': '612', 'accept-encoding': 'gzip, deflate',
};

const maskedBody = JSON.stringify({
  model: 'claude-sonnet-4-5', max_tokens: 1024, stream: false,
  system: 'You are the refunds assistant for the payments team.',
  messages: [
    { role: 'user', content: 'Customer [PERSON_1] ([EMAIL_ADDRESS_1], phone [PHONE_NUMBER_1]) asks for a refund of order 88231 paid with card [CREDIT_CARD_1]. The parcel arrived damaged; photos attached to ticket 4411.' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A2B3C4D5E6F7G8H9', name: 'lookup_order', input: { order_id: '88231' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A2B3C4D5E6F7G8H9', content: 'delivered, 129.90 EUR' }] },
  ],
});

const findings = [
  { type: 'PERSON', start: 421, end: 431, fingerprint: 'a1'.repeat(32) },
  { type: 'EMAIL_ADDRESS', start: 433, end: 450, fingerprint: 'b2'.repeat(32) },
  { type: 'CREDIT_CARD', start: 532, end: 547, fingerprint: 'd4'.repeat(32) },
];

/** The request event data, built by the package's own requestData (credentials dropped, digest). */
export function requestEventData(requestData) {
  return requestData({ method: 'POST', url: '/v1/messages?beta=true', headers, forwarded: Buffer.from(maskedBody), maskedBody, model: 'claude-sonnet-4-5', stream: false, findings, sessionSource: 'claude-code-session' });
}

/**
 * A stream_event batch as the sidecar records a streamed answer: 64 content_block_delta SSE events
 * of ~60 characters of text each, with their relative times. `order` gives each item's member
 * order ('data-first' is the current StreamBatcher's, 'event-first' the first version's).
 */
export function streamBatchData(order) {
  const events = [];
  for (let i = 0; i < 64; i++) {
    const data = JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `The refund of order 88231 is within policy (${i}); proposing it.` } });
    events.push(order === 'event-first' ? { event: 'content_block_delta', data, t: 120 + i * 7.5 } : { data, event: 'content_block_delta', t: 120 + i * 7.5 });
  }
  return { events };
}
