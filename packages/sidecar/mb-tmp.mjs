import { createMasker } from '@skillgate/masking';
import { readFileSync } from 'node:fs';
import { sealEventJson } from '@skillgate/record/chain';
const m = createMasker({ mode: 'record' }, { key: 'k'.repeat(32) });
const req = { model: 'claude-3-opus-latest', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] };
const resText = readFileSync('bench/proxy/upstream/messages.json', 'utf8');
function bench(name, f, n = 20000) { for (let i = 0; i < 2000; i++) f(); const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(); console.log(name.padEnd(30), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs'); }
bench('maskText short', () => m.maskText('Say hello.'));
bench('maskMessagesRequest', () => m.maskMessagesRequest(req));
bench('parse+maskResponse', () => m.maskMessagesResponse(JSON.parse(resText)));
bench('parse+maskResponse+stringify', () => JSON.stringify(m.maskMessagesResponse(JSON.parse(resText)).body));
bench('JSON.parse resp', () => JSON.parse(resText));
const id = { namespace: 'ns', skill: 'sk', pod: 'pod-1', owner: 'x@y' };
bench('seal request-ish', () => sealEventJson({ kind: 'response', sessionId: 'ses_1234567890', identity: id, requestId: 'req_0123456789abcdef', data: { status: 200, headers: { 'content-type': 'application/json', 'request-id': 'req_1' }, stream: false, bodySha256: 'a'.repeat(64), bodyBytes: 256, body: resText } }, { seq: 3, hash: 'b'.repeat(64), closed: false }));
console.log(resText);
