import { AdmissionRequestError, decide, parseAdmissionReview, type AdmissionRequest } from '../src/admission.js';
import { injectPod } from '../src/inject.js';
import { applyPatch, type JsonPatchOp } from '../src/json-patch.js';
import { config, injectedNs, skillPod } from './fixtures.js';

const request = (over: Partial<AdmissionRequest>): AdmissionRequest => ({
  uid: 'b7a3c0de-0000-4000-8000-000000000001',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'team-a',
  operation: 'CREATE',
  object: skillPod(),
  ...over,
});

describe('AdmissionReview handling', () => {
  test('a mutate request is answered with the uid echoed and the injection patch as base64 JSONPatch', () => {
    const { review, result, reason } = decide('mutate', request({}), config());
    expect(result).toBe('patched');
    expect(reason).toBe('injected');
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'b7a3c0de-0000-4000-8000-000000000001', allowed: true, patchType: 'JSONPatch' } });
    const patch = JSON.parse(Buffer.from(review.response!.patch!, 'base64').toString('utf8')) as JsonPatchOp[];
    expect(applyPatch(skillPod(), patch)).toEqual(applyPatch(skillPod(), injectPod(skillPod(), injectedNs, config()).patch));
    expect(review.response!.warnings!.join('\n')).toMatch(/replaced ANTHROPIC_API_KEY with a placeholder/);
  });

  test('a denied pod gets status 403 with every violation in the message', () => {
    const pod = skillPod();
    pod.spec.hostNetwork = true;
    const { review, result } = decide('validate-pod', request({ object: pod }), config());
    expect(result).toBe('denied');
    expect(review.response).toMatchObject({ allowed: false, status: { code: 403, reason: 'Forbidden' } });
    expect(review.response!.status!.message).toMatch(/^skillgate: hostNetwork: true would bypass the sidecar/);
  });

  test('an invalid SkillPolicy is denied with its name and the reason', () => {
    const policy = { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'p' }, spec: { masking: { custom: [{ name: 'X', pattern: '(' }] } } };
    const { review } = decide('validate-skillpolicy', request({ kind: { group: 'skillgate.dev', version: 'v1alpha1', kind: 'SkillPolicy' }, resource: { group: 'skillgate.dev', version: 'v1alpha1', resource: 'skillpolicies' }, object: policy }), config());
    expect(review.response!.allowed).toBe(false);
    expect(review.response!.status!.message).toMatch(/SkillPolicy p rejected: spec\.masking\.custom\[0\] \(X\): pattern "\(" does not compile/);
  });

  test('pod UPDATEs are never mutated', () => {
    expect(decide('mutate', request({ operation: 'UPDATE' }), config()).review.response).toEqual({ uid: 'b7a3c0de-0000-4000-8000-000000000001', allowed: true });
  });

  test('bodies that are not AdmissionReview v1 are refused at the edge', () => {
    expect(() => parseAdmissionReview({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1', request: {} })).toThrow(/admissionReviewVersions: \[v1\]/);
    expect(() => parseAdmissionReview({ kind: 'Pod' })).toThrow(AdmissionRequestError);
    expect(() => parseAdmissionReview({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'x' } })).toThrow(/lacks uid, kind, resource or operation/);
  });
});
