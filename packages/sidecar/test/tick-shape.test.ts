// The nextTick shape keeper (tick-shape.ts), in fresh Node processes with V8's natives syntax:
// after a few full collections run with no tick queued, the inline caches with which Node's
// nextTick builds its tick objects are megamorphic (what the keeper exists for; should a Node
// release fix that, the first test says so), and with the keeper on they stay monomorphic. The
// object kept is one of Node's own tick objects, and startSidecar turns the keeper on.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../src/', import.meta.url)); // packages/sidecar/dist/src/

function script(keep: boolean): string {
  return `
import { executionAsyncResource } from 'node:async_hooks';
import { keepTickObjectShape, keptTickObject } from ${JSON.stringify(join(dist, 'tick-shape.js'))};
const tickObject = () => new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
if (${keep}) { keepTickObjectShape(); keepTickObjectShape(); }
await tickObject();
for (let round = 0; round < 4; round++) {
  for (let i = 0; i < 50; i++) await tickObject();
  await new Promise((resolve) => setImmediate(resolve)); // nothing queued now
  globalThis.gc({ type: 'major', execution: 'sync' });
}
await tickObject();
const kept = keptTickObject();
console.error('KEPT ' + JSON.stringify({ symbols: kept ? Object.getOwnPropertySymbols(kept).map((s) => s.description) : [], callback: typeof kept?.callback }));
// Its feedback vector, one line per inline cache, to stdout: nothing in JS touches stdout here, so
// the pipe stays blocking and V8's write of it is not cut short (the KEPT line goes to stderr).
%DebugPrint(process.nextTick);
`;
}

/** The states of nextTick's object-literal inline caches, and what was kept. */
function run(keep: boolean): { states: string[]; kept: { symbols: string[]; callback: string } } {
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script(keep)], { encoding: 'utf8', timeout: 20_000 });
  if (child.status !== 0) throw new Error(`the probe process failed (${child.status ?? child.signal}): ${child.stderr}`);
  const out = child.stdout;
  const states = [...out.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1]!);
  const kept = JSON.parse(/^KEPT (.*)$/m.exec(child.stderr)![1]!) as { symbols: string[]; callback: string };
  return { states, kept };
}

it('without it, full collections leave nextTick building tick objects through megamorphic caches', () => {
  const { states, kept } = run(false);
  expect(states.length).toBeGreaterThanOrEqual(3);
  expect(states).toContain('MEGAMORPHIC');
  expect(kept.symbols).toEqual([]);
});

it('with it, those caches stay monomorphic, and the object kept is a real tick object', () => {
  const { states, kept } = run(true);
  expect(states.length).toBeGreaterThanOrEqual(3);
  expect(states.every((s) => s === 'MONOMORPHIC')).toBe(true);
  expect(kept.symbols).toEqual(expect.arrayContaining(['async_id_symbol', 'trigger_async_id_symbol']));
  expect(kept.callback).toBe('function');
});

it('is turned on by startSidecar', async () => {
  const { startSidecar } = await import('../src/index.js');
  const { keptTickObject } = await import('../src/tick-shape.js');
  const sidecar = await startSidecar({ upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', logLevel: 'silent', listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } });
  try {
    await new Promise((resolve) => setImmediate(resolve));
    expect(keptTickObject()).toBeDefined();
  } finally {
    await sidecar.close();
  }
});
