// Property: with no masking configured, the sidecar is byte-transparent for SSE. For every recorded
// fixture stream and random chunkings of it (fake Claude writes the fixture in random-sized pieces,
// each flushed before the next), the bytes the client receives equal the bytes the upstream sent.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SKILL_KEY, startThroughSidecar, type ThroughSidecar } from './through-sidecar.js';

let bench: ThroughSidecar;
beforeAll(async () => { bench = await startThroughSidecar(); });
afterAll(async () => { await bench.close(); });

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
afterAll(() => agent.destroy());

function streamThroughSidecar(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${bench.sidecar.claudeUrl}/v1/messages?beta=true`, {
      method: 'POST', agent,
      headers: { 'x-api-key': SKILL_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'replay' }] }));
  });
}

test('for random chunkings of every fixture stream the client receives exactly the upstream bytes', async () => {
  const names = bench.fake.fixtureNames();
  expect(names.length).toBeGreaterThanOrEqual(9);
  for (const name of names) {
    const expected = readFileSync(join(bench.fake.fixturesDir, name));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 24 }), async (chunks) => {
        bench.fake.script({ fixture: name, chunks });
        const got = await streamThroughSidecar();
        return got.equals(expected);
      }),
      { numRuns: 15 },
    );
  }
}, 60_000);
