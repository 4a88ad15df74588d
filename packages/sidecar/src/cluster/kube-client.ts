// The sidecar's Kubernetes API client: JSON requests and watches over node:https, authenticated as
// the pod's ServiceAccount (in-cluster) or by a kubeconfig file (KUBECONFIG or ~/.kube/config: tests
// and local runs). The sidecar needs five calls on its own custom objects — list, watch, get, create
// and merge-patch — and runs in every skill pod, so it does not load @kubernetes/client-node (which
// the controller, webhook and CLI use): loading that package's config module alone costs ~49 MB of
// resident memory (the whole generated API, undici, proxy agents), more than the rest of the sidecar.
// Kubeconfig support covers what a pod or a test cluster hands out: bearer tokens (inline or a file),
// client certificates and CA bundles (inline or files). exec and auth-provider plugins are refused
// with a clear error rather than half-supported.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import { http, https } from '../node-http.js';
import { parseJsonText, yaml } from '../yaml.js';

/** Where the API server is and how to authenticate to it. */
export interface KubeAccess {
  server: URL;
  /** PEM CA bundle the server's certificate must chain to; undefined: the system's roots. */
  ca?: string;
  /** Client certificate and key (PEM), when the user authenticates by certificate. */
  cert?: string;
  key?: string;
  /** The bearer token now (re-read from its file on every call: projected tokens rotate). */
  token?: () => string | undefined;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  /** Where this came from, for error messages. */
  source: string;
}

