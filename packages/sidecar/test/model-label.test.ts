// The `model` label of skillgate_sidecar_requests_total: the skill writes the string, so it becomes a
// label value only once the upstream has answered 2xx for it (a model that exists), and only so
// many of them. Until then, and past the cap, requests count as model="other".
import { startSidecar, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { MAX_MODEL_LABELS, SidecarMetrics } from '../src/metrics.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';
import { send } from './skill-client.js';

const SECRET_MODEL = 'claude-abc-secret-sk-ant-api03-aaaa';

const modelsIn = (text: string): Set<string> =>
  new Set([...text.matchAll(/skillgate_sidecar_requests_total\{[^}]*model="([^"]*)"/g)].map((x) => x[1]!));

describe('the model label', () => {
  it('is "other" for a model the upstream has not answered 2xx for, and the model once it has', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    m.requestDone('messages', 404, 'claude-not-a-model', 10, 20);
    m.requestDone('messages', 403, 'claude-sonnet-4-6', 10, 0); // refused before the upstream: unproven
    m.requestDone('messages', 200, 'claude-sonnet-4-6', 10, 20);
    m.requestDone('messages', 429, 'claude-sonnet-4-6', 10, 20); // admitted: keeps its label on errors too
    m.requestDone('messages', 404, 'claude-not-a-model', 10, 20);
    const text = await m.registry.metrics();
    expect(modelsIn(text)).toEqual(new Set(['other', 'claude-sonnet-4-6']));
    expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="404",model="other"} 2');
    expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="403",model="other"} 1');
    expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="429",model="claude-sonnet-4-6"} 1');
  });

  it('cannot be filled by a skill sending made-up models: real models still get their own label', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    // A skill spraying ids the upstream refuses (404) takes none of the slots...
    for (let i = 0; i < 3 * MAX_MODEL_LABELS; i++) m.requestDone('messages', 404, `claude-made-up-${i}`, 10, 20);
    m.requestDone('messages', 200, 'claude-opus-4-1', 10, 20);
    const text = await m.registry.metrics();
    expect(modelsIn(text)).toEqual(new Set(['other', 'claude-opus-4-1']));
    expect(text).toContain(`skillgate_sidecar_requests_total{route="messages",status="404",model="other"} ${3 * MAX_MODEL_LABELS}`);
  });

  it('goes by what the upstream answered when the skill was told otherwise (a held stream is answered 200 first)', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    m.requestDone('messages', 200, 'claude-held-then-404', 10, 20, 404);
    m.requestDone('messages', 200, 'claude-held-then-denied', 10, 20, 0);
    m.requestDone('messages', 200, 'claude-held-then-answered', 10, 20, 200);
    expect(modelsIn(await m.registry.metrics())).toEqual(new Set(['other', 'claude-held-then-answered']));
  });

  describe('through a running sidecar', () => {
    let upstream: UpstreamDouble;
    let sidecar: Sidecar;

    beforeAll(async () => {
      // The upstream double answers as the Claude API does for a model it does not know (404
      // not_found_error) and for one it does (200): a real API is not reachable from the tests.
      upstream = await startUpstreamDouble();
      sidecar = await startSidecar({
        upstreamUrl: upstream.url, upstreamApiKey: 'sk-ant-sidecar-key',
        listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
      }, { logger: createLogger('silent') });
    });
    afterAll(async () => {
      await sidecar.close();
      await upstream.close();
    });

    const ask = (model: string) => send(sidecar.claudeUrl, 'POST', '/v1/messages', JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })).done;

    it('never turns what a skill put in "model" into a label value unless the API served that model', async () => {
      upstream.queue({ status: 404, headers: { 'content-type': 'application/json' }, chunks: [`{"type":"error","error":{"type":"not_found_error","message":"model: ${SECRET_MODEL}"}}`] });
      expect((await ask(SECRET_MODEL)).status).toBe(404);
      upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"type":"message","content":[]}'] });
      expect((await ask('claude-sonnet-4-5')).status).toBe(200);
      const text = (await send(sidecar.metricsUrl, 'GET', '/metrics').done).body;
      expect(text).not.toContain(SECRET_MODEL);
      expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="404",model="other"} 1');
      expect(text).toContain('skillgate_sidecar_requests_total{route="messages",status="200",model="claude-sonnet-4-5"} 1');
    });
  });
});
