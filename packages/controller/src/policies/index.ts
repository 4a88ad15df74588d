// SkillPolicy status in the controller.
export { policyStatusReconciler, countSidecars, heartbeatKey, SKILLPOLICIES, type PolicyStatusOptions } from './status.js';
