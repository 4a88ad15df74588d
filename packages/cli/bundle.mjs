#!/usr/bin/env node
// The shipped form of the skillgate CLI: one ES module bundle (esbuild) of the compiled workspace
// (dist/, so run after `tsc -b`) and its dependencies, split into chunks so that each command group
// still loads only what it needs (`skillgate sidecar` never loads the controller). The image's
// entrypoint runs packages/cli/bundle/skillgate.mjs; `make build` writes it.
//
// Why: a sidecar runs in every skill pod, and loading ~350 module files costs resident memory that
// the bundle does not: resolving that many paths makes Node's path code hot enough to be compiled by
// TurboFan during start-up (whose code pages, ~4.5 MB of the node binary, then stay resident), each
// file keeps a module record and its source, and unused exports of libphonenumber-js are dropped
// (it declares no side effects). Measured in BENCHMARKS.md (the proxy rows run the bundle).
//
// Entry points besides the CLI: sidecar.mjs and sidecar-wiring.mjs (@skillgate/sidecar and its
// wiring), so that the benchmark and the e2e sidecar processes run the very chunks the image runs.
// Left out (loaded from node_modules at run time): @kubernetes/client-node (controller and webhook
// only), @skillgate/fake-claude (a development tool that reads its fixtures next to its own files)
// and the Claude Code CLI it can run; and, through createRequire on first use, the packages most
// sidecars never need: yaml (YAML files) and re2js (a policy's custom masking patterns).
// The sidecar's chunks hold no ioredis (its Redis client is @skillgate/resp, which loads node:tls on
// a first rediss:// connection): a sidecar on a plain-TCP Redis and a plain-HTTP upstream loads
// neither (bundle.test.ts checks both).
// libphonenumber-js' metadata (156 KB of JSON) is not bundled as a JavaScript object literal: it
// is copied beside the chunk that uses it and read with JSON.parse when that chunk loads
// (phoneMetadataAsData). As source, V8 keeps the literal's text, its object templates and what
// parsing it allocated: ~1 MB more resident in every sidecar (BENCHMARKS.md, RSS idle).
//
// Usage: node packages/cli/bundle.mjs
import { build } from 'esbuild';
import { copyFileSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outdir = join(here, 'bundle');

export const entryPoints = {
  skillgate: join(root, 'packages/cli/dist/src/main.js'),
  sidecar: join(root, 'packages/sidecar/dist/src/index.js'),
  'sidecar-wiring': join(root, 'packages/sidecar/dist/src/wiring.js'),
};

export const external = ['@kubernetes/client-node', '@skillgate/fake-claude', '@anthropic-ai/claude-code'];

/** The phone metadata's JSON file (bundled as data, see above) and the name of its copy. */
const PHONE_METADATA = createRequire(import.meta.url).resolve('libphonenumber-js/metadata.max.json');
export const PHONE_METADATA_FILE = 'phone-metadata.max.json';

/** `libphonenumber-js/metadata.max` as a module that reads the JSON copied beside its chunk. */
const phoneMetadataAsData = {
  name: 'phone-metadata-as-data',
  setup(b) {
    b.onResolve({ filter: /^libphonenumber-js\/metadata\.max$/ }, () => ({ path: 'phone-metadata', namespace: 'phone-metadata' }));
    b.onLoad({ filter: /.*/, namespace: 'phone-metadata' }, () => ({
      loader: 'js',
      contents: `import { readFileSync } from 'node:fs'; export default JSON.parse(readFileSync(new URL(${JSON.stringify(`./${PHONE_METADATA_FILE}`)}, import.meta.url), 'utf8'));`,
    }));
  },
};

export async function bundle() {
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    external,
    // Bundled CommonJS dependencies (pino, ioredis, prom-client) call require() for Node's built-ins.
    // Made on a chunk's first require() call, not as each of its ~60 chunks loads: createRequire
    // resolves the chunk's path and its node_modules paths, and those path operations, added to the
    // module resolution of the chunks themselves, made Node's path code hot enough at start-up for
    // TurboFan to compile it once the bundle's directory path was 30 characters or more (the
    // image's is 32): its code pages then stayed resident, ~5.5 MB of an idle sidecar (BENCHMARKS.md).
    banner: { js: "import { createRequire as __skillgateCreateRequire } from 'node:module'; let __skillgateRequire; const __skillgateRequireOf = () => (__skillgateRequire ??= __skillgateCreateRequire(import.meta.url)); const require = Object.assign((id) => __skillgateRequireOf()(id), { resolve: (id, options) => __skillgateRequireOf().resolve(id, options) });" },
    // Whitespace and syntax only: identifiers keep their names, so stack traces stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [phoneMetadataAsData],
    absWorkingDir: root,
  });
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  // Beside the output that holds the module reading it (a chunk, or an entry if only one used it).
  const readers = Object.entries(result.metafile.outputs).filter(([, o]) => Object.keys(o.inputs).some((i) => i.startsWith('phone-metadata:')));
  if (readers.length === 0) throw new Error('bundle: no output reads the phone metadata; is libphonenumber-js/metadata.max still imported?');
  for (const dir of new Set(readers.map(([path]) => dirname(resolve(root, path))))) copyFileSync(PHONE_METADATA, join(dir, PHONE_METADATA_FILE));
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await bundle();
  const files = readdirSync(outdir, { recursive: true }).filter((f) => String(f).endsWith('.mjs'));
  const bytes = files.reduce((n, f) => n + statSync(join(outdir, String(f))).size, 0);
  console.log(`skillgate: bundled the CLI into ${outdir} (${files.length} files, ${(bytes / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);
}
