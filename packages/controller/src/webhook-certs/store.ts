// Where the webhook TLS state lives in Kubernetes, and the only code that reads or writes it: the
// CA Secret (controller only), the webhook's serving Secret (tls.crt, tls.key, ca.crt), the
// controller's own serving Secret when it is managed too, and the caBundle of every webhook in the
// named Mutating/ValidatingWebhookConfigurations. Writes carry the
// resourceVersion they read, so two controller replicas never overwrite each other (a 409 means
// "look again"), and nothing is written that is already so. Never logs Secret data.
import { randomBytes } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  type V1MutatingWebhookConfiguration, type V1OwnerReference, type V1Secret, type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { statusOf, type KubeClients } from '../kube.js';
import { bundleFingerprints } from './certificate.js';
import type { CertState, ServingKeyPair } from './plan.js';

export const ANNOTATION_NEXT_TRUSTED_SINCE = 'skillgate.dev/next-ca-trusted-since';
export const ANNOTATION_PREVIOUS_RETIRE_AT = 'skillgate.dev/previous-ca-retire-at';
export const ANNOTATION_SERVING_NOT_AFTER = 'skillgate.dev/serving-certificate-not-after';
export const ANNOTATION_CA_NOT_AFTER = 'skillgate.dev/ca-not-after';
const LABELS = { 'app.kubernetes.io/name': 'skillgate', 'app.kubernetes.io/component': 'webhook-certs' };

type SecretRef = { namespace: string; name: string };
export type WebhookConfigurationObject =
  | { kind: 'MutatingWebhookConfiguration'; object: V1MutatingWebhookConfiguration }
  | { kind: 'ValidatingWebhookConfiguration'; object: V1ValidatingWebhookConfiguration };

export interface ObservedCerts {
  state: CertState;
  caSecret?: V1Secret;
  servingSecret?: V1Secret;
  controllerSecret?: V1Secret;
  configurations: WebhookConfigurationObject[];
  /** Names in the configuration list that exist as neither kind. */
  missing: string[];
  /** CA fingerprints present in the caBundle of every webhook of every configuration found. */
  trustedEverywhere: Set<string>;
}

/** Someone else wrote first (HTTP 409): re-read and plan again. */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`${what} changed while we were writing it; will re-read`);
    this.name = 'WriteConflict';
  }
}

const decode = (s: V1Secret | undefined, key: string): string | undefined => {
  const v = s?.data?.[key];
  return v ? Buffer.from(v, 'base64').toString('utf8') : undefined;
};
const encode = (v: string): string => Buffer.from(v, 'utf8').toString('base64');
const time = (v: string | undefined): number | undefined => (v && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined);

export function stateFromSecrets(caSecret: V1Secret | undefined, servingSecret: V1Secret | undefined, controllerSecret?: V1Secret): CertState {
  const state: CertState = {};
  const activeCert = decode(caSecret, 'ca.crt');
  const activeKey = decode(caSecret, 'ca.key');
  if (activeCert && activeKey) state.active = { certPem: activeCert, keyPem: activeKey };
  const nextCert = decode(caSecret, 'next.crt');
  const nextKey = decode(caSecret, 'next.key');
  if (nextCert && nextKey) {
    const since = time(caSecret?.metadata?.annotations?.[ANNOTATION_NEXT_TRUSTED_SINCE]);
    state.next = { certPem: nextCert, keyPem: nextKey, ...(since !== undefined ? { trustedSince: since } : {}) };
  }
  const previousCert = decode(caSecret, 'previous.crt');
  const retireAt = time(caSecret?.metadata?.annotations?.[ANNOTATION_PREVIOUS_RETIRE_AT]);
  if (previousCert && retireAt !== undefined) state.previous = { certPem: previousCert, retireAt };
  const serving = servingPairOf(servingSecret);
  if (serving) state.serving = serving;
  const controllerServing = servingPairOf(controllerSecret);
  if (controllerServing) state.controllerServing = controllerServing;
  return state;
}

/** The tls.crt and tls.key a serving Secret holds, when it holds both. */
function servingPairOf(secret: V1Secret | undefined): ServingKeyPair | undefined {
  const certPem = decode(secret, 'tls.crt');
  const keyPem = decode(secret, 'tls.key');
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

function caSecretContent(state: CertState): { data: Record<string, string>; annotations: Record<string, string> } {
  const data: Record<string, string> = { 'ca.crt': encode(state.active!.certPem), 'ca.key': encode(state.active!.keyPem) };
  const annotations: Record<string, string> = {};
  if (state.next) {
    data['next.crt'] = encode(state.next.certPem);
    data['next.key'] = encode(state.next.keyPem);
    if (state.next.trustedSince !== undefined) annotations[ANNOTATION_NEXT_TRUSTED_SINCE] = new Date(state.next.trustedSince).toISOString();
  }
  if (state.previous) {
    data['previous.crt'] = encode(state.previous.certPem);
    annotations[ANNOTATION_PREVIOUS_RETIRE_AT] = new Date(state.previous.retireAt).toISOString();
  }
  return { data, annotations };
}

const sameData = (a: Record<string, string> | undefined, b: Record<string, string>): boolean => {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b[k]);
};

