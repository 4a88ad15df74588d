// @skillgate/webhook — the admission webhooks: sidecar injection (a pure patch function) and validation.
export {};
