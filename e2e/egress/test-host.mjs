// A test host for the egress-capture test, run inside a network namespace the test creates: the
// fake Claude API (accepting only the sidecar's upstream key) on :8080, a would-be exfiltration
// endpoint on :9090, UDP on :9091 and a DNS server on :53 (UDP and TCP; every A query answered with
// this host's address: the pod's resolver, and what a DNS tunnel would reach through it). Prints
// "ready" once all listen; answers each "dump" line on stdin with one JSON line of what each server
// received.
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
// DNS on :53: the names asked, and by which transport.
const dnsHits = [];
const dnsAnswer = (msg, transport) => {
  let at = 12;
  const labels = [];
  while (msg[at]) { labels.push(msg.toString('latin1', at + 1, at + 1 + msg[at])); at += msg[at] + 1; }
  dnsHits.push({ name: labels.join('.').toLowerCase(), transport });
  const head = Buffer.from(msg.subarray(0, at + 5));
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(msg.readUInt16BE(at + 1) === 1 ? 1 : 0, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  if (msg.readUInt16BE(at + 1) !== 1) return head;
  return Buffer.concat([head, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...host.split('.').map(Number)])]);
};
const dnsUdp = (await import('node:dgram')).createSocket('udp4');
dnsUdp.on('message', (msg, rinfo) => dnsUdp.send(dnsAnswer(msg, 'udp'), rinfo.port, rinfo.address));
await new Promise((r) => dnsUdp.bind(53, host, r));
const dnsTcp = (await import('node:net')).createServer((s) => s.once('data', (d) => {
  const out = dnsAnswer(d.subarray(2, 2 + d.readUInt16BE(0)), 'tcp');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(out.length);
  s.end(Buffer.concat([len, out]));
}));
await new Promise((r) => dnsTcp.listen(53, host, r));
process.stdout.write('ready\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'dump') return;
  const claude = fake.requests.map((r) => ({ method: r.method, path: r.path, apiKey: r.headers['x-api-key'] ?? null }));
  process.stdout.write(`${JSON.stringify({ claude, exfil: exfilHits, udp: udpHits, dns: dnsHits })}\n`);
});
process.on('SIGTERM', async () => {
  await fake.close();
  exfil.close();
  udp.close();
  dnsUdp.close();
  dnsTcp.close();
  process.exit(0);
});
