// The SCIM endpoint over a real socket, with the real OwnerLifecycle and scimHandler, for the SCIM
// tests. The owner records and SkillLocks live in Kubernetes; here a stand-in store and lock client
// keep them in memory (the same lifecycle against a real kube-apiserver is in
// e2e/controller/controller.test.mjs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { SkillLock } from '@skillgate/api';
import type { Owner } from '@skillgate/identity';
import { ControllerMetrics, OwnerLifecycle, type LockClient, type OwnerStore } from '../src/index.js';
import { scimHandler, type ScimServerDeps } from '../src/owners/scim-server.js';

/** The owner records and SkillLocks the lifecycle writes, in memory. */
export class StandInCluster {
  readonly owners = new Map<string, Owner>();
  readonly locks = new Map<string, SkillLock>();
  readonly events: Array<{ owner: string; reason: string; message: string }> = [];
  readonly store = {
    get: async (email: string) => this.owners.get(email.toLowerCase()),
    getById: async (id: string) => [...this.owners.values()].find((o) => o.id === id),
    list: async () => [...this.owners.values()],
    create: async (o: Owner) => (this.owners.has(o.email) ? false : (this.owners.set(o.email, o), true)),
    update: async (email: string, change: (cur: Owner | undefined) => Owner) => {
      const before = this.owners.get(email.toLowerCase());
      const after = change(before);
      this.owners.set(after.email, after);
      return { before, after };
    },
    event: async (owner: Owner, _type: string, reason: string, message: string) => { this.events.push({ owner: owner.email, reason, message }); },
  } as unknown as OwnerStore;
  readonly lockClient = {
    apply: async (lock: SkillLock, replaces?: (current: SkillLock) => boolean) => {
      const current = this.locks.get(lock.metadata.name);
      if (current && replaces && !replaces(current)) return current;
      this.locks.set(lock.metadata.name, { ...lock, metadata: { ...lock.metadata, labels: { ...current?.metadata.labels, ...lock.metadata.labels } } });
      return lock;
    },
    remove: async (name: string) => this.locks.delete(name),
  } as unknown as LockClient;
}

export interface ScimReply {
  status: number;
  body: Record<string, unknown>;
}

/** A SCIM endpoint listening on 127.0.0.1, what it logged (warn and up), and a client for it. */
export interface ScimEndpoint {
  lifecycle: OwnerLifecycle;
  /** The controller's log lines at warn and above, parsed. */
  logged: Array<Record<string, unknown>>;
  scim(method: string, path: string, body?: unknown): Promise<ScimReply>;
  close(): Promise<void>;
}

export async function startScimEndpoint(cluster: StandInCluster, extra: Partial<ScimServerDeps> = {}): Promise<ScimEndpoint> {
  const lifecycle = new OwnerLifecycle(cluster.store, cluster.lockClient);
  const logged: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(line: Buffer, _enc, done) { logged.push(JSON.parse(line.toString('utf8')) as Record<string, unknown>); done(); } });
  const handler = scimHandler({
    store: cluster.store, lifecycle, bearerSecret: () => 's3cret', log: pino({ level: 'warn' }, sink), metrics: new ControllerMetrics(false), ...extra,
  });
  const server = http.createServer((req, res) => void handler(req, res, new URL(req.url ?? '/', 'http://controller')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;
  return {
    lifecycle,
    logged,
    scim: async (method, path, body) => {
      const res = await fetch(`${base}${path}`, {
        method, headers: { authorization: 'Bearer s3cret', 'content-type': 'application/scim+json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
