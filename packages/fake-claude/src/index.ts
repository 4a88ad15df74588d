// @skillgate/fake-claude — a faithful stand-in for Anthropic's API, for tests, make dev and benchmarks.
export {};
