// @skillgate/identity — workload tokens, owners and locks: who a skill is and whether it may act now;
// and record-key endorsements: which pod held the key a record was signed with. Pure models (tokens,
// endorsements, LockSet, owners, revocations, the lock-feed protocol) plus the Redis edge of the lock
// feed that the controller publishes and every sidecar subscribes to.
export * from './workload-token.js';
export * from './record-key-endorsement.js';
export * from './lock.js';
export * from './owner.js';
export * from './revocation.js';
export * from './lock-feed.js';
// The publisher (the controller's, on ioredis) is imported from '@skillgate/identity/lock-feed-publisher'.
export { LockFeedSubscriber, type LockFeedSubscriberOptions, type FeedState } from './lock-feed-subscriber.js';
