// Offboarding writes the owner record and the offboarding lock at once (owners/lifecycle.ts). When
// only one of the two writes succeeds (a responder whose RBAC covers locks but not the owner
// records, say), the error says which half is in force and what is left to do — never a bare
// "cannot read owner record" with the lock silently placed.
import { OwnerLifecycle } from '../src/owners/lifecycle.js';
import type { LockClient } from '../src/locks/client.js';
import type { OwnerStore } from '../src/owners/store.js';

const forbidden = (what: string) => Object.assign(new Error(`${what}: forbidden`), { code: 403 });

function lifecycle(opts: { recordFails?: boolean; lockFails?: boolean }) {
  const applied: string[] = [];
  const store = {
    update: async (_email: string, change: (cur: undefined) => unknown) => {
      if (opts.recordFails) throw forbidden('configmaps "owner-x" is forbidden');
      return { before: undefined, after: change(undefined) };
    },
  } as unknown as OwnerStore;
  const locks = {
    apply: async (lock: { metadata: { name: string } }) => {
      if (opts.lockFails) throw forbidden('skilllocks.skillgate.dev is forbidden');
      applied.push(lock.metadata.name);
    },
  } as unknown as LockClient;
  return { life: new OwnerLifecycle(store, locks, () => Date.parse('2026-11-28T12:00:00Z')), applied };
}

test('the lock in force but the record not written: the error says the lock holds and the tokens are not revoked', async () => {
  const { life, applied } = lifecycle({ recordFails: true });
  await expect(life.offboard('jane@example.com', 'left the company', 'resp@example.com')).rejects.toThrow(
    /^the lock offboard-\S+ is in force \(every skill of jane@example\.com is refused\), but the owner record could not be written, so their issued tokens are not revoked.*forbidden.*offboard through SCIM$/);
  expect(applied).toHaveLength(1);
});

test('the lock not written: the error says the owner is not locked (and whether the record changed)', async () => {
  await expect(lifecycle({ lockFails: true }).life.offboard('jane@example.com', 'r', 'resp@example.com')).rejects.toThrow(
    /^jane@example\.com is not locked: the lock offboard-\S+ could not be written: .*forbidden \(the owner record now says offboarded: run this again to place the lock\)$/);
  await expect(lifecycle({ lockFails: true, recordFails: true }).life.offboard('jane@example.com', 'r', 'resp@example.com')).rejects.toThrow(
    /^jane@example\.com is not locked: .*; nor the owner record: .*forbidden$/);
});

test('both written: the change as before', async () => {
  const { life, applied } = lifecycle({});
  await expect(life.offboard('jane@example.com', 'r', 'resp@example.com')).resolves.toMatchObject({ transition: 'offboarded', owner: { active: false } });
  expect(applied).toHaveLength(1);
});