/** A non-2xx answer from the API server; `body` is its Status object when it sent one. */
export class KubeApiError extends Error {
  constructor(readonly code: number, readonly body: unknown, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The access a pod or a developer has, found as kubectl and client-node find it: the kubeconfig
 * named by KUBECONFIG (first of a path list), else ~/.kube/config when it exists, else the pod's
 * ServiceAccount (KUBERNETES_SERVICE_HOST and the mounted token and CA).
 */
export function kubeAccessFromEnv(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeAccess {
  const fromEnv = env.KUBECONFIG?.split(':').find(Boolean);
  if (fromEnv) return kubeAccessFromKubeconfig(fromEnv);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (!env.KUBERNETES_SERVICE_HOST && existsSync(home)) return kubeAccessFromKubeconfig(home);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterAccess(env, saDir);
  throw new Error('no Kubernetes API access: set KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST and a ServiceAccount token)');
}

/** The pod's ServiceAccount: token and CA as the kubelet (or skillgate's injector) mounts them. */
export function inClusterAccess(env: NodeJS.ProcessEnv, saDir = SA_DIR): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const tokenFile = join(saDir, 'token');
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`in-cluster Kubernetes access needs ${file} (the sidecar's projected ServiceAccount volume): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca: read(join(saDir, 'ca.crt')),
    token: () => read(tokenFile).trim(),
    source: `in-cluster ServiceAccount (${saDir})`,
  };
}

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name: string; user?: Record<string, unknown> }>;
}

/** A kubeconfig file's current context (YAML or JSON). */
export function kubeAccessFromKubeconfig(file: string): KubeAccess {
  const text = readFileSync(file, 'utf8');
  const doc = parseKubeconfig(text, file);
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context
    ?? (doc.contexts?.length === 1 ? doc.contexts[0]!.context : undefined);
  const clusterEntry = doc.clusters?.find((c) => c.name === context?.cluster) ?? (doc.clusters?.length === 1 ? doc.clusters[0] : undefined);
  const userEntry = doc.users?.find((u) => u.name === context?.user) ?? (doc.users?.length === 1 ? doc.users[0] : undefined);
  const cluster = clusterEntry?.cluster;
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`${file}: no cluster with a server for context ${JSON.stringify(contextName)}`);
  const user = userEntry?.user ?? {};
  const base = dirname(file);
  const path = (p: unknown): string => (isAbsolute(String(p)) ? String(p) : join(base, String(p)));
  const inlineOrFile = (data: unknown, fileRef: unknown): string | undefined => {
    if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
    if (typeof fileRef === 'string' && fileRef) return readFileSync(path(fileRef), 'utf8');
    return undefined;
  };
  if (user.exec || user['auth-provider']) {
    throw new Error(`${file}: user ${JSON.stringify(userEntry?.name)} authenticates with an exec or auth-provider plugin, which the sidecar does not run; use a token, a token file or a client certificate`);
  }
  const access: KubeAccess = { server: new URL(cluster.server), source: file };
  const ca = inlineOrFile(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) access.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) access.insecureSkipTlsVerify = true;
  if (typeof cluster['tls-server-name'] === 'string') access.tlsServerName = cluster['tls-server-name'];
  const cert = inlineOrFile(user['client-certificate-data'], user['client-certificate']);
  const key = inlineOrFile(user['client-key-data'], user['client-key']);
  if (cert && key) Object.assign(access, { cert, key });
  if (typeof user.token === 'string' && user.token) {
    const token = user.token;
    access.token = () => token;
  } else if (typeof user.tokenFile === 'string' && user.tokenFile) {
    const tokenFile = path(user.tokenFile);
    access.token = () => readFileSync(tokenFile, 'utf8').trim();
  }
  return access;
}

function parseKubeconfig(text: string, file: string): KubeconfigDoc {
  try {
    return (parseJsonText(text) ?? yaml().parse(text)) as KubeconfigDoc;
  } catch (err) {
    throw new Error(`${file}: not a kubeconfig (${(err as Error).message})`);
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; merge patches: application/merge-patch+json. */
  contentType?: string;
  /** Give up after this long without an answer (ms). Default 30 s. */
  timeoutMs?: number;
}

/** JSON requests and watches against one API server. */
export class KubeClient {
  private readonly agent: Agent;
  private readonly transport: typeof http | ReturnType<typeof https>;

  constructor(readonly access: KubeAccess) {
    const tls = access.server.protocol === 'https:';
    this.transport = tls ? https() : http;
    this.agent = tls
      ? new (https().Agent)({
        keepAlive: true, maxFreeSockets: 2,
        ...(access.ca ? { ca: access.ca } : {}),
        ...(access.cert && access.key ? { cert: access.cert, key: access.key } : {}),
        ...(access.tlsServerName ? { servername: access.tlsServerName } : {}),
        rejectUnauthorized: access.insecureSkipTlsVerify !== true,
      })
      : new http.Agent({ keepAlive: true, maxFreeSockets: 2 });
  }

  /** One request; resolves with the parsed JSON answer, rejects with KubeApiError on non-2xx. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const body = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw apiError(method, path, status, body);
    return body as T;
  }

  /**
   * Watch `path` from `query.resourceVersion`: `onEvent` for each event (BOOKMARKs included),
   * `onDone` once when the watch ends — undefined when the server closed it normally (re-list and
   * watch again), an error otherwise (an ERROR event such as 410 Gone, a failed request, a broken
   * connection). Resolves once the server accepted the watch; abort the controller to stop it
   * (onDone is then not called).
   */
  async watch<T>(
    path: string, query: RequestOptions['query'],
    onEvent: (type: WatchEventType, obj: T) => void, onDone: (err?: Error) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const res = await this.send('GET', path, { query: { ...query, watch: true }, timeoutMs: 0 }, controller.signal);
    if ((res.statusCode ?? 0) !== 200) throw apiError('GET', `${path} (watch)`, res.statusCode ?? 0, await readBody(res));
    res.socket?.setKeepAlive(true, 30_000);
    let ended = false;
    const done = (err?: Error): void => {
      if (ended) return;
      ended = true;
      if (!controller.signal.aborted) onDone(err);
    };
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line || ended) continue;
        let ev: { type: WatchEventType; object: T };
        try {
          ev = JSON.parse(line) as { type: WatchEventType; object: T };
        } catch (err) {
          res.destroy();
          done(new Error(`watch ${path}: unreadable event (${(err as Error).message})`));
          return;
        }
        if (ev.type === 'ERROR') {
          const st = ev.object as { code?: number; message?: string };
          res.destroy();
          done(new KubeApiError(st.code ?? 500, st, `watch ${path}: ${st.message ?? 'error event'}`));
          return;
        }
        onEvent(ev.type, ev.object);
      }
    });
    res.on('end', () => done());
    res.on('error', (err) => done(err));
    res.on('close', () => done(res.complete ? undefined : new Error(`watch ${path}: connection closed`)));
    return controller;
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, opts: RequestOptions, signal?: AbortSignal): Promise<IncomingMessage> {
    const url = new URL(path, this.access.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.access.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    if (payload) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const req: ClientRequest = this.transport.request(url, { method, headers, agent: this.agent, ...(signal ? { signal } : {}) }, resolve);
      req.on('error', (err) => reject(new Error(`${method} ${this.access.server.origin}${url.pathname}: ${err.message}`, { cause: err })));
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      }
      req.end(payload);
    });
  }
}

/** A whole answer: its JSON, or its text when it is not JSON (undefined when empty). */
function readBody(res: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(text);
      }
    });
    res.on('error', reject);
  });
}

function apiError(method: string, path: string, status: number, body: unknown): KubeApiError {
  const message = body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : `HTTP ${status}`;
  return new KubeApiError(status, body, `${method} ${path}: ${message}`);
}

/** The REST path of a namespaced custom object collection (and object, subresource). */
export function customObjectPath(group: string, version: string, namespace: string, plural: string, name?: string, sub?: string): string {
  let p = `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}
