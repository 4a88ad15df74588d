// A value the controller keeps in a Secret of its own namespace and every replica shares: read it,
// or — the first replica to start — make it and create the Secret (a 409 on create means another
// replica won the race: read theirs). The signing key and the installation masking key live so. The
// Secret is not managed by Helm: it outlives an uninstall, so what was made with it stays usable.
import { describeApiError, statusOf, type KubeClients } from './kube.js';

export interface KeptSecret {
  /** The Secret, and the field of its data that holds the value. */
  ref: { namespace: string; name: string };
  field: string;
  /** What it is, for errors ("signing key") and the Secret's component label ("signing-key"). */
  what: string;
  component: string;
  /** Said on the Secret itself, for whoever finds it: what it is for, what deleting it costs. */
  purpose: string;
  /** A new value (text), for the first replica. */
  make(): string;
  /** Throws when a stored value cannot be used (its message says why). */
  check(value: string): void;
}

export class KeptSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeptSecretError';
  }
}

/** The value kept in `s.ref`, made and stored there when there is none yet. */
export async function keptSecretValue(kube: Pick<KubeClients, 'core'>, s: KeptSecret): Promise<{ value: string; created: boolean }> {
  const where = `Secret ${s.ref.namespace}/${s.ref.name}`;
  const checked = (value: string): string => {
    try {
      s.check(value);
      return value;
    } catch (err) {
      throw new KeptSecretError(`the ${s.what} in ${where} cannot be used: ${(err as Error).message}`);
    }
  };
  const read = async (): Promise<string | undefined> => {
    let b64: string | undefined;
    try {
      const secret = await kube.core.readNamespacedSecret({ namespace: s.ref.namespace, name: s.ref.name });
      b64 = secret.data?.[s.field];
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new KeptSecretError(`cannot read the ${s.what} ${where}: ${describeApiError(err)}`);
    }
    if (!b64) throw new KeptSecretError(`${where} has no ${s.field}: delete it to have the controller make a ${s.what}`);
    return checked(Buffer.from(b64, 'base64').toString('utf8'));
  };
  const existing = await read();
  if (existing !== undefined) return { value: existing, created: false };
  const value = checked(s.make());
  try {
    await kube.core.createNamespacedSecret({
      namespace: s.ref.namespace,
      body: {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        metadata: {
          name: s.ref.name,
          labels: { 'app.kubernetes.io/managed-by': 'skillgate-controller', 'app.kubernetes.io/component': s.component },
          annotations: { 'skillgate.dev/purpose': s.purpose },
        },
        data: { [s.field]: Buffer.from(value).toString('base64') },
      },
    });
    return { value, created: true };
  } catch (err) {
    if (statusOf(err) !== 409) throw new KeptSecretError(`cannot create the ${s.what} ${where}: ${describeApiError(err)}`);
  }
  // Another replica created it first: everyone uses theirs.
  const theirs = await read();
  if (theirs === undefined) throw new KeptSecretError(`${where} was created by another replica but cannot be read back`);
  return { value: theirs, created: false };
}