const OURS = [ANNOTATION_NEXT_TRUSTED_SINCE, ANNOTATION_PREVIOUS_RETIRE_AT, ANNOTATION_SERVING_NOT_AFTER, ANNOTATION_CA_NOT_AFTER];
const sameAnnotations = (have: Record<string, string> | undefined, want: Record<string, string>): boolean =>
  OURS.every((k) => (have?.[k] ?? undefined) === (want[k] ?? undefined));

export class WebhookCertStore {
  private readonly admission: AdmissionregistrationV1Api;

  constructor(
    private readonly kube: KubeClients,
    private readonly refs: { secret: SecretRef; caSecret: SecretRef; webhookConfigurations: string[]; controller?: { secret: SecretRef } },
  ) {
    this.admission = kube.config.makeApiClient(AdmissionregistrationV1Api);
  }

  async observe(): Promise<ObservedCerts> {
    const [caSecret, servingSecret, controllerSecret] = await Promise.all([
      this.readSecret(this.refs.caSecret), this.readSecret(this.refs.secret),
      this.refs.controller ? this.readSecret(this.refs.controller.secret) : undefined,
    ]);
    const configurations: WebhookConfigurationObject[] = [];
    const missing: string[] = [];
    for (const name of this.refs.webhookConfigurations) {
      const found = await this.readConfiguration(name);
      if (found) configurations.push(found);
      else missing.push(name);
    }
    let trustedEverywhere: Set<string> | undefined;
    for (const c of configurations) {
      for (const w of c.object.webhooks ?? []) {
        const here = bundleFingerprints(w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : undefined);
        trustedEverywhere = trustedEverywhere ? new Set([...trustedEverywhere].filter((f) => here.has(f))) : here;
      }
    }
    return {
      state: stateFromSecrets(caSecret, servingSecret, controllerSecret),
      ...(caSecret ? { caSecret } : {}),
      ...(servingSecret ? { servingSecret } : {}),
      ...(controllerSecret ? { controllerSecret } : {}),
      configurations, missing, trustedEverywhere: trustedEverywhere ?? new Set(),
    };
  }

  /** Writes the CA Secret when its content differs. Returns whether it wrote. */
  async writeCaSecret(existing: V1Secret | undefined, state: CertState, owner: V1OwnerReference | undefined): Promise<boolean> {
    const { data, annotations } = caSecretContent(state);
    return this.writeSecret(this.refs.caSecret, existing, 'Opaque', data, annotations, owner);
  }

  /** Writes the serving Secret (tls.crt, tls.key, ca.crt) when its content differs. */
  async writeServingSecret(existing: V1Secret | undefined, state: CertState, bundle: string, notAfter: { serving: number; ca: number }, owner: V1OwnerReference | undefined): Promise<boolean> {
    return this.writeTlsSecret(this.refs.secret, existing, state.serving!, bundle, notAfter, owner);
  }

  /**
   * Writes the controller's serving Secret (tls.crt, tls.key, and ca.crt: the bundle the controller
   * hands to sidecars with their tokens) when its content differs. No-op unless configured.
   */
  async writeControllerSecret(existing: V1Secret | undefined, state: CertState, bundle: string, notAfter: { serving: number; ca: number }, owner: V1OwnerReference | undefined): Promise<boolean> {
    if (!this.refs.controller || !state.controllerServing) return false;
    return this.writeTlsSecret(this.refs.controller.secret, existing, state.controllerServing, bundle, notAfter, owner);
  }

  /** A kubernetes.io/tls Secret holding a serving pair and the CA bundle, annotated with both expiries. */
  private writeTlsSecret(
    ref: SecretRef, existing: V1Secret | undefined, pair: ServingKeyPair, bundle: string,
    notAfter: { serving: number; ca: number }, owner: V1OwnerReference | undefined,
  ): Promise<boolean> {
    const data = { 'tls.crt': encode(pair.certPem), 'tls.key': encode(pair.keyPem), 'ca.crt': encode(bundle) };
    const annotations = {
      [ANNOTATION_SERVING_NOT_AFTER]: new Date(notAfter.serving).toISOString(),
      [ANNOTATION_CA_NOT_AFTER]: new Date(notAfter.ca).toISOString(),
    };
    return this.writeSecret(ref, existing, 'kubernetes.io/tls', data, annotations, owner);
  }

