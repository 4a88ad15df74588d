// node:http and node:https, loaded with require() rather than `import`. Importing a built-in as an
// ES module builds its namespace by reading every export, and node:http's exports include lazy
// getters (WebSocket, CloseEvent, MessageEvent, Node 22+) that load Node's bundled undici: ~12 MB
// of resident memory in every skill pod for a WebSocket client nothing here uses. require() reads
// no getter. node:https (TLS, ~5 MB) is loaded on first use, so a sidecar whose upstream is plain
// HTTP does not load it for the upstream. Import the types with `import type` from 'node:http'.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http = require('node:http') as typeof import('node:http');

let httpsModule: typeof import('node:https') | undefined;
export function https(): typeof import('node:https') {
  return (httpsModule ??= require('node:https') as typeof import('node:https'));
}
