// The SCIM /Users endpoint over a real socket, in the request shapes Okta and Entra ID send: a
// deactivation that renames the user in the same request still offboards the owner the id names, a
// rename alone changes nothing and is not refused, list paging follows RFC 7644 §3.4.2.4, and an id
// that is not valid percent-encoding is a SCIM 404. The store and lock client stand in for the
// Kubernetes objects (scim-endpoint.ts).
import { newOwner, offboardLockName } from '@skillgate/identity';
import { SCHEMA_ERROR, SCHEMA_OFFBOARDING, SCHEMA_PATCH, SCHEMA_USER } from '../src/index.js';
import { StandInCluster, startScimEndpoint, type ScimEndpoint } from './scim-endpoint.js';

const jane = 'jane@example.com';
const departed = 'jane.departed@example.com';

let cluster: StandInCluster;
let endpoint: ScimEndpoint;
let id: string;

beforeEach(async () => {
  cluster = new StandInCluster();
  // Provisioned by the identity provider.
  const owner = { ...newOwner(jane, new Date()), changedBy: 'scim' };
  cluster.owners.set(jane, owner);
  id = owner.id;
  endpoint = await startScimEndpoint(cluster);
});
afterEach(() => endpoint.close());

/** The owner record the id names, and whether their offboarding lock is in place. */
const stored = () => ({ owner: cluster.owners.get(jane), locked: cluster.locks.has(offboardLockName(jane)) });
const renameWarnings = () => endpoint.logged.filter((l) => l.requestedUserName !== undefined);

describe('a deactivation that also renames the user', () => {
  const offboardedAsStored = (reply: { status: number; body: Record<string, unknown> }) => {
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, userName: jane, active: false, [SCHEMA_OFFBOARDING]: { offboardedBy: 'scim' } });
    expect(stored()).toMatchObject({ owner: { active: false, offboardedBy: 'scim' }, locked: true });
    // Nothing was stored under the new name: the id still means jane, and only jane.
    expect([...cluster.owners.keys()]).toEqual([jane]);
    expect(cluster.locks.has(offboardLockName(departed))).toBe(false);
    expect(renameWarnings()).toEqual([expect.objectContaining({ level: 40, ownerId: id, userName: jane, requestedUserName: departed, active: false })]);
  };

  test("Entra's one PATCH per sync cycle (capitalised Replace, active as the string \"False\") offboards the owner and ignores the rename", async () => {
    offboardedAsStored(await endpoint.scim('PATCH', `/Users/${id}`, {
      schemas: [SCHEMA_PATCH],
      Operations: [
        { op: 'Replace', path: 'userName', value: departed },
        { op: 'Replace', path: 'displayName', value: 'Jane (departed)' },
        { op: 'Replace', path: 'active', value: 'False' },
      ],
    }));
    expect(cluster.owners.get(jane)!.displayName).toBe('Jane (departed)');
  });

  test('the same PATCH with the deactivation first offboards just the same', async () => {
    offboardedAsStored(await endpoint.scim('PATCH', `/Users/${id}`, {
      schemas: [SCHEMA_PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }, { op: 'Replace', path: 'userName', value: departed }],
    }));
  });

  test("Okta's and Entra's PATCH without a path, both attributes in one value, offboards the owner and ignores the rename", async () => {
    offboardedAsStored(await endpoint.scim('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', value: { active: false, userName: departed } }] }));
  });

  test('a PUT of the whole user with another userName and active false offboards the owner and ignores the rename', async () => {
    offboardedAsStored(await endpoint.scim('PUT', `/Users/${id}`, { schemas: [SCHEMA_USER], userName: departed, name: { givenName: 'Jane', familyName: 'Doe' }, active: false }));
  });

  test('a PUT with active false offboards even when its userName is not an email address', async () => {
    const reply = await endpoint.scim('PUT', `/Users/${id}`, { schemas: [SCHEMA_USER], userName: 'jdoe', active: false });
    expect([reply.status, reply.body.userName, reply.body.active]).toEqual([200, jane, false]);
    expect(stored()).toMatchObject({ owner: { active: false }, locked: true });
  });

  test('a deactivation sent again, renamed again, stays applied and answered 200 (the IdP has nothing to retry)', async () => {
    const patch = { schemas: [SCHEMA_PATCH], Operations: [{ op: 'Replace', path: 'userName', value: departed }, { op: 'Replace', path: 'active', value: 'False' }] };
    expect((await endpoint.scim('PATCH', `/Users/${id}`, patch)).status).toBe(200);
    expect((await endpoint.scim('PATCH', `/Users/${id}`, patch)).status).toBe(200);
    expect(stored()).toMatchObject({ owner: { active: false }, locked: true });
  });
});

