// A skill's requests to a sidecar, for tests that read the answer whole: a plain HTTP request with
// its status and body, and the request itself (to walk away from it midway); a Messages request as
// an SDK sends it (fetch, its answer as a Response).
import http from 'node:http';

export interface Sent {
  done: Promise<{ status: number; body: string }>;
  req: http.ClientRequest;
}

/** Send `method path` (with a JSON `body`, if any) to `base` on a connection of its own. */
export function send(base: string, method: string, path: string, body?: string): Sent {
  const u = new URL(base);
  let req!: http.ClientRequest;
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req = http.request({ hostname: u.hostname, port: u.port, path, method, headers: body ? { 'content-type': 'application/json' } : {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  return { done, req };
}

/** POST /v1/messages with `body` and the headers an SDK sends (any key: the sidecar drops it). */
export function askMessages(claudeUrl: string, body: object): Promise<Response> {
  return fetch(`${claudeUrl}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body),
  });
}
