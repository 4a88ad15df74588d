// @skillgate/sidecar — the egress sidecar: the skill's Claude API endpoint and egress proxy, a pipeline of named stages.
export {};
