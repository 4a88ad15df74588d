// Policy evaluation cost per request: a 50-rule SkillPolicy (deny lists + approval rules with
// keywords, regexes, findings, domains) evaluated against a Claude-Code-sized request (~100 KB,
// 23 tools, long history). Side by side with the baseline the sidecar pays anyway (JSON.parse of the
// body), so the number reads as "what policy adds". Prints a markdown table; writes
// bench/results/policy-evaluate.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { combine, evaluate, requestFacts, estimateInputTokens } from '@skillgate/policy';

const HERE = dirname(fileURLToPath(import.meta.url));
const ITER = Number(process.env.BENCH_ITER ?? 20000);

function fiftyRulePolicy() {
  const rules = [];
  for (let i = 0; i < 10; i++) rules.push({ name: `kw-${i}`, when: { keywords: [`secret-project-${i}`, `codeword${i}`, 'payroll', 'salary'] } });
  for (let i = 0; i < 10; i++) rules.push({ name: `re-${i}`, when: { patterns: [`\\bAKIA[0-9A-Z]{16}\\b`, `\\b\\d{3}-\\d{2}-${1000 + i}\\b`] } });
  for (let i = 0; i < 10; i++) rules.push({ name: `model-${i}`, when: { models: [`claude-opus-${i}-*`], keywords: ['customer'] } });
  for (let i = 0; i < 10; i++) rules.push({ name: `find-${i}`, when: { findings: [{ type: 'US_SSN', min: i + 1 }, { type: 'EMAIL_ADDRESS', min: 10 + i }] } });
  for (let i = 0; i < 5; i++) rules.push({ name: `fetch-${i}`, when: { fetchDomains: [`internal-${i}.example`, `hr-${i}.example`] } });
  for (let i = 0; i < 5; i++) rules.push({ name: `misc-${i}`, when: { inputTokensOver: 200_000 + i, tools: [`danger_${i}_*`] } });
  return {
    apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'fifty', namespace: 'bench', generation: 1 },
    spec: {
      models: { allow: ['claude-sonnet-*', 'claude-haiku-*', 'claude-opus-*'] },
      maxTokens: 64000,
      tools: { allow: ['*'], deny: ['rm_*', 'exfiltrate'], serverTools: ['web_search', 'web_fetch', 'code_execution'], fetchDomains: ['example.com', 'docs.anthropic.com'] },
      mcpServers: { allowUrls: ['https://mcp.example.com/*'] },
      schedule: { windows: [{ start: '00:00', end: '24:00', timeZone: 'Europe/Berlin' }] },
      approval: { rules },
    },
  };
}

function claudeCodeRequest() {
  const tools = Array.from({ length: 23 }, (_, i) => ({ name: `Tool${i}`, description: 'x'.repeat(1500), input_schema: { type: 'object', properties: {} } }));
  const messages = [];
  for (let i = 0; i < 40; i++) {
    messages.push({ role: 'user', content: [{ type: 'text', text: `turn ${i} `.repeat(100) }] });
    messages.push({ role: 'assistant', content: [{ type: 'text', text: 'ok '.repeat(200) }] });
  }
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'log line with nothing sensitive '.repeat(200) }] });
  return { model: 'claude-sonnet-4-5', max_tokens: 32000, stream: true, system: [{ type: 'text', text: 's'.repeat(10000) }], tools, messages };
}

function percentiles(samples) {
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { p50: at(50), p99: at(99), max: s[s.length - 1] };
}

function time(fn) {
  for (let i = 0; i < 2000; i++) fn(); // warm-up: JIT
  const samples = new Array(ITER);
  for (let i = 0; i < ITER; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000; // µs
  }
  return percentiles(samples);
}

const effective = combine([fiftyRulePolicy()]);
const body = Buffer.from(JSON.stringify(claudeCodeRequest()));
const req = JSON.parse(body.toString('utf8'));
const ctx = { now: new Date(), findings: [{ type: 'EMAIL_ADDRESS' }], toolsSeenBefore: new Set(), estimatedTokens: estimateInputTokens(body.length) };
const decision = evaluate(effective, { route: 'messages', request: req }, ctx);
if (decision.kind !== 'allow') throw new Error(`bench request should be allowed, got ${JSON.stringify(decision)}`);

const rows = {
  'baseline: JSON.parse of the body (paid anyway)': time(() => JSON.parse(body.toString('utf8'))),
  'requestFacts (tools, newest turn)': time(() => requestFacts(req)),
  'evaluate, 50 rules, nothing matches': time(() => evaluate(effective, { route: 'messages', request: req }, ctx)),
  'evaluate, 50 rules, keyword rule matches': (() => {
    const hot = structuredClone(req);
    hot.messages.at(-1).content[0].content += ' payroll';
    return time(() => evaluate(effective, { route: 'messages', request: hot }, ctx));
  })(),
  // Patterns run on re2js (linear time: the pattern and the turn are untrusted); its literal prefilter
  // dismisses a turn without the patterns' literals, so these two rows hold the cost of a real scan.
  'evaluate, 50 rules, the turn holds the patterns\' literals, no pattern matches': (() => {
    const near = structuredClone(req);
    near.messages.at(-1).content[0].content += ' AKIA-style keys rotate; ticket 123-45-1000x and 555-12-99';
    const d = evaluate(effective, { route: 'messages', request: near }, ctx);
    if (d.kind !== 'allow') throw new Error(`the near-miss row should be allowed, got ${d.kind}`);
    return time(() => evaluate(effective, { route: 'messages', request: near }, ctx));
  })(),
  'evaluate, 50 rules, pattern rule matches': (() => {
    const hit = structuredClone(req);
    hit.messages.at(-1).content[0].content += ' key AKIAIOSFODNN7EXAMPLE';
    const d = evaluate(effective, { route: 'messages', request: hit }, ctx);
    if (d.kind !== 'approval') throw new Error(`the pattern row should hold the request, got ${d.kind}`);
    return time(() => evaluate(effective, { route: 'messages', request: hit }, ctx));
  })(),
};

console.log(`\n### Policy evaluation (${effective.rules.length} approval rules, body ${(body.length / 1024).toFixed(0)} KB, ${ITER} iterations)\n`);
console.log('| case | p50 µs | p99 µs | max µs |');
console.log('|---|---:|---:|---:|');
for (const [name, r] of Object.entries(rows)) console.log(`| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(0)} |`);
const out = join(HERE, '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'policy-evaluate.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, iterations: ITER, bodyBytes: body.length, rules: effective.rules.length, rows }, null, 2));
