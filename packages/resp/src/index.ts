// @skillgate/resp: the Redis protocol and the sidecar's small Redis client (commands, transactions,
// a subscriber that stays subscribed). ioredis remains the client of the controller and recorder.
export { ReplyReader, RespError, encodeCommand, parseReply, type RespReply } from './codec.js';
export { RedisConnection, type RedisConnectionOptions } from './connection.js';
export { RedisSubscriber, defaultRetryDelayMs, type RedisSubscriberOptions } from './subscriber.js';
export { isRedisUrl, redisEndpoint, redisLocation, type RedisEndpoint } from './endpoint.js';
