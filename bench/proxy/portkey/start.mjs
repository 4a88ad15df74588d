// Runs Portkey's gateway (@portkey-ai/gateway, installed apart from the workspace in this folder)
// on a given port and prints `READY <url>` once it answers. Usage: node start.mjs <port>.
// Portkey's own start script takes --port=N and logs a banner; this wrapper only adds the READY line.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import net from 'node:net';

// Portkey listens on all interfaces; the benchmark keeps to loopback, so bind its port there.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};

const port = Number(process.argv[2]);
const here = dirname(fileURLToPath(import.meta.url));
process.argv = [process.argv[0], 'start-server.js', `--port=${port}`, '--headless'];
const log = console.log;
console.log = () => {}; // Portkey prints a banner and a line per request; keep stdout for READY
// (@hono/node-server 1.13.5 prints "Failed to find Response internal state key" on Node 24 and falls
// back to its generic body path; harmless here. The pin is needed for streaming: see package.json.)
await import(join(here, 'node_modules/@portkey-ai/gateway/build/start-server.js'));
for (let i = 0; i < 400; i++) {
  const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
  if (ok) { log(`\nREADY http://127.0.0.1:${port}`); break; }
  await new Promise((r) => setTimeout(r, 25));
}
