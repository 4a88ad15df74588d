// The OAuth 2.0 Token Exchange (RFC 8693) surface of the controller: parse and validate the form a
// sidecar posts, shape success and error responses. Pure: no I/O. Error codes are RFC 6749/8693's;
// `access_denied` (403) is skillgate's answer when the token is genuine but the skill may not act
// (owner offboarded, skill locked), so the sidecar can tell "revoked" from "broken". A sidecar may
// also send `record_key` (its record's public key) to have it endorsed (record-key-endorsement.ts).
import { TOKEN_AUDIENCE } from '@skillgate/api';
import { RecordKeyError, recordKeyThumbprint } from '@skillgate/identity';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

export type OAuthErrorCode = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_target' | 'access_denied' | 'server_error' | 'temporarily_unavailable';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400, invalid_grant: 400, unsupported_grant_type: 400, invalid_target: 400,
  access_denied: 403, server_error: 500, temporarily_unavailable: 503,
};

export class OAuthError extends Error {
  readonly status: number;
  constructor(readonly error: OAuthErrorCode, readonly description: string) {
    super(description);
    this.name = 'OAuthError';
    this.status = STATUS[error];
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export interface TokenExchangeRequest {
  subjectToken: string;
  audience: string;
  requestedTtlSeconds?: number;
  /** skillgate extension: the thumbprint of the sidecar's record key, to endorse (`record_key`). */
  recordKeyThumbprint?: string;
}

/** Validate the posted form once, at the edge. */
export function parseTokenExchangeForm(form: URLSearchParams): TokenExchangeRequest {
  const grant = form.get('grant_type');
  if (!grant) throw new OAuthError('invalid_request', 'grant_type is required');
  if (grant !== GRANT_TOKEN_EXCHANGE) throw new OAuthError('unsupported_grant_type', `grant_type must be ${GRANT_TOKEN_EXCHANGE}`);
  const subjectToken = form.get('subject_token');
  if (!subjectToken) throw new OAuthError('invalid_request', 'subject_token is required: the pod\'s projected ServiceAccount token');
  const type = form.get('subject_token_type');
  if (type !== TOKEN_TYPE_JWT) throw new OAuthError('invalid_request', `subject_token_type must be ${TOKEN_TYPE_JWT}`);
  const audience = form.get('audience') ?? TOKEN_AUDIENCE;
  if (audience !== TOKEN_AUDIENCE) throw new OAuthError('invalid_target', `audience must be ${TOKEN_AUDIENCE}`);
  const ttl = form.get('requested_expires_in');
  let requestedTtlSeconds: number | undefined;
  if (ttl !== null) {
    requestedTtlSeconds = Number(ttl);
    if (!Number.isInteger(requestedTtlSeconds) || requestedTtlSeconds <= 0) throw new OAuthError('invalid_request', 'requested_expires_in must be a positive integer (seconds)');
  }
  const recordKey = form.get('record_key');
  let recordKeyThumbprintHex: string | undefined;
  if (recordKey !== null) {
    try {
      recordKeyThumbprintHex = recordKeyThumbprint(recordKey);
    } catch (err) {
      if (err instanceof RecordKeyError) throw new OAuthError('invalid_request', err.message);
      throw err;
    }
  }
  return {
    subjectToken, audience,
    ...(requestedTtlSeconds ? { requestedTtlSeconds } : {}),
    ...(recordKeyThumbprintHex ? { recordKeyThumbprint: recordKeyThumbprintHex } : {}),
  };
}

/** What the controller hands the sidecar for the upstream (Claude) API. */
export interface UpstreamCredentialGrant {
  /** `api_key` goes in x-api-key; `bearer` in Authorization (e.g. a federated short-lived token). */
  type: 'api_key' | 'bearer';
  value: string;
  /** Seconds until the credential itself expires, when it does. */
  expires_in?: number;
}

export interface TokenExchangeResponse {
  access_token: string;
  issued_token_type: typeof TOKEN_TYPE_JWT;
  token_type: 'N_A';
  expires_in: number;
  /** skillgate extension: the identity the token was issued for. */
  skill_identity: { namespace: string; serviceAccount: string; pod: string; podUid?: string; skill: string; owner: string };
  /** skillgate extension: the upstream credential, absent when none is configured. */
  upstream_credential?: UpstreamCredentialGrant;
  /** skillgate extension: the endorsement of the `record_key` sent (record-key-endorsement.ts). */
  record_key_endorsement?: string;
  /** skillgate extension: the installation masking key (masking-key.ts), absent when none is configured. */
  masking_key?: string;
  /** skillgate extension: the Redis URL sidecars record to (it may hold a password), absent when the injector gave them one. */
  redis_url?: string;
  /** skillgate extension: PEM of the CAs the controller's certificate chains to; the server adds it to every answer (server.ts). */
  controller_ca?: string;
}
