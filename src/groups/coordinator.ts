/**
 * Consumer-group coordinator of Kafka's classic group protocol (JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup / DescribeGroups / ListGroups / DeleteGroups), wire-format-free: protocol metadata and
 * assignments are opaque Buffers. Follows Kafka's GroupCoordinator.scala / GroupMetadata.scala
 * (2.x-3.x classic protocol) including KIP-345 static membership, KIP-394 MEMBER_ID_REQUIRED and the
 * 3.x pending-sync expiry. Everything runs on the injected Clock; every parked JoinGroup/SyncGroup is
 * settled by a timer at the latest (rebalance timeout).
 */
import { randomUUID } from "node:crypto";
import { GroupError } from "./errors.js";
import { EMPTY_BUFFER, Group, type JoinWaiter, Member, type SyncWaiter } from "./group.js";
import {
  DEFAULT_GROUP_MAX_SIZE,
  DEFAULT_GROUPS_MAX,
  DEFAULT_INITIAL_REBALANCE_DELAY_MS,
  DEFAULT_MAX_SESSION_TIMEOUT_MS,
  DEFAULT_MIN_SESSION_TIMEOUT_MS,
  MAX_PENDING_MEMBER_IDS_PER_GROUP,
  MAX_TIMER_MS,
} from "./limits.js";
import type {
  Clock,
  DescribeResult,
  GroupCoordinatorOptions,
  GroupListing,
  GroupState,
  HeartbeatRequest,
  JoinRequest,
  JoinResult,
  LeaveRequest,
  LeaveResult,
  SyncRequest,
  SyncResult,
} from "./types.js";

export { GroupError } from "./errors.js";
export type * from "./types.js";

