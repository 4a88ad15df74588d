// The controller's JWKS kept in a ConfigMap of its namespace, with every key the controllers ever
// signed with: a key is added when a controller starts with it and never removed, so records whose
// sidecars were endorsed before a key rotation stay verifiable. Responders read it through the
// Kubernetes API (`skillgate sessions verify --trust-jwks kube:NAMESPACE/NAME`), no port-forward to
// the controller needed; whoever can rewrite it needs write access to the controller's namespace,
// which is more than write access to Redis. The JWKS endpoint keeps serving the current key only.
import type { JWK } from 'jose';
import { describeApiError, statusOf, type KubeClients } from './kube.js';

export const JWKS_FIELD = 'jwks.json';
/** Keys kept at most (oldest dropped first): rotations are rare; this only bounds a runaway. */
export const MAX_PUBLISHED_KEYS = 50;

export interface PublishedJwk extends JWK {
  /** When a controller first published this key (ISO 8601). */
  skillgate_published_at?: string;
}

/** The keys with `jwk` added when no key of its kid is there yet (pure); undefined when unchanged. */
export function withKey(keys: readonly PublishedJwk[], jwk: JWK, now: Date): PublishedJwk[] | undefined {
  if (keys.some((k) => k.kid === jwk.kid)) return undefined;
  return [...keys, { ...jwk, skillgate_published_at: now.toISOString() }].slice(-MAX_PUBLISHED_KEYS);
}

/** Parse the ConfigMap's JWKS; anything unreadable counts as no keys (it is rewritten whole). */
export function parsePublished(text: string | undefined): PublishedJwk[] {
  if (!text) return [];
  try {
    const keys = (JSON.parse(text) as { keys?: unknown }).keys;
    return Array.isArray(keys) ? keys.filter((k): k is PublishedJwk => !!k && typeof k === 'object' && typeof (k as JWK).kid === 'string') : [];
  } catch {
    return [];
  }
}

/** Add `jwk` to the ConfigMap, creating it; retried on conflict (replicas start together). */
export async function publishJwk(
  kube: Pick<KubeClients, 'core'>,
  ref: { namespace: string; name: string },
  jwk: JWK,
  now: () => Date = () => new Date(),
): Promise<'added' | 'present'> {
  const where = `ConfigMap ${ref.namespace}/${ref.name}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let current: { resourceVersion?: string; keys: PublishedJwk[] } | undefined;
    try {
      const cm = await kube.core.readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name });
      current = { ...(cm.metadata?.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}), keys: parsePublished(cm.data?.[JWKS_FIELD]) };
    } catch (err) {
      if (statusOf(err) !== 404) throw new Error(`cannot read the JWKS ${where}: ${describeApiError(err)}`);
    }
    const keys = withKey(current?.keys ?? [], jwk, now());
    if (!keys) return 'present';
    const body = {
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: {
        name: ref.name, namespace: ref.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'skillgate-controller', 'app.kubernetes.io/component': 'jwks' },
        annotations: { 'skillgate.dev/purpose': 'every key the skillgate controller signed workload tokens and record-key endorsements with: skillgate sessions verify --trust-jwks kube:NAMESPACE/NAME' },
        ...(current?.resourceVersion ? { resourceVersion: current.resourceVersion } : {}),
      },
      data: { [JWKS_FIELD]: `${JSON.stringify({ keys }, null, 2)}\n` },
    };
    try {
      if (current) await kube.core.replaceNamespacedConfigMap({ namespace: ref.namespace, name: ref.name, body });
      else await kube.core.createNamespacedConfigMap({ namespace: ref.namespace, body });
      return 'added';
    } catch (err) {
      if (statusOf(err) === 409) continue;
      throw new Error(`cannot write the JWKS ${where}: ${describeApiError(err)}`);
    }
  }
  throw new Error(`cannot write the JWKS ${where}: too many concurrent updates`);
}
