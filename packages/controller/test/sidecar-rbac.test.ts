import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { kubeClients } from '../src/kube.js';
import { SidecarRbacReconciler } from '../src/sidecar-rbac/reconciler.js';
import {
  MANAGED_BY, MANAGED_BY_LABEL, defaultSidecarRbacNames, desiredRoleBinding, planAll, planNamespace, type RoleBindingView,
} from '../src/sidecar-rbac/plan.js';

const names = defaultSidecarRbacNames();
// A kubeconfig that is never dialled (building a reconciler makes no request).
const kubeconfigFile = path.join(mkdtempSync(path.join(tmpdir(), 'sg-rbac-')), 'config');
writeFileSync(kubeconfigFile, JSON.stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: { token: 'x' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
}));
const enabled = (name: string) => ({ name, labels: { 'skillgate.dev/inject': 'enabled' } });
const existing = (namespace: string, patch: (b: RoleBindingView) => void = () => {}): RoleBindingView => {
  const b = structuredClone(desiredRoleBinding(namespace, names));
  b.metadata.uid = `uid-${namespace}`;
  b.metadata.resourceVersion = '42';
  patch(b);
  return b;
};

describe('sidecar RBAC plan', () => {
  test("an injected namespace gets a RoleBinding of the skillgate-sidecar ClusterRole to its own ServiceAccounts' group", () => {
    expect(planNamespace(enabled('team-a'), undefined, names)).toEqual({
      op: 'create',
      reason: 'namespace team-a is labelled skillgate.dev/inject=enabled',
      binding: {
        metadata: { name: 'skillgate-sidecar', namespace: 'team-a', labels: { [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/name': 'skillgate', 'app.kubernetes.io/component': 'sidecar' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'skillgate-sidecar' },
        subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:team-a' }],
      },
    });
  });

  test('a namespace whose binding is as it should be needs nothing', () => {
    expect(planNamespace(enabled('team-a'), existing('team-a'), names)).toBeUndefined();
  });

  test('a binding whose subjects were widened is restored in place, keeping its resourceVersion and extra labels', () => {
    const action = planNamespace(enabled('team-a'), existing('team-a', (b) => {
      b.subjects!.push({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' });
      b.metadata.labels!.team = 'a';
    }), names);
    expect(action).toMatchObject({ op: 'update', binding: { metadata: { resourceVersion: '42', labels: { team: 'a', [MANAGED_BY_LABEL]: MANAGED_BY } }, subjects: desiredRoleBinding('team-a', names).subjects } });
  });

  test('a binding pointing at another role is deleted (only that one, by uid) and recreated, since roleRef is immutable', () => {
    const action = planNamespace(enabled('team-a'), existing('team-a', (b) => { b.roleRef.name = 'cluster-admin'; }), names);
    expect(action).toMatchObject({ op: 'recreate', uid: 'uid-team-a', binding: { roleRef: { name: 'skillgate-sidecar' } } });
    expect(action!.reason).toMatch(/binds ClusterRole cluster-admin, not ClusterRole skillgate-sidecar/);
  });

  test('when the label goes, the binding skillgate made goes; a binding skillgate did not make stays', () => {
    const plain = { name: 'team-a', labels: { 'skillgate.dev/inject': 'disabled' } };
    expect(planNamespace(plain, existing('team-a'), names)).toMatchObject({ op: 'delete', namespace: 'team-a', name: 'skillgate-sidecar', uid: 'uid-team-a' });
    expect(planNamespace(plain, existing('team-a', (b) => { delete b.metadata.labels; }), names)).toBeUndefined();
    expect(planNamespace(plain, undefined, names)).toBeUndefined();
  });

  test('a labelled namespace the webhooks skip gets no binding, and loses the one skillgate made there', () => {
    for (const skipped of ['kube-system', 'kube-public', 'kube-node-lease', 'skillgate-system']) {
      expect(planNamespace(enabled(skipped), undefined, names, 'skillgate-system')).toBeUndefined();
      expect(planNamespace(enabled(skipped), existing(skipped), names, 'skillgate-system')).toMatchObject({
        op: 'delete', namespace: skipped, reason: `namespace ${skipped} is one skillgate's webhooks skip: no pod in it runs the sidecar`,
      });
    }
    expect(planAll([enabled('kube-system'), enabled('skillgate-system'), enabled('team-a')], [], names, 'skillgate-system').map((x) => x.op === 'create' && x.binding.metadata.namespace)).toEqual(['team-a']);
  });

  test('a terminating or vanished namespace is left to the namespace controller', () => {
    expect(planNamespace({ ...enabled('team-a'), terminating: true }, undefined, names)).toBeUndefined();
    expect(planNamespace({ name: 'team-a', terminating: true }, existing('team-a'), names)).toBeUndefined();
    expect(planNamespace(undefined, existing('team-a'), names)).toBeUndefined();
  });

  test('a full pass converges every namespace at once and ignores bindings of other names', () => {
    const actions = planAll(
      [enabled('a'), enabled('b'), { name: 'c' }, { name: 'd' }],
      [existing('b'), existing('c'), { ...existing('d'), metadata: { ...existing('d').metadata, name: 'other' } }],
      names,
    );
    expect(actions.map((x) => [x.op, x.op === 'delete' ? x.namespace : x.binding.metadata.namespace])).toEqual([['create', 'a'], ['delete', 'c']]);
  });

  test('the ClusterRole and binding names can be configured', () => {
    const custom = { bindingName: 'sg', clusterRoleName: 'sg-sidecar' };
    expect(planNamespace(enabled('x'), undefined, custom)).toMatchObject({ op: 'create', binding: { metadata: { name: 'sg' }, roleRef: { name: 'sg-sidecar' } } });
  });
});

describe('SidecarRbacReconciler', () => {
  test('can be built again on the same registry, as a leader loop is each time the replica wins the Lease', () => {
    const registry = new Registry();
    const kube = kubeClients(kubeconfigFile);
    const make = () => new SidecarRbacReconciler({ kube, log: pino({ level: 'silent' }), registry });
    expect(() => { make(); make(); }).not.toThrow();
    expect(registry.getSingleMetric('skillgate_controller_sidecar_rolebinding_changes_total')).toBeDefined();
  });
});
