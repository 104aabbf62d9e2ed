/** Engine-level request/result shapes of the group coordinator. No wire format: metadata is opaque. */

/**
 * Injected time source; tests pass a fake one (see fake-clock.ts). Structurally the same as
 * src/util/clock.ts, so its systemClock fits.
 */
export interface Clock {
  nowMs(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

export interface GroupCoordinatorOptions {
  clock: Clock;
  /** Default DEFAULT_MIN_SESSION_TIMEOUT_MS (6000). */
  minSessionTimeoutMs?: number;
  /** Default DEFAULT_MAX_SESSION_TIMEOUT_MS (1800000). */
  maxSessionTimeoutMs?: number;
  /** Default DEFAULT_INITIAL_REBALANCE_DELAY_MS (250; Kafka's is 3000). 0 disables the delay. */
  initialRebalanceDelayMs?: number;
  /** Members per group. Default DEFAULT_GROUP_MAX_SIZE (1000). */
  groupMaxSize?: number;
  /** Groups held in memory. Default DEFAULT_GROUPS_MAX (10000). */
  groupsMax?: number;
  /** Called when a group transitions to Empty (its last member left or expired). */
  onEmpty?: (groupId: string) => void;
}

export interface ProtocolEntry {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  groupId: string;
  /** "" for a member that does not have an id yet. */
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  /** JoinGroup v0 has none: pass sessionTimeoutMs (values <= 0 are treated so). */
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: ProtocolEntry[];
  /** true for JoinGroup v4+ (KIP-394). Ignored for static members, as Kafka does. */
  requireKnownMemberId: boolean;
}

export interface JoinMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  /** Selected protocol; null on error. */
  protocolName: string | null;
  /** Group protocol type (JoinGroup v7+); null on error. */
  protocolType: string | null;
  leader: string;
  memberId: string;
  /** Every member's metadata for the selected protocol, only in the leader's response. */
  members: JoinMember[];
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** Only the leader's are used; members it leaves out get an empty assignment. */
  assignments: { memberId: string; assignment: Buffer }[];
  /** SyncGroup v5+: when given, must match the group's or INCONSISTENT_GROUP_PROTOCOL. */
  protocolType?: string | null;
  protocolName?: string | null;
}

export interface SyncResult {
  errorCode: number;
  assignment: Buffer;
  /** SyncGroup v5+; null on error. */
  protocolType: string | null;
  protocolName: string | null;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveRequest {
  groupId: string;
  /** LeaveGroup v0-2 carry one member (no instance id); v3+ a batch (KIP-345). */
  members: { memberId: string; groupInstanceId: string | null }[];
}

export interface LeaveResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Metadata for the selected protocol; empty unless the group is Stable (as Kafka). */
  metadata: Buffer;
  /** Empty unless the group is Stable (as Kafka). */
  assignment: Buffer;
}

export interface DescribeResult {
  errorCode: number;
  groupId: string;
  state: GroupState;
  protocolType: string;
  /** Selected protocol when Stable, else "" (as Kafka). */
  protocolData: string;
  members: DescribedMember[];
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupState;
}
