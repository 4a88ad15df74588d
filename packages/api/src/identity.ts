// The identity of a skill as every component sees it: resolved by the controller from a pod,
// carried in the workload token, stamped on every session event.
export interface SkillIdentity {
  namespace: string;
  serviceAccount: string;
  pod: string;
  podUid?: string;
  skill: string;
  owner: string; // email of the accountable human
}
