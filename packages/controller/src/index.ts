// @skillgate/controller — token exchange, owners (SCIM), locks, approvals, policy status and webhook certificates.
export {};
