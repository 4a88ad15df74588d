// The sidecar's ioredis client for policy state (shared rate limits, tool history, heartbeats) and
// lock counters. A module of its own so that wiring.ts loads ioredis only when Redis is configured,
// by importing this module, and the bundle (packages/cli/bundle.mjs) keeps ioredis in this chunk.
import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export function connectRedis(url: string, options: RedisOptions): Redis {
  return new Redis(url, options);
}
