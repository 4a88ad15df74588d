import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { findNginx, startNginx, upstreamConfig } from '../lib/nginx.mjs';
import { freePort, startReadyChild, memoryMb } from '../lib/process.mjs';
import { latencyClient } from '../lib/latency.mjs';
import { runWrk } from '../lib/wrk.mjs';
const here = dirname(fileURLToPath(import.meta.url));
const upPort = await freePort();
const upstream = await startNginx(findNginx(), 'upstream', upPort, (p) => upstreamConfig(p, upPort, join(here, 'upstream')));
const token = `bench${randomBytes(4).toString('hex')}`;
for (const which of ['sidecar', 'full']) {
  const env = which === 'full' ? { REDIS_URL: 'redis://127.0.0.1:6379', SKILLGATE_SKILL: token, SKILLGATE_NAMESPACE: token, SKILLGATE_POD_NAME: token, SKILLGATE_REDIS_PREFIX: `${token}:`, SKILLGATE_POLICY_FILE: join(here, 'policy.yaml'), BENCH_SETTLE_SIGNAL: '1' } : { BENCH_SETTLE_SIGNAL: '1' };
  const child = await startReadyChild(which, process.execPath, ['--max-semi-space-size=16', '--expose-gc', join(here, 'sidecar.mjs'), ...(which === 'full' ? ['--full'] : []), upstream.url], { env });
  const body = JSON.stringify({ model: 'claude-3-opus-latest', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] });
  const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' };
  const client = latencyClient({ url: child.url, path: '/v1/messages', headers, body });
  await client.once(); await client.once(); client.close();
  await new Promise((r) => setTimeout(r, 300));
  const m = (l) => { const x = memoryMb(child.pid); console.log(which, l.padEnd(28), x.rss.toFixed(1), 'anon', x.anon.toFixed(1)); };
  m('idle (2 requests)');
  process.kill(child.pid, 'SIGUSR2'); await new Promise((r) => setTimeout(r, 500)); m('idle, settled again');
  await runWrk({ url: child.url, path: '/v1/messages', headers, body, connections: 32, seconds: 4, cpu: 0 });
  m('right after load');
  await new Promise((r) => setTimeout(r, 3000)); m('3 s after load');
  process.kill(child.pid, 'SIGUSR2'); await new Promise((r) => setTimeout(r, 500)); m('after load, settled');
  await child.stop();
}
await upstream.stop();
