// Creating, listing and removing SkillLock objects through the API server, so RBAC decides who may
// lock. Used by offboarding (controller and CLI) and `skillgate lock|unlock`. Idempotent: creating a
// lock that exists updates its spec; removing one that is gone is not an error.
import type { SkillLock } from '@skillgate/api';
import { SKILLLOCKS, describeApiError, statusOf, type KubeClients } from '../kube.js';

export class LockClientError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
    this.name = 'LockClientError';
  }
}

export class LockClient {
  constructor(private readonly kube: KubeClients) {}

  /**
   * Create the lock, or update the spec of the one under its name — unless `replaces` says the one
   * there must stay as it is (then it is returned unchanged).
   */
  async apply(lock: SkillLock, replaces?: (current: SkillLock) => boolean): Promise<SkillLock> {
    try {
      return await this.kube.custom.createClusterCustomObject({ ...SKILLLOCKS, body: lock }) as SkillLock;
    } catch (err) {
      if (statusOf(err) !== 409) throw new LockClientError(`cannot create SkillLock ${lock.metadata.name}: ${describeApiError(err)}`, statusOf(err));
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.get(lock.metadata.name);
      if (!current) return this.apply(lock, replaces);
      if (replaces && !replaces(current)) return current;
      try {
        const body: SkillLock = { ...current, metadata: { ...current.metadata, labels: { ...current.metadata.labels, ...lock.metadata.labels } }, spec: lock.spec };
        return await this.kube.custom.replaceClusterCustomObject({ ...SKILLLOCKS, name: lock.metadata.name, body }) as SkillLock;
      } catch (err) {
        if (statusOf(err) === 409) continue;
        throw new LockClientError(`cannot update SkillLock ${lock.metadata.name}: ${describeApiError(err)}`, statusOf(err));
      }
    }
    throw new LockClientError(`cannot update SkillLock ${lock.metadata.name}: too many concurrent updates`, 409);
  }

  async get(name: string): Promise<SkillLock | undefined> {
    try {
      return await this.kube.custom.getClusterCustomObject({ ...SKILLLOCKS, name }) as SkillLock;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new LockClientError(`cannot read SkillLock ${name}: ${describeApiError(err)}`, statusOf(err));
    }
  }

  async list(labelSelector?: string): Promise<SkillLock[]> {
    try {
      const res = await this.kube.custom.listClusterCustomObject({ ...SKILLLOCKS, ...(labelSelector ? { labelSelector } : {}) }) as { items: SkillLock[] };
      return res.items;
    } catch (err) {
      throw new LockClientError(`cannot list SkillLocks: ${describeApiError(err)}`, statusOf(err));
    }
  }

  /** Returns false when it did not exist. */
  async remove(name: string): Promise<boolean> {
    try {
      await this.kube.custom.deleteClusterCustomObject({ ...SKILLLOCKS, name });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw new LockClientError(`cannot delete SkillLock ${name}: ${describeApiError(err)}`, statusOf(err));
    }
  }
}
