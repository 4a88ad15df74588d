// @skillgate/record — session events, canonical JSON, hash chains, signed checkpoints and the stores (local file, Redis Streams).
export {};
