// The sidecar's lean Kubernetes client (cluster/kube-client.ts) against a real HTTPS server on
// loopback with certificates made by openssl: access from kubeconfigs (YAML and JSON, inline and
// file credentials, relative paths) and from a pod's ServiceAccount (the token re-read on every
// call), server verification, client certificates, Status errors, and watches (events split across
// chunks, a normal end, an ERROR event, an abort). The e2e approvals test runs the same client
// against a real kube-apiserver.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiError, KubeClient, inClusterAccess, kubeAccessFromEnv, kubeAccessFromKubeconfig, type KubeAccess } from '../src/cluster/kube-client.js';
import { errMessage } from '../src/cluster/kube-errors.js';

let dir: string;
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
let server: https.Server;
let base: string;
const seen: Array<{ method: string; url: string; auth?: string; contentType?: string; clientCn?: string; body: string }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-kube-'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [['server', 'apiserver', ['-extfile', 'san.ext']], ['client', 'system:serviceaccount:ns:skill', []]] as const) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', ...ext);
  }
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=other-ca');
  server = https.createServer({ key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({
        method: req.method!, url: req.url!, body,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}),
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => { seen.length = 0; });

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function kubeconfig(name: string, doc: unknown, asJson = false): string {
  const file = join(dir, name);
  writeFileSync(file, asJson ? JSON.stringify(doc) : toYaml(doc));
  return file;
}

// A tiny YAML writer for the nested maps and lists a kubeconfig has (block style, quoted scalars).
function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) return v.map((item) => `${indent}- ${toYaml(item, `${indent}  `).trimStart()}`).join('');
  if (v && typeof v === 'object') {
    return Object.entries(v).map(([k, child]) => (child && typeof child === 'object'
      ? `${indent}${k}:\n${toYaml(child, `${indent}  `)}`
      : `${indent}${k}: ${JSON.stringify(child)}\n`)).join('');
  }
  return `${JSON.stringify(v)}\n`;
}

const doc = (cluster: Record<string, unknown>, user: Record<string, unknown>) => ({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
  contexts: [{ name: 'other', context: { cluster: 'nowhere', user: 'nobody' } }, { name: 'test', context: { cluster: 'c', user: 'u' } }],
  clusters: [{ name: 'nowhere', cluster: { server: 'https://192.0.2.1:6443' } }, { name: 'c', cluster }],
  users: [{ name: 'nobody', user: {} }, { name: 'u', user }],
});

