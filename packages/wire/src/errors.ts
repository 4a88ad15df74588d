// One error family for everything skillgate itself answers. Each error has a stable code
// (SG_...), the Anthropic error type and HTTP status SDKs expect, and a message that says what
// happened and what to do next. Upstream errors are never wrapped: they reach the client as sent.

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export const STATUS_OF_TYPE: Record<AnthropicErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string; [k: string]: unknown };
  request_id?: string;
}

export class GatewayError extends Error {
  readonly code: string;
  readonly type: AnthropicErrorType;
  readonly status: number;
  /** Extra response headers, e.g. retry-after for rate limits. */
  readonly headers: Record<string, string>;

  constructor(
    code: string,
    type: AnthropicErrorType,
    message: string,
    opts: { status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.type = type;
    this.status = opts.status ?? STATUS_OF_TYPE[type];
    this.headers = opts.headers ?? {};
  }

  body(requestId?: string): AnthropicErrorBody {
    return errorBody(this.type, `${this.message} [${this.code}]`, requestId);
  }
}

export function errorBody(type: AnthropicErrorType, message: string, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type, message } };
  if (requestId) body.request_id = requestId;
  return body;
}

/**
 * Normalise anything thrown into a GatewayError; unknown faults become a 500 api_error that says
 * whether the request had been `forwarded` by then (the Claude API may then have processed it).
 */
export function toGatewayError(err: unknown, forwarded = false): GatewayError {
  if (err instanceof GatewayError) return err;
  const what = forwarded
    ? 'skillgate hit an internal error after forwarding the request, so the Claude API may have processed it.'
    : 'skillgate hit an internal error; the request was not forwarded.';
  // After forwarding, an SDK's automatic retry could repeat a call the API already answered.
  return new GatewayError('SG_INTERNAL', 'api_error', `${what} See the sidecar log for the request id.`, { cause: err, ...(forwarded ? { headers: NOT_RETRIED } : {}) });
}

/**
 * For a 5xx that retrying cannot mend (the same request fails the same way) or that could repeat a
 * call the API already took: SDKs retry every status >= 500 unless told not to by this header.
 */
export const NOT_RETRIED: Readonly<Record<string, string>> = { 'x-should-retry': 'false' };

// Stable codes used across components. Documented in README "Errors".
export const codes = {
  badRequest: 'SG_BAD_REQUEST',
  bodyTooLarge: 'SG_BODY_TOO_LARGE',
  headersTooLarge: 'SG_HEADERS_TOO_LARGE',
  idleTimeout: 'SG_IDLE_TIMEOUT',
  notFound: 'SG_NOT_FOUND',
  upstreamUnreachable: 'SG_UPSTREAM_UNREACHABLE',
  upstreamStreamBroken: 'SG_UPSTREAM_STREAM_BROKEN',
  upstreamTimeout: 'SG_UPSTREAM_TIMEOUT',
  upstreamInvalidResponse: 'SG_UPSTREAM_INVALID_RESPONSE',
  clientGone: 'SG_CLIENT_GONE',
  lockFeedLost: 'SG_LOCK_FEED_LOST',
  policyDenied: 'SG_POLICY_DENIED',
  approvalDenied: 'SG_APPROVAL_DENIED',
  approvalExpired: 'SG_APPROVAL_EXPIRED',
  locked: 'SG_LOCKED',
  rateLimited: 'SG_RATE_LIMITED',
  recordUnavailable: 'SG_RECORD_UNAVAILABLE',
  tokenMissing: 'SG_WORKLOAD_TOKEN_MISSING',
  tokenRevoked: 'SG_WORKLOAD_TOKEN_REVOKED',
  egressDenied: 'SG_EGRESS_DENIED',
  maskingFailed: 'SG_MASKING_FAILED',
  internal: 'SG_INTERNAL',
} as const;