function joinError(memberId: string, errorCode: number): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolName: null,
    protocolType: null,
    leader: "",
    memberId,
    members: [],
  };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, assignment: EMPTY_BUFFER, protocolType: null, protocolName: null };
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer`);
  return value;
}

export class GroupCoordinator {
  private readonly clock: Clock;
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly initialRebalanceDelayMs: number;
  private readonly groupMaxSize: number;
  private readonly groupsMax: number;
  private readonly onEmpty: ((groupId: string) => void) | undefined;
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(opts: GroupCoordinatorOptions) {
    this.clock = opts.clock;
    this.minSessionTimeoutMs = nonNegativeInt(
      "minSessionTimeoutMs",
      opts.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS,
    );
    this.maxSessionTimeoutMs = Math.min(
      MAX_TIMER_MS,
      nonNegativeInt("maxSessionTimeoutMs", opts.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS),
    );
    if (this.minSessionTimeoutMs > this.maxSessionTimeoutMs) {
      throw new RangeError("minSessionTimeoutMs must not exceed maxSessionTimeoutMs");
    }
    this.initialRebalanceDelayMs = nonNegativeInt(
      "initialRebalanceDelayMs",
      opts.initialRebalanceDelayMs ?? DEFAULT_INITIAL_REBALANCE_DELAY_MS,
    );
    this.groupMaxSize = nonNegativeInt("groupMaxSize", opts.groupMaxSize ?? DEFAULT_GROUP_MAX_SIZE);
    this.groupsMax = nonNegativeInt("groupsMax", opts.groupsMax ?? DEFAULT_GROUPS_MAX);
    this.onEmpty = opts.onEmpty;
  }

  // ---------------------------------------------------------------- JoinGroup

  join(req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => this.handleJoin(req, resolve));
  }

  private handleJoin(req: JoinRequest, respond: JoinWaiter) {
    if (this.closed) return respond(joinError(req.memberId, GroupError.COORDINATOR_NOT_AVAILABLE));
    if (req.groupId === "") return respond(joinError(req.memberId, GroupError.INVALID_GROUP_ID));
    const session = req.sessionTimeoutMs;
    if (
      !Number.isSafeInteger(session) ||
      session < this.minSessionTimeoutMs ||
      session > this.maxSessionTimeoutMs
    ) {
      return respond(joinError(req.memberId, GroupError.INVALID_SESSION_TIMEOUT));
    }
    // Keep our own copies: the caller's buffers may be views into a reused network buffer.
    const protocols = req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }));
    const rebalanceTimeoutMs =
      Number.isFinite(req.rebalanceTimeoutMs) && req.rebalanceTimeoutMs > 0
        ? Math.min(Math.floor(req.rebalanceTimeoutMs), MAX_TIMER_MS)
        : session;
    const isUnknown = req.memberId === "";

    let group = this.groups.get(req.groupId);
    if (!group) {
      // Kafka creates the group only for a member without id; a known id for an unknown group is stale.
      if (!isUnknown) return respond(joinError(req.memberId, GroupError.UNKNOWN_MEMBER_ID));
      if (req.protocolType === "" || protocols.length === 0) {
        return respond(joinError("", GroupError.INCONSISTENT_GROUP_PROTOCOL));
      }
      const created = this.createGroup(req.groupId);
      if (!created) return respond(joinError("", GroupError.COORDINATOR_NOT_AVAILABLE));
      group = created;
    }

    const j: NormalizedJoin = { req, protocols, rebalanceTimeoutMs };
    if (!this.acceptJoiningMember(group, req.memberId)) {
      const existing = group.members.get(req.memberId);
      if (existing) this.removeMemberAndUpdateGroup(group, existing);
      respond(joinError("", GroupError.GROUP_MAX_SIZE_REACHED));
    } else if (isUnknown) {
      this.doUnknownJoin(group, j, respond);
    } else {
      this.doJoin(group, j, respond);
    }
    this.tryCompleteJoin(group);
  }

  /** Kafka's acceptJoiningMember: group.max.size, counted so that late rejoiners are the ones cut. */
  private acceptJoiningMember(group: Group, memberId: string): boolean {
    switch (group.state) {
      case "Empty":
      case "Dead":
        return true;
      case "PreparingRebalance":
        return group.members.get(memberId)?.joinWaiter != null || group.numAwaitingJoin() < this.groupMaxSize;
      case "CompletingRebalance":
      case "Stable":
        return group.has(memberId) || group.members.size < this.groupMaxSize;
    }
  }

  private doUnknownJoin(group: Group, j: NormalizedJoin, respond: JoinWaiter) {
    const { req } = j;
    const replacing =
      req.groupInstanceId !== null ? (group.staticMembers.get(req.groupInstanceId) ?? null) : null;
    if (!group.supportsProtocols(req.protocolType, j.protocols, replacing)) {
      return respond(joinError("", GroupError.INCONSISTENT_GROUP_PROTOCOL));
    }
    // Kafka: static members get "<instance id>-<uuid>", dynamic ones "<client id>-<uuid>".
    const newMemberId = `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`;
    if (group.hasStaticMember(req.groupInstanceId)) {
      return this.updateStaticMemberAndRebalance(group, newMemberId, j, respond);
    }
    // KIP-394 (JoinGroup v4+): hand out the id and make the member come back with it, so that a
    // client that times out and retries does not leave a ghost member behind. Never for static members.
    if (req.requireKnownMemberId && req.groupInstanceId === null) {
      if (group.pendingMembers.size >= MAX_PENDING_MEMBER_IDS_PER_GROUP) {
        return respond(joinError("", GroupError.GROUP_MAX_SIZE_REACHED));
      }
      this.addPendingMember(group, newMemberId, req.sessionTimeoutMs);
      return respond(joinError(newMemberId, GroupError.MEMBER_ID_REQUIRED));
    }
    this.addMemberAndRebalance(group, newMemberId, j, respond);
  }

  private doJoin(group: Group, j: NormalizedJoin, respond: JoinWaiter) {
    const { req } = j;
    const memberId = req.memberId;
    if (!group.supportsProtocols(req.protocolType, j.protocols, memberId)) {
      return respond(joinError(memberId, GroupError.INCONSISTENT_GROUP_PROTOCOL));
    }
    if (group.isPendingMember(memberId)) {
      if (req.groupInstanceId === null) return this.addMemberAndRebalance(group, memberId, j, respond);
      // Pending ids are only handed to dynamic members: make it start over with its instance id.
      this.removePendingMember(group, memberId);
      return respond(joinError(memberId, GroupError.UNKNOWN_MEMBER_ID));
    }
    if (group.isStaticMemberFenced(memberId, req.groupInstanceId)) {
      return respond(joinError(memberId, GroupError.FENCED_INSTANCE_ID));
    }
    const member = group.members.get(memberId);
    if (!member || (req.groupInstanceId !== null && !group.hasStaticMember(req.groupInstanceId))) {
      return respond(joinError(memberId, GroupError.UNKNOWN_MEMBER_ID));
    }
    switch (group.state) {
      case "PreparingRebalance":
        return this.updateMemberAndRebalance(group, member, j, respond);
      case "CompletingRebalance":
        if (member.matches(j.protocols)) {
          // Same metadata (it probably lost the JoinGroup response): answer with the current generation.
          this.touch(group, member);
          return respond(this.joinResult(group, member.memberId, group.isLeader(memberId)));
        }
        return this.updateMemberAndRebalance(group, member, j, respond);
      case "Stable":
        // The leader's JoinGroup always rebalances: it is how the leader reacts to changes that are not
        // in member metadata (e.g. new partitions of a subscribed topic).
        if (group.isLeader(memberId) || !member.matches(j.protocols)) {
          return this.updateMemberAndRebalance(group, member, j, respond);
        }
        this.touch(group, member);
        return respond(this.joinResult(group, member.memberId, false));
      case "Empty":
      case "Dead":
        return respond(joinError(memberId, GroupError.UNKNOWN_MEMBER_ID));
    }
  }

  private addMemberAndRebalance(
    group: Group,
    memberId: string,
    j: NormalizedJoin,
    respond: JoinWaiter,
  ): void {
    const { req } = j;
    const member = new Member(
      memberId,
      req.groupInstanceId,
      req.clientId,
      req.clientHost,
      req.sessionTimeoutMs,
      j.rebalanceTimeoutMs,
      req.protocolType,
      j.protocols,
    );
    if (group.members.size === 0) group.protocolType = req.protocolType;
    if (group.leaderId === null) group.leaderId = memberId;
    group.members.set(memberId, member);
    member.joinWaiter = respond;
    if (group.is("PreparingRebalance") && group.inInitialDelay) group.newMemberAdded = true;
    if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId);
    this.removePendingMember(group, memberId);
    this.touch(group, member);
    this.maybePrepareRebalance(group);
  }

  private updateMember(group: Group, member: Member, j: NormalizedJoin, respond: JoinWaiter | null): void {
    member.protocols = j.protocols;
    member.clientId = j.req.clientId;
    member.clientHost = j.req.clientHost;
    member.sessionTimeoutMs = j.req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    // One parked JoinGroup per member: a newer one supersedes (the client gave up on the older one).
    this.settleJoin(member, joinError(member.memberId, GroupError.REBALANCE_IN_PROGRESS));
    member.joinWaiter = respond;
    this.touch(group, member);
  }

  private updateMemberAndRebalance(
    group: Group,
    member: Member,
    j: NormalizedJoin,
    respond: JoinWaiter,
  ): void {
    this.updateMember(group, member, j, respond);
    this.maybePrepareRebalance(group);
  }

  /** KIP-345: a known group.instance.id joins without member id: it takes over the old member's slot. */
  private updateStaticMemberAndRebalance(
    group: Group,
    newMemberId: string,
    j: NormalizedJoin,
    respond: JoinWaiter,
  ) {
    const instanceId = j.req.groupInstanceId!;
    const oldMemberId = group.staticMembers.get(instanceId)!;
    const member = group.members.get(oldMemberId)!;
    const currentLeader = group.leaderId;
    // Fence the old incarnation right away if it has a request parked.
    this.settleJoin(member, joinError(oldMemberId, GroupError.FENCED_INSTANCE_ID));
    this.settleSync(member, syncError(GroupError.FENCED_INSTANCE_ID));
    group.members.delete(oldMemberId);
    member.memberId = newMemberId;
    group.members.set(newMemberId, member);
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId;
    group.staticMembers.set(instanceId, newMemberId);
    if (group.pendingSync.delete(oldMemberId)) group.pendingSync.add(newMemberId);
    this.updateMember(group, member, j, respond);

    switch (group.state) {
      case "Stable":
        if (group.selectProtocol() === group.protocolName) {
          // No rebalance: the member keeps its assignment and syncs at the current generation. The old
          // leader id is returned so that a replaced leader does not compute a (useless) assignment.
          member.joinWaiter = null;
          respond({ ...this.joinResult(group, newMemberId, false), leader: currentLeader ?? "" });
        } else {
          this.maybePrepareRebalance(group);
        }
        return;
      case "CompletingRebalance":
        // The leader may already be assigning for the old member id: start over.
        this.prepareRebalance(group);
        return;
      case "PreparingRebalance":
        return;
      case "Empty":
      case "Dead":
        // Unreachable: static members exist only in groups with members.
        member.joinWaiter = null;
        respond(joinError(newMemberId, GroupError.UNKNOWN_SERVER_ERROR));
        return;
    }
  }

  private joinResult(group: Group, memberId: string, withMembers: boolean): JoinResult {
    return {
      errorCode: GroupError.NONE,
      generationId: group.generationId,
      protocolName: group.protocolName,
      protocolType: group.protocolType,
      leader: group.leaderId ?? "",
      memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  // ---------------------------------------------------------------- rebalance state machine

  private maybePrepareRebalance(group: Group): void {
    if (group.canRebalance()) this.prepareRebalance(group);
  }

  private prepareRebalance(group: Group): void {
    // Members parked in SyncGroup must rejoin.
    if (group.is("CompletingRebalance"))
      this.resetAndPropagateAssignmentError(group, GroupError.REBALANCE_IN_PROGRESS);
    this.clearSyncTimer(group);
    group.pendingSync.clear();
    const wasEmpty = group.is("Empty");
    group.state = "PreparingRebalance";
    group.rebalanceTimeoutMs = group.maxRebalanceTimeoutMs();
    this.clearJoinTimer(group);
    group.newMemberAdded = false;
    if (wasEmpty && this.initialRebalanceDelayMs > 0) {
      // Kafka's InitialDelayedJoin: wait for more members before the first generation of an Empty group.
      group.inInitialDelay = true;
      const delay = Math.min(this.initialRebalanceDelayMs, group.rebalanceTimeoutMs);
      this.scheduleInitialDelay(group, delay, Math.max(group.rebalanceTimeoutMs - delay, 0));
    } else {
      group.inInitialDelay = false;
      this.armJoinTimer(group);
      this.tryCompleteJoin(group);
    }
  }

  private scheduleInitialDelay(group: Group, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.clock.setTimeout(() => {
      group.joinTimer = null;
      if (!this.isLive(group) || !group.is("PreparingRebalance")) return;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelay(group, next, remainingMs - next);
      } else {
        this.completeJoin(group);
      }
    }, delayMs);
  }

  private armJoinTimer(group: Group): void {
    this.clearJoinTimer(group);
    group.joinTimer = this.clock.setTimeout(
      () => {
        group.joinTimer = null;
        if (this.isLive(group) && group.is("PreparingRebalance")) this.completeJoin(group);
      },
      Math.max(1, group.rebalanceTimeoutMs),
    );
  }

  private tryCompleteJoin(group: Group): void {
    if (!group.is("PreparingRebalance")) return;
    // With no members left there is nobody to wait for (not even in the initial delay): the group goes
    // Empty now; ids still pending may join the Empty group later.
    if (group.members.size === 0 || (!group.inInitialDelay && group.hasAllMembersJoined())) {
      this.completeJoin(group);
    }
  }

  /** Kafka's onCompleteJoin: everyone rejoined, or the (initial) rebalance timeout expired. */
  private completeJoin(group: Group): void {
    this.clearJoinTimer(group);
    group.inInitialDelay = false;
    group.newMemberAdded = false;
    // Dynamic members that did not rejoin in time are out; static members keep their slot (KIP-345)
    // until their session expires.
    for (const m of [...group.members.values()]) {
      if (m.joinWaiter === null && m.groupInstanceId === null) this.dropMember(group, m);
    }
    if (group.members.size > 0 && group.numAwaitingJoin() === 0) {
      // Only static members that have not rejoined remain: wait another round (their sessions run).
      this.armJoinTimer(group);
      return;
    }
    const leader = group.leaderId !== null ? group.members.get(group.leaderId) : undefined;
    if (!leader?.joinWaiter) {
      group.leaderId = [...group.members.values()].find((m) => m.joinWaiter !== null)?.memberId ?? null;
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.state = "Empty";
      this.notifyEmpty(group.groupId);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.state = "CompletingRebalance";
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BUFFER;
      group.pendingSync.add(m.memberId);
    }
    this.armSyncTimer(group);
    for (const m of group.members.values()) {
      this.settleJoin(m, this.joinResult(group, m.memberId, group.isLeader(m.memberId)));
      this.touch(group, m);
    }
  }

  /**
   * Kafka 3.x DelayedSync: members of a generation that have not sent SyncGroup within the rebalance
   * timeout are removed and the group rebalances. This bounds parked SyncGroups when the leader never syncs.
   */
  private armSyncTimer(group: Group): void {
    this.clearSyncTimer(group);
    const generation = group.generationId;
    group.syncTimer = this.clock.setTimeout(
      () => {
        group.syncTimer = null;
        if (!this.isLive(group) || group.generationId !== generation) return;
        if (!(group.is("CompletingRebalance") || group.is("Stable")) || group.pendingSync.size === 0) return;
        for (const id of [...group.pendingSync]) {
          const m = group.members.get(id);
          if (m) this.dropMember(group, m);
        }
        group.pendingSync.clear();
        this.prepareRebalance(group);
      },
      Math.max(1, group.rebalanceTimeoutMs),
    );
  }

  private resetAndPropagateAssignmentError(group: Group, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BUFFER;
      if (m.syncWaiter) {
        this.settleSync(m, syncError(errorCode));
        this.touch(group, m);
      }
    }
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(req: SyncRequest): Promise<SyncResult> {
    return new Promise((resolve) => this.handleSync(req, resolve));
  }

  private handleSync(req: SyncRequest, respond: SyncWaiter) {
    if (this.closed) return respond(syncError(GroupError.COORDINATOR_NOT_AVAILABLE));
    if (req.groupId === "") return respond(syncError(GroupError.INVALID_GROUP_ID));
    const group = this.groups.get(req.groupId);
    if (!group) return respond(syncError(GroupError.UNKNOWN_MEMBER_ID));
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) {
      return respond(syncError(GroupError.FENCED_INSTANCE_ID));
    }
    const member = group.members.get(req.memberId);
    if (!member) return respond(syncError(GroupError.UNKNOWN_MEMBER_ID));
    if (req.generationId !== group.generationId) return respond(syncError(GroupError.ILLEGAL_GENERATION));
    if (
      (req.protocolType != null && req.protocolType !== group.protocolType) ||
      (req.protocolName != null && req.protocolName !== group.protocolName)
    ) {
      return respond(syncError(GroupError.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (group.state) {
      case "Empty":
      case "Dead":
        return respond(syncError(GroupError.UNKNOWN_MEMBER_ID));
      case "PreparingRebalance":
        return respond(syncError(GroupError.REBALANCE_IN_PROGRESS));
      case "CompletingRebalance": {
        this.settleSync(member, syncError(GroupError.REBALANCE_IN_PROGRESS));
        member.syncWaiter = respond;
        group.pendingSync.delete(member.memberId);
        this.touch(group, member);
        if (group.isLeader(member.memberId)) {
          const byMember = new Map<string, Buffer>();
          for (const a of req.assignments) byMember.set(a.memberId, a.assignment);
          // Members the leader left out get an empty assignment (Kafka does the same).
          for (const m of group.members.values()) {
            const a = byMember.get(m.memberId);
            m.assignment = a ? Buffer.from(a) : EMPTY_BUFFER;
          }
          group.state = "Stable";
          for (const m of group.members.values()) {
            if (m.syncWaiter) {
              this.settleSync(m, this.syncResult(group, m));
              this.touch(group, m);
            }
          }
        }
        this.maybeClearSyncTimer(group);
        return;
      }
      case "Stable":
        group.pendingSync.delete(member.memberId);
        this.maybeClearSyncTimer(group);
        this.touch(group, member);
        return respond(this.syncResult(group, member));
    }
  }

  private syncResult(group: Group, member: Member): SyncResult {
    return {
      errorCode: GroupError.NONE,
      assignment: member.assignment,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
    };
  }

  private maybeClearSyncTimer(group: Group): void {
    if (group.pendingSync.size === 0) this.clearSyncTimer(group);
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(req: HeartbeatRequest): { errorCode: number } {
    return { errorCode: this.handleHeartbeat(req) };
  }

  private handleHeartbeat(req: HeartbeatRequest): number {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    if (req.groupId === "") return GroupError.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (!group) return GroupError.UNKNOWN_MEMBER_ID;
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return GroupError.FENCED_INSTANCE_ID;
    const member = group.members.get(req.memberId);
    if (!member) return GroupError.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return GroupError.ILLEGAL_GENERATION;
    switch (group.state) {
      case "Empty":
      case "Dead":
        return GroupError.UNKNOWN_MEMBER_ID;
      case "CompletingRebalance":
      case "Stable":
        this.touch(group, member);
        return GroupError.NONE;
      case "PreparingRebalance":
        this.touch(group, member);
        return GroupError.REBALANCE_IN_PROGRESS;
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leave(req: LeaveRequest): LeaveResult {
    if (this.closed) return { errorCode: GroupError.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (req.groupId === "") return { errorCode: GroupError.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(req.groupId);
    const members = req.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      errorCode: group ? this.leaveOne(group, m.memberId, m.groupInstanceId) : GroupError.UNKNOWN_MEMBER_ID,
    }));
    return { errorCode: GroupError.NONE, members };
  }

  private leaveOne(group: Group, memberId: string, groupInstanceId: string | null): number {
    if (memberId !== "" && group.isStaticMemberFenced(memberId, groupInstanceId)) {
      return GroupError.FENCED_INSTANCE_ID;
    }
    if (group.isPendingMember(memberId)) {
      this.removePendingMember(group, memberId);
      this.tryCompleteJoin(group);
      return GroupError.NONE;
    }
    // KIP-345: an admin may remove a static member by instance id alone (empty member id).
    const id = group.hasStaticMember(groupInstanceId) ? group.staticMembers.get(groupInstanceId)! : memberId;
    const member = group.members.get(id);
    if (!member) return GroupError.UNKNOWN_MEMBER_ID;
    this.removeMemberAndUpdateGroup(group, member);
    return GroupError.NONE;
  }

  // ---------------------------------------------------------------- OffsetCommit gate

  /**
   * May this (member, generation) commit offsets? Kafka's doCommitOffsets checks: a negative generation
   * on an Empty (or unknown) group is a standalone consumer; otherwise member and generation must be
   * current, and commits wait out CompletingRebalance. A valid commit counts as a heartbeat (as Kafka).
   */
  validateCommit(
    groupId: string,
    memberId: string,
    generationId: number,
    groupInstanceId: string | null,
  ): number {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    if (!group) return generationId < 0 ? GroupError.NONE : GroupError.ILLEGAL_GENERATION;
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) return GroupError.FENCED_INSTANCE_ID;
    if (generationId < 0 && (group.is("Empty") || group.is("Dead"))) return GroupError.NONE;
    const member = group.members.get(memberId);
    if (!member) return GroupError.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return GroupError.ILLEGAL_GENERATION;
    switch (group.state) {
      case "CompletingRebalance":
        return GroupError.REBALANCE_IN_PROGRESS;
      case "Stable":
      case "PreparingRebalance":
        this.touch(group, member);
        return GroupError.NONE;
      case "Empty":
      case "Dead":
        return GroupError.UNKNOWN_MEMBER_ID;
    }
  }

  // ---------------------------------------------------------------- Describe / List / Delete

  describe(groupId: string): DescribeResult {
    if (this.closed) {
      return {
        errorCode: GroupError.COORDINATOR_NOT_AVAILABLE,
        groupId,
        state: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
      };
    }
    const group = this.groups.get(groupId);
    if (!group) {
      return {
        errorCode: GroupError.NONE,
        groupId,
        state: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
      };
    }
    const stable = group.is("Stable");
    const protocol = stable ? (group.protocolName ?? "") : "";
    return {
      errorCode: GroupError.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? "",
      protocolData: protocol,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(protocol) : EMPTY_BUFFER,
        assignment: stable ? m.assignment : EMPTY_BUFFER,
      })),
    };
  }

  /**
   * What OffsetDelete needs to know of a live group: its state, its protocol type, and every
   * member's metadata for the selected protocol (null while none is selected). Null for a
   * group this coordinator does not hold.
   */
  membership(
    groupId: string,
  ): { state: GroupState; protocolType: string | null; metadata: Buffer[] | null } | null {
    const group = this.groups.get(groupId);
    if (this.closed || !group) return null;
    const protocol = group.protocolName;
    return {
      state: group.state,
      protocolType: group.protocolType ?? null,
      metadata: protocol ? [...group.members.values()].map((m) => m.metadataFor(protocol)) : null,
    };
  }

  /** Groups this coordinator holds. Groups known only by their committed offsets are the caller's to add. */
  list(): GroupListing[] {
    if (this.closed) return [];
    return [...this.groups.values()].map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType ?? "",
      state: g.state,
    }));
  }

  /** DeleteGroups: only Empty groups (or unknown ones with committed offsets). Offsets are the caller's. */
  delete(groupId: string, hasOffsets: boolean): number {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    if (!group) return hasOffsets ? GroupError.NONE : GroupError.GROUP_ID_NOT_FOUND;
    if (!group.is("Empty") && !group.is("Dead")) return GroupError.NON_EMPTY_GROUP;
    this.destroyGroup(group);
    return GroupError.NONE;
  }

  /** Cancel every timer and settle every parked JoinGroup/SyncGroup with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of [...this.groups.values()]) {
      for (const m of group.members.values()) {
        this.settleJoin(m, joinError(m.memberId, GroupError.COORDINATOR_NOT_AVAILABLE));
        this.settleSync(m, syncError(GroupError.COORDINATOR_NOT_AVAILABLE));
      }
      this.destroyGroup(group);
    }
  }

  // ---------------------------------------------------------------- members, timers, bookkeeping

  /** Remove a member and move the group on: rebalance if it was settled, or retry completing the join. */
  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    this.dropMember(group, member);
    switch (group.state) {
      case "Stable":
      case "CompletingRebalance":
        this.maybePrepareRebalance(group);
        return;
      case "PreparingRebalance":
        this.tryCompleteJoin(group);
        return;
      case "Empty":
      case "Dead":
        return;
    }
  }

  /** Remove a member without touching the group state; its parked requests get UNKNOWN_MEMBER_ID. */
  private dropMember(group: Group, member: Member): void {
    this.clearTimer(member.sessionTimer);
    member.sessionTimer = null;
    this.settleJoin(member, joinError("", GroupError.UNKNOWN_MEMBER_ID));
    this.settleSync(member, syncError(GroupError.UNKNOWN_MEMBER_ID));
    const id = member.memberId;
    group.members.delete(id);
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === id) {
      group.staticMembers.delete(member.groupInstanceId);
    }
    group.pendingSync.delete(id);
    if (group.leaderId === id) group.leaderId = group.members.keys().next().value ?? null;
  }

  /** (Re)start the member's session timer: heartbeat, join, sync and commit all count as liveness. */
  private touch(group: Group, member: Member) {
    this.clearTimer(member.sessionTimer);
    member.sessionTimer = this.clock.setTimeout(() => {
      member.sessionTimer = null;
      if (!this.isLive(group) || group.members.get(member.memberId) !== member) return;
      // A member with a parked request cannot heartbeat; that request is bounded by the join/sync timer.
      if (member.joinWaiter || member.syncWaiter) return this.touch(group, member);
      this.removeMemberAndUpdateGroup(group, member);
    }, member.sessionTimeoutMs);
  }

  private addPendingMember(group: Group, memberId: string, sessionTimeoutMs: number): void {
    const timer = this.clock.setTimeout(() => {
      if (!this.isLive(group) || group.pendingMembers.get(memberId) !== timer) return;
      group.pendingMembers.delete(memberId);
      this.tryCompleteJoin(group);
    }, sessionTimeoutMs);
    group.pendingMembers.set(memberId, timer);
  }

  private removePendingMember(group: Group, memberId: string): void {
    if (!group.pendingMembers.has(memberId)) return;
    this.clearTimer(group.pendingMembers.get(memberId));
    group.pendingMembers.delete(memberId);
  }

  private createGroup(groupId: string): Group | null {
    if (this.groups.size >= this.groupsMax) {
      // Make room by evicting the oldest group that holds nothing: Empty, no pending member ids.
      let victim: Group | undefined;
      for (const g of this.groups.values()) {
        if (g.is("Empty") && g.pendingMembers.size === 0) {
          victim = g;
          break;
        }
      }
      if (!victim) return null;
      this.destroyGroup(victim);
    }
    const group = new Group(groupId);
    this.groups.set(groupId, group);
    return group;
  }

  private destroyGroup(group: Group): void {
    this.clearJoinTimer(group);
    this.clearSyncTimer(group);
    for (const timer of group.pendingMembers.values()) this.clearTimer(timer);
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      this.clearTimer(m.sessionTimer);
      m.sessionTimer = null;
    }
    group.state = "Dead";
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
  }

  private isLive(group: Group): boolean {
    return !this.closed && this.groups.get(group.groupId) === group;
  }

  private settleJoin(member: Member, result: JoinResult): void {
    const waiter = member.joinWaiter;
    member.joinWaiter = null;
    waiter?.(result);
  }

  private settleSync(member: Member, result: SyncResult): void {
    const waiter = member.syncWaiter;
    member.syncWaiter = null;
    waiter?.(result);
  }

  private notifyEmpty(groupId: string): void {
    const onEmpty = this.onEmpty;
    if (!onEmpty) return;
    // Deferred, so that the callback sees a settled state and may call back into the coordinator.
    queueMicrotask(() => {
      try {
        onEmpty(groupId);
      } catch {
        // A failing observer must not break the coordinator.
      }
    });
  }

  private clearJoinTimer(group: Group): void {
    this.clearTimer(group.joinTimer);
    group.joinTimer = null;
  }

  private clearSyncTimer(group: Group): void {
    this.clearTimer(group.syncTimer);
    group.syncTimer = null;
  }

  private clearTimer(handle: unknown): void {
    if (handle !== null && handle !== undefined) this.clock.clearTimeout(handle);
  }
}

interface NormalizedJoin {
  req: JoinRequest;
  /** Copied protocols. */
  protocols: { name: string; metadata: Buffer }[];
  /** Clamped; JoinGroup v0's missing value replaced by the session timeout. */
  rebalanceTimeoutMs: number;
}
