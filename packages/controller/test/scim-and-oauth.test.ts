import { createHash, generateKeyPairSync } from 'node:crypto';
import { newOwner } from '@skillgate/identity';
import { listPage, matchesFilter, patchFields, parseFilter, replacementFields, userFromBody, ScimError, parseTokenExchangeForm, OAuthError, identityFromPod } from '../src/index.js';

describe('SCIM dialects', () => {
  test('the Okta PATCH shape deactivates', () => {
    expect(patchFields({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] })).toEqual({ active: false });
  });
  test('the Entra PATCH shape, with a capitalised op and a string boolean, deactivates', () => {
    expect(patchFields({ Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })).toEqual({ active: false });
  });
  test('unknown attributes are ignored and a bad boolean is an invalidValue error', () => {
    expect(patchFields({ Operations: [{ op: 'Add', path: 'name.givenName', value: 'A' }, { op: 'Replace', path: 'displayName', value: 'A B' }] })).toEqual({ displayName: 'A B' });
    expect(() => patchFields({ Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] })).toThrow(ScimError);
  });
  test('filters: userName eq is case-insensitive in the attribute; anything else is invalidFilter', () => {
    expect(parseFilter('UserName eq "a@b.com"')).toEqual({ attribute: 'userName', value: 'a@b.com' });
    expect(parseFilter(null)).toBeUndefined();
    expect(() => parseFilter('userName sw "a"')).toThrow(expect.objectContaining({ scimType: 'invalidFilter' }));
  });
  test('a user needs an email userName (or a primary email)', () => {
    expect(userFromBody({ emails: [{ value: 'x@y.com', primary: true }] }).userName).toBe('x@y.com');
    expect(() => userFromBody({ userName: 'not-an-email' })).toThrow(/email/);
  });
  test("a userName names its owner's canonical address: a +tag is that owner, a prefix is refused, a userName filter finds every spelling", () => {
    expect(userFromBody({ userName: 'Jane+Okta@Example.com' }).userName).toBe('Jane+Okta@Example.com');
    expect(() => userFromBody({ userName: 'oidc:jane@example.com' })).toThrow(expect.objectContaining({ status: 400, scimType: 'invalidValue', message: expect.stringMatching(/plain email address.*prefix/) }));
    const jane = newOwner('Jane+Okta@Example.com', new Date());
    expect(jane.email).toBe('jane@example.com');
    for (const value of ['jane@example.com', 'JANE+other@example.com', 'jane@example.com.']) expect([value, matchesFilter(jane, { attribute: 'userName', value })]).toEqual([value, true]);
    expect(matchesFilter(jane, { attribute: 'userName', value: 'janet@example.com' })).toBe(false);
  });
  test('a PUT body needs no usable userName: it is only compared with the stored one', () => {
    expect(replacementFields({ userName: 'jdoe', active: 'False' })).toEqual({ userName: 'jdoe', active: false });
    expect(replacementFields({ active: false })).toEqual({ active: false });
    expect(() => replacementFields([])).toThrow(expect.objectContaining({ scimType: 'invalidSyntax' }));
  });
  test('paging: count 0 asks for totalResults alone, negatives count as 0, startIndex below 1 as 1, pages are capped', () => {
    const page = (q: string) => listPage(new URLSearchParams(q));
    expect(page('')).toEqual({ startIndex: 1, count: 100 });
    expect(page('count=0')).toEqual({ startIndex: 1, count: 0 });
    expect(page('count=-1&startIndex=-7')).toEqual({ startIndex: 1, count: 0 });
    expect(page('startIndex=0&count=2.9')).toEqual({ startIndex: 1, count: 2 });
    expect(page('count=x&startIndex=')).toEqual({ startIndex: 1, count: 100 });
    expect(page('count=100000&startIndex=51')).toEqual({ startIndex: 51, count: 1000 });
  });
});

describe('RFC 8693 form', () => {
  const ok = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 't', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' };
  test('a complete form parses, audience defaulting to skillgate', () => {
    expect(parseTokenExchangeForm(new URLSearchParams(ok))).toEqual({ subjectToken: 't', audience: 'skillgate' });
  });
  test('another grant, audience or token type is refused with the RFC error code', () => {
    expect(() => parseTokenExchangeForm(new URLSearchParams({ ...ok, grant_type: 'client_credentials' }))).toThrow(expect.objectContaining({ error: 'unsupported_grant_type' }));
    expect(() => parseTokenExchangeForm(new URLSearchParams({ ...ok, audience: 'vault' }))).toThrow(expect.objectContaining({ error: 'invalid_target' }));
    expect(() => parseTokenExchangeForm(new URLSearchParams({ ...ok, subject_token: '' }))).toThrow(OAuthError);
  });
  test('a record_key is taken as its thumbprint; anything but an Ed25519 public key is invalid_request', () => {
    const der = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    expect(parseTokenExchangeForm(new URLSearchParams({ ...ok, record_key: der.toString('base64url') }))).toEqual({
      subjectToken: 't', audience: 'skillgate', recordKeyThumbprint: createHash('sha256').update(der).digest('hex'),
    });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64url');
    expect(() => parseTokenExchangeForm(new URLSearchParams({ ...ok, record_key: ec }))).toThrow(expect.objectContaining({ error: 'invalid_request', description: 'record_key must be an Ed25519 public key, got ec' }));
    expect(() => parseTokenExchangeForm(new URLSearchParams({ ...ok, record_key: '' }))).toThrow(expect.objectContaining({ error: 'invalid_request' }));
  });
});

