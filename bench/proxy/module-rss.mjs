// What loading each module costs in resident memory: imports the named modules one after another
// into this fresh process (a last-resort GC after each, as the sidecar's entrypoint does once it has
// started) and prints VmRSS, RssAnon, RssFile and the V8 heap after each. Order matters: pages of the
// node binary that one module's compilation touches are not paid again by the next.
//
// Usage: node --expose-gc bench/proxy/module-rss.mjs node:http req:node:http @skillgate/sidecar ...
// `req:<name>` loads with require() instead of import (e.g. req:node:http, which does not load undici).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mb = (kb) => (kb / 1024).toFixed(1).padStart(6);
function report(label) {
  globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const { heapUsed } = process.memoryUsage();
  console.log(`${label.slice(-44).padEnd(44)} rss ${mb(kb('VmRSS'))} MB  anon ${mb(kb('RssAnon'))}  file ${mb(kb('RssFile'))}  heap ${mb(heapUsed / 1024)}`);
}

if (!globalThis.gc) console.error('(run with --expose-gc for figures after a GC)');
report('(node, nothing loaded)');
for (const name of process.argv.slice(2)) {
  if (name.startsWith('req:')) require(name.slice(4));
  else await import(name);
  report(name);
}
