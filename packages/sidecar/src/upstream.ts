// The connection to the Claude API upstream: one keep-alive agent, requests built from the
// skill's request with the credential swapped. Nothing here reads or buffers bodies.
import type { Agent, ClientRequest, OutgoingHttpHeaders } from 'node:http';
import { http, https } from './node-http.js';

/**
 * The largest response head taken from the upstream: the sidecar's own header limit (its default,
 * limits.headerBytes), not node:http's 16 KB, so a head the API may send (long rate-limit or
 * tracing headers) is passed on rather than refused.
 */
export const UPSTREAM_HEADER_BYTES = 64 * 1024;

export class Upstream {
  readonly url: URL;
  /** The largest response head taken from the upstream (bytes); a larger one fails the request. */
  readonly maxHeaderSize: number;
  private readonly agent: Agent;
  private readonly transport: typeof http | ReturnType<typeof https>;
  private readonly basePath: string;

  constructor(url: URL, maxHeaderSize = UPSTREAM_HEADER_BYTES) {
    this.url = url;
    this.maxHeaderSize = maxHeaderSize;
    const opts = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: 'lifo' as const };
    if (url.protocol === 'https:') {
      this.transport = https();
      this.agent = new (https().Agent)(opts);
    } else {
      this.transport = http;
      this.agent = new http.Agent(opts);
    }
    this.basePath = url.pathname.replace(/\/+$/, '');
  }

  /** Start an upstream request for `pathAndQuery` (as the skill sent it). */
  request(method: string, pathAndQuery: string, headers: OutgoingHttpHeaders): ClientRequest {
    return this.transport.request({
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port || undefined,
      method,
      path: this.basePath + pathAndQuery,
      headers,
      agent: this.agent,
      maxHeaderSize: this.maxHeaderSize,
    });
  }

  /** Map an absolute URL on the upstream (e.g. a batch results_url) to a path the skill can ask us for. */
  localPath(absolute: string): string | undefined {
    let u: URL;
    try {
      u = new URL(absolute);
    } catch {
      return undefined;
    }
    if (u.origin !== this.url.origin || !u.pathname.startsWith(this.basePath)) return undefined;
    return u.pathname.slice(this.basePath.length) + u.search;
  }

  close(): void {
    this.agent.destroy();
  }
}
