// @skillgate/wire — the Claude API on the wire: routes, headers, SSE framing, error shapes and the
// request/response types skillgate reads. Pure: no sockets, no logging.
export * from './errors.js';
export * from './sse.js';
export * from './routes.js';
export * from './headers.js';
export * from './request-id.js';
export * from './types.js';
export * from './json-text.js';
export * from './multipart.js';
export * from './content-coding.js';
