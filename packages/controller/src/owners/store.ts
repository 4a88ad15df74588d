// Owners persisted as Kubernetes objects: one ConfigMap per owner in the controller's namespace
// (`skillgate-owner-<id>`, label skillgate.dev/owner-record=true, the record as JSON under
// `owner.json`). Kubernetes is the source of truth: it survives a Redis flush and a controller
// restart, RBAC governs who may change it, and the CLI and the SCIM endpoint write the same objects.
// Optimistic concurrency (resourceVersion) keeps concurrent writers from losing updates.
import { randomBytes } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { atCanonicalAddress, mergeOwnerRecords, normalizeOwner, ownerId, type Owner } from '@skillgate/identity';
import { statusOf, describeApiError, type KubeClients } from '../kube.js';

export const OWNER_RECORD_LABEL = 'skillgate.dev/owner-record';
export const ownerConfigMapName = (id: string): string => `skillgate-owner-${id}`;

export class OwnerStoreError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
    this.name = 'OwnerStoreError';
  }
}

/**
 * The owner a record stands for, by the canonical form of its address (normalizeOwner). A record
 * stored before that form existed (under `jane+triage@example.com`) stands for the same owner as
 * the canonical one, under another ConfigMap name: see ownerFromRecords.
 */
export function ownerFromConfigMap(cm: V1ConfigMap): Owner | undefined {
  const text = cm.data?.['owner.json'];
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as Owner;
    if (typeof o.email !== 'string' || typeof o.active !== 'boolean') return undefined;
    return atCanonicalAddress(o);
  } catch {
    return undefined;
  }
}

/**
 * One owner from the records of their address's spellings, by ConfigMap name: the record of the
 * canonical address (every write since goes there) decides, the others fill in (mergeOwnerRecords).
 */
export function ownerFromRecords(id: string, records: Iterable<readonly [string, Owner]>): Owner | undefined {
  const canonicalName = ownerConfigMapName(id);
  let canonical: Owner | undefined;
  const others: Owner[] = [];
  for (const [name, owner] of records) {
    if (name === canonicalName) canonical = owner;
    else others.push(owner);
  }
  return mergeOwnerRecords(canonical, others);
}

/** Owners from their records: one each, records of older spellings merged in (ownerFromRecords). */
export function ownersFromConfigMaps(cms: readonly V1ConfigMap[]): Owner[] {
  const byId = new Map<string, Array<[string, Owner]>>();
  for (const cm of cms) {
    const owner = ownerFromConfigMap(cm);
    if (!owner) continue;
    let records = byId.get(owner.id);
    if (!records) byId.set(owner.id, (records = []));
    records.push([cm.metadata?.name ?? '', owner]);
  }
  return [...byId].map(([id, records]) => ownerFromRecords(id, records)).filter((o): o is Owner => !!o);
}

function toConfigMap(owner: Owner, namespace: string, resourceVersion?: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ownerConfigMapName(owner.id),
      namespace,
      labels: { [OWNER_RECORD_LABEL]: 'true', 'app.kubernetes.io/part-of': 'skillgate', 'skillgate.dev/owner-active': String(owner.active) },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: { 'owner.json': JSON.stringify(owner) },
  };
}

export class OwnerStore {
  constructor(private readonly kube: KubeClients, readonly namespace: string) {}

  async get(email: string): Promise<Owner | undefined> {
    return (await this.read(ownerId(email)))?.owner;
  }

  async getById(id: string): Promise<Owner | undefined> {
    if (!/^[0-9a-f]{24}$/.test(id)) return undefined;
    return (await this.read(id))?.owner;
  }

  async list(): Promise<Owner[]> {
    try {
      const res = await this.kube.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: `${OWNER_RECORD_LABEL}=true` });
      return ownersFromConfigMaps(res.items).sort((a, b) => a.email.localeCompare(b.email));
    } catch (err) {
      throw new OwnerStoreError(`cannot list owners in namespace ${this.namespace}: ${describeApiError(err)}`, statusOf(err));
    }
  }

  /** Create a record unless one exists. Returns false when it already existed. */
  async create(owner: Owner): Promise<boolean> {
    try {
      await this.kube.core.createNamespacedConfigMap({ namespace: this.namespace, body: toConfigMap(owner, this.namespace) });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw new OwnerStoreError(`cannot create owner ${owner.email}: ${describeApiError(err)}`, statusOf(err));
    }
  }

  /**
   * Read-modify-write one owner record. `change` gets the current record (or undefined) and returns
   * the new one; retried on conflict.
   */
  async update(email: string, change: (current: Owner | undefined) => Owner): Promise<{ before: Owner | undefined; after: Owner }> {
    const id = ownerId(email);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.read(id);
      const after = change(current?.owner);
      try {
        if (current) {
          await this.kube.core.replaceNamespacedConfigMap({ name: ownerConfigMapName(id), namespace: this.namespace, body: toConfigMap(after, this.namespace, current.resourceVersion) });
        } else {
          await this.kube.core.createNamespacedConfigMap({ namespace: this.namespace, body: toConfigMap(after, this.namespace) });
        }
        return { before: current?.owner, after };
      } catch (err) {
        if (statusOf(err) === 409) continue;
        throw new OwnerStoreError(`cannot save owner ${after.email}: ${describeApiError(err)}`, statusOf(err));
      }
    }
    throw new OwnerStoreError(`cannot save owner ${normalizeOwner(email)}: too many concurrent updates`, 409);
  }

  /**
   * Record something about an owner as a Kubernetes Event on their record (`kubectl get events`
   * in the controller's namespace), e.g. a reinstatement SCIM asked for and may not make.
   */
  async event(owner: Owner, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const at = new Date();
    const name = ownerConfigMapName(owner.id);
    await this.kube.core.createNamespacedEvent({
      namespace: this.namespace,
      body: {
        metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace: this.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name },
        type, reason, message: message.slice(0, 1024),
        firstTimestamp: at, lastTimestamp: at, count: 1,
        source: { component: 'skillgate-controller' },
        reportingComponent: 'skillgate-controller',
      },
    });
  }

  private async read(id: string): Promise<{ owner: Owner; resourceVersion?: string } | undefined> {
    try {
      const cm = await this.kube.core.readNamespacedConfigMap({ name: ownerConfigMapName(id), namespace: this.namespace });
      const owner = ownerFromConfigMap(cm);
      return owner ? { owner, ...(cm.metadata?.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}) } : undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new OwnerStoreError(`cannot read owner record ${id}: ${describeApiError(err)}`, statusOf(err));
    }
  }
}