describe('a rename alone', () => {
  test("is answered 200 with the user as stored, so Entra does not retry it, and changes no owner's status", async () => {
    const reply = await endpoint.scim('PATCH', `/Users/${id}`, {
      schemas: [SCHEMA_PATCH],
      Operations: [{ op: 'Replace', path: 'userName', value: departed }, { op: 'Replace', path: 'displayName', value: 'Jane Doe' }],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, userName: jane, active: true, displayName: 'Jane Doe' });
    expect(stored()).toMatchObject({ owner: { active: true, displayName: 'Jane Doe' }, locked: false });
    expect([...cluster.owners.keys()]).toEqual([jane]);
    expect(renameWarnings()).toEqual([expect.objectContaining({ ownerId: id, userName: jane, requestedUserName: departed })]);
    // The id still names jane; the new name names nobody (a user for it is provisioned with a POST).
    expect((await endpoint.scim('GET', `/Users/${id}`)).body.userName).toBe(jane);
    expect((await endpoint.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${departed}"`)}`)).body.totalResults).toBe(0);
  });

  test('in a PUT is answered the same way', async () => {
    const reply = await endpoint.scim('PUT', `/Users/${id}`, { schemas: [SCHEMA_USER], userName: departed, active: true });
    expect([reply.status, reply.body.userName, reply.body.active]).toEqual([200, jane, true]);
    expect(renameWarnings()).toHaveLength(1);
  });

  test('that only changes case or spacing is no rename', async () => {
    const reply = await endpoint.scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'Replace', path: 'userName', value: ' Jane@Example.COM ' }] });
    expect([reply.status, reply.body.userName]).toEqual([200, jane]);
    expect(renameWarnings()).toEqual([]);
  });
});

describe('list paging (RFC 7644 §3.4.2.4)', () => {
  beforeEach(() => {
    for (const email of ['kim@example.com', 'lee@example.com']) cluster.owners.set(email, newOwner(email, new Date()));
  });
  const list = async (query: string) => (await endpoint.scim('GET', `/Users?${query}`)).body;
  const names = (body: Record<string, unknown>) => (body.Resources as Array<{ userName: string }>).map((u) => u.userName);

  test('count=0 answers totalResults alone: no resources, itemsPerPage 0', async () => {
    expect(await list('count=0')).toMatchObject({ totalResults: 3, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });

  test('a negative count is taken as 0', async () => {
    expect(await list('count=-5')).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
  });

  test('a startIndex below 1 is taken as 1', async () => {
    for (const startIndex of ['0', '-3']) {
      const body = await list(`startIndex=${startIndex}&count=2`);
      expect([body.startIndex, body.itemsPerPage, names(body)]).toEqual([1, 2, [jane, 'kim@example.com']]);
    }
  });

  test('startIndex and count select a page; no count, or one that is not a number, is the default page', async () => {
    expect(names(await list('startIndex=2&count=1'))).toEqual(['kim@example.com']);
    expect(names(await list('startIndex=4'))).toEqual([]);
    expect((await list('')).itemsPerPage).toBe(3);
    expect((await list('count=many')).itemsPerPage).toBe(3);
  });
});

describe('an id that is not valid percent-encoding', () => {
  test('is a SCIM 404 for every method, not an internal error', async () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const reply = await endpoint.scim(method, '/Users/%E0%A4%A', method === 'PUT' || method === 'PATCH' ? { Operations: [{ op: 'Replace', path: 'active', value: 'False' }] } : undefined);
      expect([method, reply.status, reply.body]).toEqual([method, 404, { schemas: [SCHEMA_ERROR], status: '404', detail: expect.stringMatching(/not found/) }]);
    }
    expect(endpoint.logged.filter((l) => l.level === 50)).toEqual([]);
    expect(stored()).toMatchObject({ owner: { active: true }, locked: false });
  });
});
