// A test host for the egress-capture test, run inside a network namespace the test creates: the
// fake Claude API (accepting only the sidecar's upstream key) on :8080 and a would-be exfiltration
// endpoint on :9090. Prints "ready" once both listen; answers each "dump" line on stdin with one JSON
// line of what each server received.
import http from 'node:http';
import readline from 'node:readline';
import { startFakeClaude } from '@skillgate/fake-claude';

const host = process.argv[2];
const fake = await startFakeClaude({ host, port: 8080, apiKeys: ['sk-ant-upstream-e2e'] });
const exfilHits = [];
const exfil = http.createServer((req, res) => {
  exfilHits.push({ method: req.method, url: req.url, from: req.socket.remoteAddress });
  req.resume();
  res.end('stolen');
});
await new Promise((r) => exfil.listen(9090, host, r));
// UDP on 9091: what a skill might use (QUIC, raw datagrams) to go around the TCP capture.
const udpHits = [];
const udp = (await import('node:dgram')).createSocket('udp4');
udp.on('message', (msg, rinfo) => udpHits.push({ data: msg.toString(), from: rinfo.address }));
await new Promise((r) => udp.bind(9091, host, r));
process.stdout.write('ready\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'dump') return;
  const claude = fake.requests.map((r) => ({ method: r.method, path: r.path, apiKey: r.headers['x-api-key'] ?? null }));
  process.stdout.write(`${JSON.stringify({ claude, exfil: exfilHits, udp: udpHits })}\n`);
});
process.on('SIGTERM', async () => {
  await fake.close();
  exfil.close();
  udp.close();
  process.exit(0);
});
