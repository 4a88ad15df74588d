// The one meaning of "injected" every controller loop uses (src/injection.ts): the token exchange,
// the census of pods without the sidecar and the sidecar RBAC plan ask the same two questions.
import { NAMESPACES_WEBHOOKS_SKIP } from '@skillgate/api';
import { webhookConfigurations } from '@skillgate/webhook/manifests';
import { injectedNamespace, injectedPod, namespaceNotInjected, podNotInjected } from '../src/index.js';

const labelled = { 'skillgate.dev/inject': 'enabled' };
const pod = (init: string[], annotations: Record<string, string> = {}) => ({
  metadata: { name: 'p', namespace: 'team-a', annotations },
  spec: { initContainers: init.map((name) => ({ name, image: 'x' })), containers: [{ name: 'app', image: 'x' }] },
});
const stamp = { 'skillgate.dev/injected': '0.2.2' };

describe('an injected namespace', () => {
  test('is labelled skillgate.dev/inject=enabled', () => {
    expect(injectedNamespace({ name: 'team-a', labels: labelled }, 'skillgate-system')).toBe(true);
    expect(namespaceNotInjected({ name: 'team-a' }, 'skillgate-system')).toBe('not_labelled');
    expect(namespaceNotInjected({ name: 'team-a', labels: { 'skillgate.dev/inject': 'disabled' } }, 'skillgate-system')).toBe('not_labelled');
  });

  test('is never one the webhooks skip, whatever its labels: kube-system, kube-public, kube-node-lease and skillgate\'s own', () => {
    for (const name of ['kube-system', 'kube-public', 'kube-node-lease', 'skillgate-system']) {
      expect(namespaceNotInjected({ name, labels: labelled }, 'skillgate-system')).toBe('skipped');
    }
    // Without skillgate's own namespace named, the fixed ones are still skipped.
    expect(namespaceNotInjected({ name: 'kube-system', labels: labelled }, undefined)).toBe('skipped');
    expect(injectedNamespace({ name: 'skillgate-system', labels: labelled }, undefined)).toBe(true);
  });

  test('skips what the webhooks\' namespaceSelector leaves out: the same list', () => {
    const selector = (webhookConfigurations({ endpoint: { url: 'https://127.0.0.1:9443' }, systemNamespace: 'skillgate-system' }).mutating as {
      webhooks: Array<{ namespaceSelector: { matchExpressions: Array<{ key: string; values: string[] }> } }> }).webhooks[0]!.namespaceSelector;
    const left = selector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name')!.values;
    expect(left).toEqual([...NAMESPACES_WEBHOOKS_SKIP, 'skillgate-system']);
    for (const name of left) expect(injectedNamespace({ name, labels: labelled }, 'skillgate-system')).toBe(false);
  });
});

describe('an injected pod', () => {
  test('carries the skillgate-sidecar container and the injector\'s stamp, both', () => {
    expect(injectedPod(pod(['skillgate-init', 'skillgate-sidecar'], stamp))).toBe(true);
    expect(podNotInjected(pod([], stamp))).toBe('no_sidecar');
    expect(podNotInjected(pod(['skillgate-init', 'skillgate-sidecar']))).toBe('not_stamped');
    expect(podNotInjected(pod([]))).toBe('no_sidecar');
  });

  test('finds the sidecar among the containers as among the init containers', () => {
    const p = { metadata: { annotations: stamp }, spec: { containers: [{ name: 'app', image: 'x' }, { name: 'skillgate-sidecar', image: 'x' }] } };
    expect(injectedPod(p)).toBe(true);
  });
});
