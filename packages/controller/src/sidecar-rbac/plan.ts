// What the sidecars of an injected namespace may do on the Kubernetes API, as a pure plan: for every
// injected namespace (../injection.ts: labelled skillgate.dev/inject=enabled, and not one the
// webhooks skip), one RoleBinding `skillgate-sidecar` binding the ClusterRole `skillgate-sidecar`
// (read SkillPolicies, create and follow SkillApprovals) to the group of that namespace's
// ServiceAccounts; where the label is gone, or the namespace is one no sidecar runs in (kube-system,
// skillgate's own), the binding goes too. The injector mounts the pod's API token into the sidecar
// only (automountServiceAccountToken: false), so inside a skill pod only the sidecar can use this
// binding. Pure: the reconciler observes and writes; this never binds anything but the configured
// ClusterRole, and never deletes a binding skillgate did not make.
import { LABEL_INJECT } from '@skillgate/api';
import { namespaceNotInjected } from '../injection.js';

export const SIDECAR_RBAC_NAME = 'skillgate-sidecar';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'skillgate-controller';
const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface SidecarRbacNames {
  /** Name of the RoleBinding in each injected namespace. */
  bindingName: string;
  /** ClusterRole it binds (the chart's `skillgate-sidecar`). */
  clusterRoleName: string;
}

export const defaultSidecarRbacNames = (): SidecarRbacNames => ({ bindingName: SIDECAR_RBAC_NAME, clusterRoleName: SIDECAR_RBAC_NAME });

/** A namespace as far as the plan cares. */
export interface NamespaceView {
  name: string;
  labels?: Record<string, string>;
  /** deletionTimestamp set: the namespace controller removes what is in it. */
  terminating?: boolean;
}

export interface RoleRef { apiGroup: string; kind: string; name: string }
export interface Subject { kind: string; apiGroup?: string; name: string; namespace?: string }

/** The slice of rbac.authorization.k8s.io/v1 RoleBinding the plan reads and writes. */
export interface RoleBindingView {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; uid?: string; resourceVersion?: string };
  roleRef: RoleRef;
  subjects?: Subject[];
}

export type RbacAction =
  | { op: 'create'; binding: RoleBindingView; reason: string }
  /** Subjects or labels differ: replace in place (resourceVersion set for optimistic concurrency). */
  | { op: 'update'; binding: RoleBindingView; reason: string }
  /** roleRef differs: it is immutable, so delete (precondition: this uid) and create. */
  | { op: 'recreate'; binding: RoleBindingView; uid: string | undefined; reason: string }
  | { op: 'delete'; namespace: string; name: string; uid: string | undefined; reason: string };

export const sidecarGroup = (namespace: string): string => `system:serviceaccounts:${namespace}`;

export const isManaged = (b: RoleBindingView): boolean => b.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

/** The RoleBinding an injected namespace should hold. */
export function desiredRoleBinding(namespace: string, names: SidecarRbacNames): RoleBindingView {
  return {
    metadata: {
      name: names.bindingName,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/name': 'skillgate', 'app.kubernetes.io/component': 'sidecar' },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: names.clusterRoleName },
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: sidecarGroup(namespace) }],
  };
}

const sameSubjects = (a: Subject[] | undefined, b: Subject[] | undefined): boolean =>
  JSON.stringify((a ?? []).map((s) => [s.kind, s.apiGroup ?? '', s.name, s.namespace ?? '']))
  === JSON.stringify((b ?? []).map((s) => [s.kind, s.apiGroup ?? '', s.name, s.namespace ?? '']));

const labelsCover = (have: Record<string, string> | undefined, want: Record<string, string> | undefined): boolean =>
  Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);

/**
 * The one action that converges a namespace, or undefined when it is as it should be.
 * `namespace` undefined: the namespace is gone (its objects go with it: nothing to do).
 * `systemNamespace`: skillgate's own, which the webhooks skip as they skip kube-system.
 * A binding under our name that skillgate did not make is adopted where injection is on (the name
 * is skillgate's), and left alone where it is off.
 */
export function planNamespace(namespace: NamespaceView | undefined, existing: RoleBindingView | undefined, names: SidecarRbacNames, systemNamespace?: string): RbacAction | undefined {
  if (!namespace) return undefined;
  const notInjected = namespaceNotInjected(namespace, systemNamespace);
  if (notInjected || namespace.terminating) {
    if (!existing || !isManaged(existing) || namespace.terminating) return undefined;
    const reason = notInjected === 'skipped'
      ? `namespace ${namespace.name} is one skillgate's webhooks skip: no pod in it runs the sidecar`
      : `namespace ${namespace.name} is no longer labelled ${LABEL_INJECT}=enabled`;
    return { op: 'delete', namespace: namespace.name, name: existing.metadata.name, uid: existing.metadata.uid, reason };
  }
  const desired = desiredRoleBinding(namespace.name, names);
  if (!existing) return { op: 'create', binding: desired, reason: `namespace ${namespace.name} is labelled ${LABEL_INJECT}=enabled` };
  const r = existing.roleRef;
  if (r.apiGroup !== desired.roleRef.apiGroup || r.kind !== desired.roleRef.kind || r.name !== desired.roleRef.name) {
    return { op: 'recreate', binding: desired, uid: existing.metadata.uid, reason: `RoleBinding ${namespace.name}/${names.bindingName} binds ${r.kind} ${r.name}, not ClusterRole ${names.clusterRoleName}` };
  }
  if (!sameSubjects(existing.subjects, desired.subjects) || !labelsCover(existing.metadata.labels, desired.metadata.labels)) {
    const binding: RoleBindingView = {
      ...desired,
      metadata: {
        ...desired.metadata,
        labels: { ...existing.metadata.labels, ...desired.metadata.labels },
        ...(existing.metadata.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
    };
    return { op: 'update', binding, reason: `RoleBinding ${namespace.name}/${names.bindingName} was changed: restoring its subjects and labels` };
  }
  return undefined;
}

/** Every action a full pass takes, given all namespaces and every RoleBinding under our name. */
export function planAll(namespaces: NamespaceView[], bindings: RoleBindingView[], names: SidecarRbacNames, systemNamespace?: string): RbacAction[] {
  const byNamespace = new Map(bindings.filter((b) => b.metadata.name === names.bindingName).map((b) => [b.metadata.namespace, b]));
  const actions: RbacAction[] = [];
  for (const ns of namespaces) {
    const action = planNamespace(ns, byNamespace.get(ns.name), names, systemNamespace);
    if (action) actions.push(action);
  }
  return actions;
}
