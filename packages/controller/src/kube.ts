// The controller's access to the Kubernetes API: one KubeConfig (in-cluster, KUBECONFIG or an
// explicit file) and the typed clients the reconcilers and endpoints need. Thin on purpose: every
// call site speaks Kubernetes objects, and errors keep their HTTP status (`statusOf`) so callers can
// tell "not found" from "forbidden". Never logs tokens or Secret data.
import {
  KubeConfig, CoreV1Api, AuthenticationV1Api, CustomObjectsApi, Watch, ApiException,
  PatchStrategy, setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '@skillgate/api';

export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  authn: AuthenticationV1Api;
  custom: CustomObjectsApi;
  watch: Watch;
}

export function kubeClients(kubeconfigPath?: string): KubeClients {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromDefault();
  return kubeClientsFor(config);
}

/** The API clients of a kubeconfig already loaded (the CLI checks it first). */
export function kubeClientsFor(config: KubeConfig): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    authn: config.makeApiClient(AuthenticationV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    watch: new Watch(config),
  };
}

/** HTTP status of a failed API call (0 when it never reached the server). */
export function statusOf(err: unknown): number {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown })?.code ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' ? code : 0;
}

/** A short, secret-free description of an API failure for logs and CLI errors. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    let message = '';
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) as { message?: string } : err.body as { message?: string };
      message = body?.message ?? '';
    } catch {
      message = String(err.body).slice(0, 200);
    }
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  const message = (err as Error)?.message ?? String(err);
  // fetch() says only "fetch failed"; what failed (refused, no such host, a certificate) is its cause.
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return why && !message.includes(why) ? `${message} (${why})` : message;
}

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export const SKILLLOCKS = { group: GROUP, version: VERSION, plural: 'skilllocks' } as const;