describe('pod to skill identity', () => {
  const reviewed = { namespace: 'ns', serviceAccount: 'default', podName: 'p', podUid: 'u1' };
  const sidecar = { name: 'skillgate-sidecar', image: 'skillgate:1', restartPolicy: 'Always' };
  const pod = { metadata: { name: 'p', uid: 'u1', labels: { 'skillgate.dev/skill': 's' }, annotations: { 'skillgate.dev/owner': 'Alice@Example.com', 'skillgate.dev/injected': '0.2.2' } }, spec: { initContainers: [sidecar], containers: [{ name: 'app', image: 'app:1' }] } };
  const injected = { metadata: { name: 'ns', labels: { 'skillgate.dev/inject': 'enabled' } } };
  test('a labelled, annotated, injected pod becomes an identity with a normalised owner', () => {
    expect(identityFromPod(reviewed, pod, injected)).toEqual({ namespace: 'ns', serviceAccount: 'default', pod: 'p', podUid: 'u1', skill: 's', owner: 'alice@example.com' });
  });
  test('a replaced pod, a missing owner or a different ServiceAccount is invalid_grant', () => {
    expect(() => identityFromPod(reviewed, { ...pod, metadata: { ...pod.metadata, uid: 'u2' } }, injected)).toThrow(/replaced/);
    expect(() => identityFromPod(reviewed, { ...pod, metadata: { ...pod.metadata, annotations: { 'skillgate.dev/injected': '0.2.2' } } }, injected)).toThrow(/owner/);
    expect(() => identityFromPod(reviewed, { ...pod, spec: { ...pod.spec, serviceAccountName: 'other' } }, injected)).toThrow(/ServiceAccount/);
    expect(() => identityFromPod(reviewed, undefined, injected)).toThrow(/no longer exists/);
  });
  test("the identity names the owner's canonical address; a prefixed or trailing-dot owner is invalid_grant", () => {
    const owned = (owner: string) => ({ ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, 'skillgate.dev/owner': owner } } });
    expect(identityFromPod(reviewed, owned('Alice+Triage@Example.com'), injected).owner).toBe('alice@example.com');
    expect(() => identityFromPod(reviewed, owned('oidc:alice@example.com'), injected)).toThrow(expect.objectContaining({ error: 'invalid_grant', description: expect.stringMatching(/it has a prefix, "oidc:": use the plain email address alice@example\.com/) }));
    expect(() => identityFromPod(reviewed, owned('alice@example.com.'), injected)).toThrow(expect.objectContaining({ error: 'invalid_grant', description: expect.stringMatching(/its domain ends in a dot/) }));
  });
  test('a pod that is not injected gets nothing: its namespace is not labelled for injection, or it runs no sidecar', () => {
    for (const ns of [undefined, { metadata: { name: 'ns' } }, { metadata: { name: 'ns', labels: { 'skillgate.dev/inject': 'disabled' } } }]) {
      expect(() => identityFromPod(reviewed, pod, ns)).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(/namespace ns is not labelled skillgate.dev\/inject=enabled/) }));
    }
    expect(() => identityFromPod(reviewed, { ...pod, spec: { containers: [{ name: 'app', image: 'app:1' }] } }, injected)).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(/runs no skillgate-sidecar/) }));
  });
  test('a pod let out of injection gets nothing, even with a container named skillgate-sidecar of its own and a token for audience skillgate', () => {
    // What an allowed exception lets through: the opt-out annotation, its own "sidecar", no injector stamp.
    const optedOut = { ...pod, metadata: { ...pod.metadata, annotations: { 'skillgate.dev/owner': 'alice@example.com', 'skillgate.dev/inject': 'disabled', 'skillgate.dev/inject-exception': 'database' } } };
    expect(() => identityFromPod(reviewed, optedOut, injected)).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(/opts out of injection \(skillgate.dev\/inject: disabled\)/) }));
    // Even stamped as injected (the webhook refuses that on an opted-out pod; the exchange does not rely on it).
    const stamped = { ...optedOut, metadata: { ...optedOut.metadata, annotations: { ...optedOut.metadata.annotations, 'skillgate.dev/injected': '0.2.2' } } };
    expect(() => identityFromPod(reviewed, stamped, injected)).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(/opts out of injection/) }));
    // A container under the sidecar's name without the injector's stamp is not the injected sidecar.
    const unstamped = { ...pod, metadata: { ...pod.metadata, annotations: { 'skillgate.dev/owner': 'alice@example.com' } } };
    expect(() => identityFromPod(reviewed, unstamped, injected)).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(/carries no skillgate.dev\/injected annotation/) }));
  });
  test('a pod in a namespace the webhooks skip gets nothing, labelled or not', () => {
    for (const name of ['kube-system', 'kube-public', 'kube-node-lease', 'skillgate-system']) {
      const where = { ...reviewed, namespace: name };
      const ns = { metadata: { name, labels: { 'skillgate.dev/inject': 'enabled' } } };
      expect(() => identityFromPod(where, pod, ns, { systemNamespace: 'skillgate-system' })).toThrow(expect.objectContaining({ error: 'access_denied', description: expect.stringMatching(new RegExp(`namespace ${name} is one skillgate's webhooks skip`)) }));
    }
  });
});
