// Just-in-time approvals in the controller: the reconciler (phase from decisions, expiry,
// notifications), signed approve/deny links and their HTTP routes, and recording a decision (shared
// with the CLI).
export { approvalReconciler, type ApprovalReconcilerOptions, type ApprovalEvents } from './reconciler.js';
export { approvalLinkRoutes, signLink, verifyLink, linkUrls, signLinkDecision, SIGNED_LINK, type LinkRoutesDeps, type LinkClaims, type LinkAction, type LinkDecision, type LinkDecisionClaims } from './links.js';
export { approvalMessage, postNotification, type SlackMessage } from './notifier.js';
export { recordDecision, DecisionRefused, SKILLAPPROVALS } from './decide.js';
