// Counting the pods of injected namespaces that run without the sidecar (they predate the label):
// the pure census. The loop that lists them and sets skillgate_controller_uninjected_pods runs
// against a real kube-apiserver in e2e/controller/controller.test.mjs.
import { censusNamespace, countUninjected, uninjectedReason } from '../src/index.js';

const pod = (over: { annotations?: Record<string, string>; init?: string[]; phase?: string; deleting?: boolean } = {}) => ({
  metadata: { name: 'p', namespace: 'team-a', annotations: over.annotations ?? {}, ...(over.deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: { initContainers: (over.init ?? []).map((name) => ({ name })), containers: [{ name: 'app' }] },
  status: { phase: over.phase ?? 'Running' },
});

describe('pods running without the sidecar', () => {
  test('a live pod with neither the sidecar nor the injector\'s stamp is not injected; an opted-out one is told apart', () => {
    expect(uninjectedReason(pod())).toBe('not_injected');
    expect(uninjectedReason(pod({ phase: 'Pending' }))).toBe('not_injected');
    expect(uninjectedReason(pod({ annotations: { 'skillgate.dev/inject': 'disabled', 'skillgate.dev/inject-exception': 'database' } }))).toBe('opted_out');
  });

  test('injected pods, and pods that have ended or are going, are not counted', () => {
    expect(uninjectedReason(pod({ init: ['skillgate-init', 'skillgate-sidecar'], annotations: { 'skillgate.dev/injected': '0.2.2' } }))).toBeUndefined();
    for (const phase of ['Succeeded', 'Failed']) expect(uninjectedReason(pod({ phase }))).toBeUndefined();
    expect(uninjectedReason(pod({ deleting: true }))).toBeUndefined();
    expect(countUninjected([pod(), pod(), pod({ init: ['skillgate-sidecar'], annotations: { 'skillgate.dev/injected': '0.2.2' } }), pod({ annotations: { 'skillgate.dev/inject': 'disabled' } })])).toEqual({ not_injected: 2, opted_out: 1 });
  });

  test('a pod with the sidecar or the injector\'s stamp but not both is counted: the token exchange refuses it, a restart injects it whole', () => {
    expect(uninjectedReason(pod({ annotations: { 'skillgate.dev/injected': '0.2.2' } }))).toBe('not_injected');
    expect(uninjectedReason(pod({ init: ['skillgate-init', 'skillgate-sidecar'] }))).toBe('not_injected');
  });

  test('only labelled namespaces the webhooks serve are looked at', () => {
    const ns = (name: string, labels: Record<string, string> = { 'skillgate.dev/inject': 'enabled' }) => ({ metadata: { name, labels } });
    expect(censusNamespace(ns('team-a'), 'skillgate-system')).toBe(true);
    expect(censusNamespace(ns('team-b', {}), 'skillgate-system')).toBe(false);
    for (const skipped of ['kube-system', 'kube-public', 'kube-node-lease', 'skillgate-system']) expect(censusNamespace(ns(skipped), 'skillgate-system')).toBe(false);
    expect(censusNamespace({ metadata: { ...ns('team-a').metadata, deletionTimestamp: new Date() } }, 'skillgate-system')).toBe(false);
  });
});