  /** Puts `bundle` into every webhook's caBundle; returns the names of the configurations it changed. */
  async patchCaBundles(configurations: WebhookConfigurationObject[], bundle: string): Promise<string[]> {
    const want = encode(bundle);
    const patched: string[] = [];
    for (const c of configurations) {
      const webhooks = c.object.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig.caBundle === want)) continue;
      for (const w of webhooks) w.clientConfig.caBundle = want;
      const name = c.object.metadata!.name!;
      try {
        if (c.kind === 'MutatingWebhookConfiguration') await this.admission.replaceMutatingWebhookConfiguration({ name, body: c.object });
        else await this.admission.replaceValidatingWebhookConfiguration({ name, body: c.object });
      } catch (err) {
        if (statusOf(err) === 409) throw new WriteConflict(`${c.kind} ${name}`);
        throw err;
      }
      patched.push(name);
    }
    return patched;
  }

  /** An ownerReference to the first webhook configuration, so the Secrets go when the chart goes. */
  static ownerOf(configurations: WebhookConfigurationObject[]): V1OwnerReference | undefined {
    const c = configurations[0];
    if (!c?.object.metadata?.uid) return undefined;
    return { apiVersion: 'admissionregistration.k8s.io/v1', kind: c.kind, name: c.object.metadata.name!, uid: c.object.metadata.uid };
  }

  /** Records what happened as a Kubernetes Event on the serving Secret (best effort). */
  async event(type: 'Normal' | 'Warning', reason: string, message: string, secret: V1Secret | undefined, now: number): Promise<void> {
    const at = new Date(now);
    await this.kube.core.createNamespacedEvent({
      namespace: this.refs.secret.namespace,
      body: {
        metadata: { name: `${this.refs.secret.name}.${randomBytes(8).toString('hex')}`, namespace: this.refs.secret.namespace },
        involvedObject: {
          apiVersion: 'v1', kind: 'Secret', namespace: this.refs.secret.namespace, name: this.refs.secret.name,
          ...(secret?.metadata?.uid ? { uid: secret.metadata.uid } : {}),
        },
        type, reason, message: message.slice(0, 1024),
        firstTimestamp: at, lastTimestamp: at, count: 1,
        source: { component: 'skillgate-controller' },
        reportingComponent: 'skillgate-controller',
      },
    });
  }

  async readSecret(ref: SecretRef): Promise<V1Secret | undefined> {
    try {
      return await this.kube.core.readNamespacedSecret(ref);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async readConfiguration(name: string): Promise<WebhookConfigurationObject | undefined> {
    try {
      return { kind: 'MutatingWebhookConfiguration', object: await this.admission.readMutatingWebhookConfiguration({ name }) };
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    try {
      return { kind: 'ValidatingWebhookConfiguration', object: await this.admission.readValidatingWebhookConfiguration({ name }) };
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    return undefined;
  }

  private async writeSecret(
    ref: SecretRef, existing: V1Secret | undefined, type: string,
    data: Record<string, string>, annotations: Record<string, string>, owner: V1OwnerReference | undefined,
  ): Promise<boolean> {
    const owners = existing?.metadata?.ownerReferences ?? [];
    const ownerMissing = !!owner && !owners.some((o) => o.uid === owner.uid);
    if (existing && sameData(existing.data, data) && sameAnnotations(existing.metadata?.annotations, annotations) && !ownerMissing) return false;
    const keptAnnotations = Object.fromEntries(Object.entries(existing?.metadata?.annotations ?? {}).filter(([k]) => !OURS.includes(k)));
    const body: V1Secret = {
      apiVersion: 'v1', kind: 'Secret', type: existing?.type ?? type,
      metadata: {
        name: ref.name, namespace: ref.namespace,
        labels: { ...existing?.metadata?.labels, ...LABELS },
        annotations: { ...keptAnnotations, ...annotations },
        ...(owner || owners.length ? { ownerReferences: ownerMissing ? [...owners, owner!] : owners } : {}),
        ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      data,
    };
    try {
      if (existing) await this.kube.core.replaceNamespacedSecret({ name: ref.name, namespace: ref.namespace, body });
      else await this.kube.core.createNamespacedSecret({ namespace: ref.namespace, body });
    } catch (err) {
      if (statusOf(err) === 409) throw new WriteConflict(`Secret ${ref.namespace}/${ref.name}`);
      throw err;
    }
    return true;
  }
}
