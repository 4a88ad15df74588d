// The connection to the Claude API upstream: one keep-alive agent, requests built from the
// skill's request with the credential swapped. Nothing here reads or buffers bodies.
import http from 'node:http';
import https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';

export class Upstream {
  readonly url: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly basePath: string;

  constructor(url: URL) {
    this.url = url;
    const tls = url.protocol === 'https:';
    this.transport = tls ? https : http;
    const opts = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: 'lifo' as const };
    this.agent = tls ? new https.Agent(opts) : new http.Agent(opts);
    this.basePath = url.pathname.replace(/\/+$/, '');
  }

  /** Start an upstream request for `pathAndQuery` (as the skill sent it). */
  request(method: string, pathAndQuery: string, headers: OutgoingHttpHeaders): http.ClientRequest {
    return this.transport.request({
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port || undefined,
      method,
      path: this.basePath + pathAndQuery,
      headers,
      agent: this.agent,
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
