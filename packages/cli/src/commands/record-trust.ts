// Which checkpoint keys `sessions verify` and `verify BUNDLE` believe. By default the keys the store
// or the bundle publishes: that proves the record is intact as signed, not who signed it. Pinned
// keys (--public-key) fit a stable key the responder holds. --trust-jwks fits a cluster, where every
// sidecar signs with a key of its own, made at start-up: a checkpoint is believed only if it carries
// the controller's endorsement of its key, verified against the controller's JWKS, so someone who can
// write to Redis cannot rewrite the record and sign it again; and an endorsed key vouches only for
// its own pod's sessions.
import { readFileSync } from 'node:fs';
import { RecordKeyTrust, type Jwks, type RecordKeyEndorsement } from '@skillgate/identity';
import { keyIdOf, type CheckpointKeyTrust } from '@skillgate/record';
import { CliError } from '../command.js';

type Values = Record<string, string | boolean | string[] | undefined>;

export const trustOptions = {
  'public-key': { type: 'string', multiple: true },
  'trust-jwks': { type: 'string', multiple: true },
  kubeconfig: { type: 'string' },
} as const;

/** How the usage lines name trustOptions. */
export const trustUsage = '[--trust-jwks kube:NS/NAME|FILE|URL]... [--public-key FILE]... [--kubeconfig F]';

export const trustHelp = `--trust-jwks kube:NS/NAME|FILE|URL: the controller's JWKS: the ConfigMap the chart's controller keeps
with every key it signed with (kube:skillgate-system/skillgate-jwks, read with --kubeconfig F or
the current kubeconfig), its endpoint (https://<controller>:8443/.well-known/jwks.json; a private CA:
NODE_EXTRA_CA_CERTS), or a saved copy; repeatable. A checkpoint counts only if the controller
endorsed its key, it commits only that pod's sessions, and every session must be committed by such
a checkpoint.
--public-key FILE: trust only this Ed25519 public key (PEM), instead of the keys published beside the
record (repeatable); every session must then be committed by a checkpoint it signed. Beside
--trust-jwks, a key that needs no endorsement.
Without either, the published keys are used: that proves the record is intact as signed, not who
signed it.`;

/** The keys pinned with --public-key, by key id (undefined when none). */
export function pinnedKeys(values: Values): Record<string, string> | undefined {
  const files = values['public-key'];
  if (!Array.isArray(files) || files.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const f of files) {
    try {
      const pem = readFileSync(f, 'utf8');
      out[keyIdOf(pem)] = pem;
    } catch (err) {
      throw new CliError(`cannot use public key ${f}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * Pinned keys (--public-key) as the trust anchor: every checkpoint they sign is trusted, for every
 * session — and, as with any anchor, a session no such checkpoint commits is refused (a record whose
 * checkpoints were emptied, or cannot be read, has nothing signed in it).
 */
export const trustPinned: CheckpointKeyTrust = async () => ({});

export interface ControllerTrust {
  trust: CheckpointKeyTrust;
  /** What each endorsed key was endorsed for, by key id, filled in as checkpoints are judged. */
  endorsed: Map<string, RecordKeyEndorsement>;
}

/** The trust anchor from --trust-jwks (undefined when not given); pinned keys stay trusted as they are. */
export async function controllerTrust(values: Values, pinned: Record<string, string> | undefined): Promise<ControllerTrust | undefined> {
  const sources = values['trust-jwks'];
  if (!Array.isArray(sources) || sources.length === 0) return undefined;
  const keys: Jwks['keys'] = [];
  const kubeconfig = typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined;
  for (const source of sources) keys.push(...(await readJwks(source, kubeconfig)).keys);
  const anchor = new RecordKeyTrust({ keys });
  const endorsed = new Map<string, RecordKeyEndorsement>();
  // An endorsed key vouches only for its own pod's sessions (a session belongs to one pod): a
  // sidecar's stolen key cannot re-sign another pod's record.
  const trust: CheckpointKeyTrust = async (cp, pem) => {
    if (pinned?.[cp.keyId] === pem) return {};
    if (!cp.endorsement) return { refused: 'its checkpoint carries no endorsement from the controller (a key made outside a cluster, or before its sidecar\'s first token exchange)' };
    try {
      const e = await anchor.verify(cp.endorsement, pem);
      endorsed.set(cp.keyId, e);
      return { scope: { namespace: e.namespace, pod: e.pod } };
    } catch (err) {
      return { refused: (err as Error).message };
    }
  };
  return { trust, endorsed };
}

/**
 * The controller's JWKS ConfigMap (every key it signed with, rotations included), through the
 * Kubernetes API with --kubeconfig or the current kubeconfig, checked as the cluster commands check
 * it (one line naming what is missing): NAMESPACE/NAME.
 */
async function readJwksConfigMap(ref: string, kubeconfig: string | undefined): Promise<string> {
  const [namespace, name, extra] = ref.split('/');
  if (!namespace || !name || extra !== undefined) throw new Error('expected kube:NAMESPACE/NAME (e.g. kube:skillgate-system/skillgate-jwks)');
  // Loaded only for a kube: source (the Kubernetes client is large).
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const { loadKubeConfig } = await import('./kube-access.js');
  const kc = loadKubeConfig(kubeconfig);
  const { describeApiError } = await import('@skillgate/controller/kube');
  const { JWKS_FIELD } = await import('@skillgate/controller/jwks-configmap');
  let cm;
  try {
    cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace, name });
  } catch (err) {
    throw new Error(describeApiError(err));
  }
  const text = cm.data?.[JWKS_FIELD];
  if (!text) throw new Error(`ConfigMap ${namespace}/${name} has no ${JWKS_FIELD}`);
  return text;
}

/** One line per endorsed key, for the human output. */
export function describeEndorsed(endorsed: ControllerTrust['endorsed']): string[] {
  return [...endorsed].map(([keyId, e]) => `key ${keyId}: endorsed by ${e.iss} for pod ${e.namespace}/${e.pod} (skill ${e.skill}, owner ${e.owner})`);
}

async function readJwks(source: string, kubeconfig: string | undefined): Promise<Jwks> {
  let text: string;
  try {
    if (source.startsWith('kube:')) {
      text = await readJwksConfigMap(source.slice('kube:'.length), kubeconfig);
    } else if (/^https?:\/\//.test(source)) {
      const res = await fetch(source, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } else {
      text = readFileSync(source, 'utf8');
    }
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    throw new CliError(`cannot read the JWKS ${source}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
  }
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the JWKS ${source} is not JSON: ${(err as Error).message}`);
  }
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new CliError(`the JWKS ${source} holds no keys (expected {"keys": [...]}, as the controller serves at /.well-known/jwks.json)`);
  return jwks as Jwks;
}
