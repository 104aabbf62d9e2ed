/** Defaults and hard bounds of the group coordinator. Every bound is a count or a duration in ms. */

/** group.min.session.timeout.ms: Kafka's default. A lower session timeout lets a client make the broker
 * arm very frequent timers and churn rebalances on short GC pauses. */
export const DEFAULT_MIN_SESSION_TIMEOUT_MS = 6_000;

/** group.max.session.timeout.ms: Kafka's default (30 min). A dead member holds its partitions at most this long. */
export const DEFAULT_MAX_SESSION_TIMEOUT_MS = 1_800_000;

/**
 * group.initial.rebalance.delay.ms: how long the first rebalance of an Empty group waits for more members,
 * extended by the same amount (up to the rebalance timeout) each time another new member arrives.
 * Kafka uses 3000 ms, tuned for production fleets. We use 250 ms: consumers that an application or a test
 * starts together (kafkajs, librdkafka) send their JoinGroup within tens to a couple of hundred ms of
 * each other (after Metadata and FindCoordinator round trips), so they still land in one generation
 * instead of one generation per arrival (each extra generation costs a heartbeat interval, 3 s in
 * kafkajs, before earlier members notice), while a lone consumer's first join waits only a quarter second.
 */
export const DEFAULT_INITIAL_REBALANCE_DELAY_MS = 250;

/**
 * group.max.size. Kafka's default is unbounded; we bound it because the leader's JoinGroup response
 * carries every member's metadata and the assignment is O(members): 1000 consumers in one group is far
 * beyond the partition count a single-process broker serves. Over the bound: GROUP_MAX_SIZE_REACHED.
 */
export const DEFAULT_GROUP_MAX_SIZE = 1_000;

/**
 * Groups held in memory. Each group costs a few hundred bytes plus its members. Empty groups (no members,
 * no pending member ids) are evicted oldest-first to make room; when every group is active a new group
 * is refused with COORDINATOR_NOT_AVAILABLE (retriable, so clients back off and retry).
 */
export const DEFAULT_GROUPS_MAX = 10_000;

/**
 * Pending joins, per group: KIP-394 member ids handed out with MEMBER_ID_REQUIRED and not yet used.
 * Each lives one session timeout; a client looping on JoinGroup without keeping its id would otherwise
 * grow this set without bound. Over the bound: GROUP_MAX_SIZE_REACHED. Parked JoinGroup/SyncGroup
 * requests need no separate bound: each member holds at most one of each (a newer request from the same
 * member settles the older one), so they are bounded by the member count.
 */
export const MAX_PENDING_MEMBER_IDS_PER_GROUP = 1_000;

/** Node's setTimeout fires immediately for delays above 2^31-1 ms; longer rebalance timeouts are clamped. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