describe('kube access', () => {
  it('reads the current context of a YAML kubeconfig, with files relative to it', () => {
    writeFileSync(join(dir, 'token.txt'), 'tok-from-file\n');
    const access = kubeAccessFromKubeconfig(kubeconfig('files.yaml', doc(
      { server: base, 'certificate-authority': 'ca.crt' },
      { tokenFile: 'token.txt', 'client-certificate': 'client.crt', 'client-key': join(dir, 'client.key') },
    )));
    expect(access.server.href).toBe(`${base}/`);
    expect(access.ca).toBe(pem('ca.crt'));
    expect(access.cert).toBe(pem('client.crt'));
    expect(access.key).toBe(pem('client.key'));
    expect(access.token?.()).toBe('tok-from-file');
    writeFileSync(join(dir, 'token.txt'), 'rotated\n');
    expect(access.token?.()).toBe('rotated'); // re-read: projected tokens rotate
  });

  it('reads inline base64 credentials from a JSON kubeconfig', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const access = kubeAccessFromKubeconfig(kubeconfig('inline.json', doc(
      { server: base, 'certificate-authority-data': b64(pem('ca.crt')), 'tls-server-name': 'apiserver' },
      { token: 'inline-token', 'client-certificate-data': b64(pem('client.crt')), 'client-key-data': b64(pem('client.key')) },
    ), true));
    expect(access).toMatchObject({ ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key'), tlsServerName: 'apiserver' });
    expect(access.token?.()).toBe('inline-token');
  });

  it('refuses exec and auth-provider plugins by name, and files that are not kubeconfigs', () => {
    expect(() => kubeAccessFromKubeconfig(kubeconfig('exec.yaml', doc({ server: base }, { exec: { command: 'aws' } }))))
      .toThrow(/exec or auth-provider plugin, which the sidecar does not run/);
    writeFileSync(join(dir, 'broken.yaml'), 'clusters: [unclosed');
    expect(() => kubeAccessFromKubeconfig(join(dir, 'broken.yaml'))).toThrow(/broken.yaml: not a kubeconfig/);
    writeFileSync(join(dir, 'empty.json'), '{}');
    expect(() => kubeAccessFromKubeconfig(join(dir, 'empty.json'))).toThrow(/no cluster with a server/);
  });

  it("uses a pod's ServiceAccount when in a cluster, re-reading its token each time", () => {
    const sa = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(sa, 'ca.crt'), pem('ca.crt'));
    writeFileSync(join(sa, 'token'), 'sa-token-1');
    const access = kubeAccessFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(access.server.origin).toBe('https://10.96.0.1');
    expect(access.token?.()).toBe('sa-token-1');
    writeFileSync(join(sa, 'token'), 'sa-token-2');
    expect(access.token?.()).toBe('sa-token-2');
    expect(inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, sa).server.host).toBe('[fd00::1]:6443');
    // KUBECONFIG wins over the ServiceAccount, as with kubectl and client-node.
    const file = kubeconfig('env.yaml', doc({ server: base }, { token: 't' }));
    expect(kubeAccessFromEnv({ KUBECONFIG: `${file}:/nonexistent`, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, sa).source).toBe(file);
    expect(() => kubeAccessFromEnv({ HOME: dir }, sa)).toThrow(/no Kubernetes API access/);
    // A pod without the volume: the error names the file and the volume.
    expect(() => inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, join(dir, 'no-such-dir')))
      .toThrow(/in-cluster Kubernetes access needs .*no-such-dir\/ca\.crt \(the sidecar's projected ServiceAccount volume\): ENOENT/);
  });
});

describe('KubeClient', () => {
  const access = (over: Partial<KubeAccess> = {}): KubeAccess => ({ server: new URL(base), ca: pem('ca.crt'), token: () => 'tok', source: 'test', ...over });
  let client: KubeClient;
  afterEach(() => client?.close());

  it('sends JSON requests with the bearer token and query, and parses the answer', async () => {
    handler = (_req, res) => json(res, 200, { items: [{ metadata: { name: 'p' } }], metadata: { resourceVersion: '7' } });
    client = new KubeClient(access());
    const list = await client.request<{ items: unknown[] }>('GET', '/apis/skillgate.dev/v1alpha1/namespaces/ns/skillapprovals', { query: { labelSelector: 'a=b', limit: undefined } });
    expect(list.items).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/apis/skillgate.dev/v1alpha1/namespaces/ns/skillapprovals?labelSelector=a%3Db', auth: 'Bearer tok' });

    handler = (_req, res, body) => json(res, 200, JSON.parse(body));
    const patched = await client.request('PATCH', '/x/status', { body: { status: { phase: 'Used' } }, contentType: 'application/merge-patch+json' });
    expect(patched).toEqual({ status: { phase: 'Used' } });
    expect(seen[1]).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json', body: '{"status":{"phase":"Used"}}' });
  });

  it('authenticates with a client certificate', async () => {
    handler = (_req, res) => json(res, 200, {});
    client = new KubeClient(access({ token: undefined, cert: pem('client.crt'), key: pem('client.key') }));
    await client.request('GET', '/api');
    expect(seen[0]).toMatchObject({ clientCn: 'system:serviceaccount:ns:skill' });
    expect(seen[0]!.auth).toBeUndefined();
  });

  it("refuses a server whose certificate the CA did not sign", async () => {
    handler = (_req, res) => json(res, 200, {});
    client = new KubeClient(access({ ca: pem('other.crt') }));
    await expect(client.request('GET', '/api')).rejects.toThrow(/GET https:\/\/127\.0\.0\.1:\d+\/api: .*(self-signed|unable to verify|signature)/i);
    expect(seen).toHaveLength(0);
  });

  it("turns a Status answer into a KubeApiError with the API server's code and message", async () => {
    handler = (_req, res) => json(res, 409, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 409, reason: 'Conflict', message: 'the object has been modified' });
    client = new KubeClient(access());
    const err = await client.request('PATCH', '/x/status', { body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 409, body: { reason: 'Conflict' } });
    expect(errMessage(err)).toBe('the object has been modified');
  });

  it('watches: events split across chunks, bookmarks, and a normal end', async () => {
    handler = (req, res) => {
      expect(req.url).toBe('/w?resourceVersion=5&allowWatchBookmarks=true&watch=true');
      res.writeHead(200, { 'content-type': 'application/json' });
      const stream = `${JSON.stringify({ type: 'ADDED', object: { n: 1 } })}\n${JSON.stringify({ type: 'BOOKMARK', object: { n: 2 } })}\n${JSON.stringify({ type: 'MODIFIED', object: { n: 3 } })}\n`;
      res.write(stream.slice(0, 10));
      setTimeout(() => { res.write(stream.slice(10, 50)); setTimeout(() => res.end(stream.slice(50)), 20); }, 20);
    };
    client = new KubeClient(access());
    const events: Array<[string, unknown]> = [];
    const ended = new Promise<Error | undefined>((resolve) => {
      void client.watch('/w', { resourceVersion: '5', allowWatchBookmarks: true }, (type, obj) => events.push([type, obj]), resolve);
    });
    expect(await ended).toBeUndefined();
    expect(events).toEqual([['ADDED', { n: 1 }], ['BOOKMARK', { n: 2 }], ['MODIFIED', { n: 3 }]]);
  });

  it('ends a watch with the error of an ERROR event (410 Gone: re-list)', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (9)' } })}\n`);
    };
    client = new KubeClient(access());
    const err = await new Promise<Error | undefined>((resolve) => { void client.watch('/w', {}, () => undefined, resolve); });
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 410 });
    expect(errMessage(err)).toBe('too old resource version: 5 (9)');
  });

  it('rejects a watch the server refuses, and stops silently when aborted', async () => {
    handler = (_req, res) => json(res, 403, { kind: 'Status', code: 403, message: 'skillapprovals is forbidden' });
    client = new KubeClient(access());
    await expect(client.watch('/w', {}, () => undefined, () => undefined)).rejects.toMatchObject({ code: 403 });

    let open!: ServerResponse;
    handler = (_req, res) => { res.writeHead(200); res.write('\n'); open = res; };
    let done = false;
    const events: string[] = [];
    const watching = await client.watch<{ n: number }>('/w', {}, (type) => events.push(type), () => { done = true; });
    open.write(`${JSON.stringify({ type: 'ADDED', object: { n: 1 } })}\n`);
    for (let waited = 0; events.length === 0 && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
    watching.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['ADDED']);
    expect(done).toBe(false);
  });
});
