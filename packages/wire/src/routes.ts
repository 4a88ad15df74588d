// The Claude API's routes as a gateway needs to know them: what a request is, and whether its body
// must be read (to inspect and record it) or streamed straight through (uploads). Any other /v1/*
// path is an open list: forwarded and recorded as `other`.

export type RouteKind =
  | 'messages'          // POST /v1/messages
  | 'count_tokens'      // POST /v1/messages/count_tokens
  | 'complete'          // POST /v1/complete (legacy)
  | 'batch_create'      // POST /v1/messages/batches
  | 'batch_results'     // GET /v1/messages/batches/{id}/results (JSONL)
  | 'batch'             // other /v1/messages/batches...
  | 'models'            // /v1/models[/{id}]
  | 'file_upload'       // POST /v1/files (multipart)
  | 'files'             // other /v1/files...
  | 'skill_upload'      // POST /v1/skills[/{id}/versions] (multipart)
  | 'skills'            // other /v1/skills...
  | 'probe'             // HEAD / and HEAD /api/hello (Claude Code warm-up)
  | 'openai_chat'       // POST /v1/chat/completions (the OpenAI-compatible endpoint), governed as Messages are
  | 'other_v1'          // any other /v1/* path
  | 'unknown';          // not the Claude API

export interface Route {
  kind: RouteKind;
  /** How the request body is handled: read whole (bounded) to inspect, or streamed through. */
  body: 'inspect' | 'stream' | 'none';
  /** Largest request body accepted for this route, in bytes (Anthropic's own limits). */
  maxBodyBytes: number;
  /** The path without the query string. */
  path: string;
  /** The Message Batch a batch_results route reads (`/v1/messages/batches/{batchId}/results`). */
  batchId?: string;
}

/** Routes whose body is files uploaded as multipart: the Files API's and the Skills API's (a skill's folder). */
export function uploadsFiles(kind: RouteKind): boolean {
  return kind === 'file_upload' || kind === 'skill_upload';
}

const MB = 1024 * 1024;
export const LIMITS = { messages: 32 * MB, batches: 256 * MB, files: 500 * MB } as const;

export function classifyRoute(method: string, url: string): Route {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const m = method.toUpperCase();
  const route = (kind: RouteKind, body: Route['body'], maxBodyBytes: number = LIMITS.messages): Route =>
    ({ kind, body, maxBodyBytes, path });

  if ((m === 'HEAD' || m === 'GET') && (path === '/' || path === '/api/hello')) return route('probe', 'none');
  if (!path.startsWith('/v1/')) return route('unknown', 'none');
  const hasBody = m === 'POST' || m === 'PUT' || m === 'PATCH';

  if (path === '/v1/messages' && m === 'POST') return route('messages', 'inspect');
  if (path === '/v1/messages/count_tokens' && m === 'POST') return route('count_tokens', 'inspect');
  if (path === '/v1/complete' && m === 'POST') return route('complete', 'inspect');
  if (path === '/v1/chat/completions' && m === 'POST') return route('openai_chat', 'inspect');
  if (path === '/v1/messages/batches' && m === 'POST') return route('batch_create', 'inspect', LIMITS.batches);
  if (path === '/v1/messages/batches') return route('batch', 'none');
  if (path.startsWith('/v1/messages/batches/')) {
    const results = m === 'GET' ? batchResultsPath(path) : undefined;
    if (results?.at === 0) return { ...route('batch_results', 'none'), batchId: results.batchId };
    return route('batch', hasBody ? 'inspect' : 'none');
  }
  if (path === '/v1/models' || path.startsWith('/v1/models/')) return route('models', 'none');
  if (path === '/v1/files' && m === 'POST') return route('file_upload', 'stream', LIMITS.files);
  if (path === '/v1/files' || path.startsWith('/v1/files/')) return route('files', hasBody ? 'stream' : 'none', LIMITS.files);
  const skills = path === '/v1/skills' || path.startsWith('/v1/skills/');
  if (skills && m === 'POST') return route('skill_upload', 'stream', LIMITS.files);
  if (skills) return route('skills', hasBody ? 'stream' : 'none', LIMITS.files);
  return route('other_v1', hasBody ? 'stream' : 'none', LIMITS.messages);
}

/**
 * Where a path ends in a batch's results (`/v1/messages/batches/{id}/results`): that part, the batch
 * and where it starts (0: the whole path; further on: under a prefix, as in another origin's URL).
 */
export function batchResultsPath(path: string): { path: string; batchId: string; at: number } | undefined {
  const m = /\/v1\/messages\/batches\/([^/]+)\/results$/.exec(path);
  return m ? { path: m[0], batchId: m[1]!, at: m.index } : undefined;
}

// Characters Claude API paths are made of (RFC 3986's unreserved set, and '/' between segments).
const PATH_CHARS = /^[A-Za-z0-9._~/-]*$/;

/**
 * Why a gateway that decides by a path's text must not forward `path` (the part before '?'), or
 * undefined when it may. The route, the policy and masking are chosen from the path as written; a
 * server that normalises paths could read "/v1/x/../messages", "/v1/%6Dessages", "/v1//messages" or
 * "/v1/messages/" as /v1/messages, which would then skip inspection as an unknown route. So a path
 * that is not in the one form Claude API paths take is refused: percent-encoding or characters
 * outside the unreserved set, empty segments, "." or ".." segments, a trailing slash.
 */
export function pathProblem(path: string): string | undefined {
  if (!PATH_CHARS.test(path)) return 'it has percent-encoding or characters Claude API paths do not use';
  if (path.includes('//')) return 'it has an empty segment (//)';
  if (/\/\.\.?(?:\/|$)/.test(path)) return 'it has a "." or ".." segment';
  if (path.length > 1 && path.endsWith('/')) return 'it ends in a slash';
  return undefined;
}
