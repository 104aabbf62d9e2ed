/** In-memory state of one group and its members, plus the pure helpers over it (no timers, no I/O). */
import type { GroupState, JoinMember, JoinResult, ProtocolEntry, SyncResult } from "./types.js";

export type JoinWaiter = (result: JoinResult) => void;
export type SyncWaiter = (result: SyncResult) => void;

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

export class Member {
  /** Assignment of the current generation; empty until the leader's SyncGroup. */
  assignment: Buffer = EMPTY_BUFFER;
  /** Parked JoinGroup of this member (it is "awaiting join"). */
  joinWaiter: JoinWaiter | null = null;
  /** Parked SyncGroup of this member (it is "awaiting sync"). */
  syncWaiter: SyncWaiter | null = null;
  /** Session (heartbeat) expiry timer. */
  sessionTimer: unknown = null;

  constructor(
    public memberId: string,
    public readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public readonly protocolType: string,
    public protocols: ProtocolEntry[],
  ) {}

  supports(protocol: string): boolean {
    return this.protocols.some((p) => p.name === protocol);
  }

  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BUFFER;
  }

  /** Same protocols, same order, same metadata bytes. */
  matches(protocols: ProtocolEntry[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i]!;
      return mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }

  /** The member's most preferred protocol among the candidates (Kafka's MemberMetadata.vote). */
  vote(candidates: Set<string>): string | undefined {
    return this.protocols.find((p) => candidates.has(p.name))?.name;
  }
}

export class Group {
  state: GroupState = "Empty";
  generationId = 0;
  /** Set by the first member; kept while Empty (describe shows it), as Kafka. */
  protocolType: string | null = null;
  /** Selected protocol of the current generation; null while Empty. */
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** Insertion-ordered: the leader falls back to the oldest member. */
  readonly members = new Map<string, Member>();
  /** KIP-394 ids handed out with MEMBER_ID_REQUIRED, with their expiry timer. */
  readonly pendingMembers = new Map<string, unknown>();
  /** KIP-345: group.instance.id -> current member id. */
  readonly staticMembers = new Map<string, string>();
  /** Members of the current generation that have not sent SyncGroup yet (Kafka 3.x pendingSyncMembers). */
  readonly pendingSync = new Set<string>();
  /** Max rebalance timeout of the members when the current rebalance began. */
  rebalanceTimeoutMs = 0;
  /** Completes the join phase (rebalance timeout or initial-delay step). */
  joinTimer: unknown = null;
  /** true while the join phase is in Kafka's InitialDelayedJoin (cannot complete early). */
  inInitialDelay = false;
  /** A new member arrived during the current initial-delay step: extend once more. */
  newMemberAdded = false;
  /** Expires members that never sent SyncGroup for the current generation. */
  syncTimer: unknown = null;

  constructor(public readonly groupId: string) {}

  is(state: GroupState): boolean {
    return this.state === state;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  isPendingMember(memberId: string): boolean {
    return this.pendingMembers.has(memberId) && !this.members.has(memberId);
  }

  hasStaticMember(groupInstanceId: string | null): groupInstanceId is string {
    return groupInstanceId !== null && this.staticMembers.has(groupInstanceId);
  }

  /** KIP-345: a known instance id presented with a member id that is not its current one. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    return this.hasStaticMember(groupInstanceId) && this.staticMembers.get(groupInstanceId) !== memberId;
  }

  /** Valid previous states of PreparingRebalance. */
  canRebalance(): boolean {
    return this.is("Stable") || this.is("CompletingRebalance") || this.is("Empty");
  }

  numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.joinWaiter) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.numAwaitingJoin() === this.members.size && this.pendingMembers.size === 0;
  }

  maxRebalanceTimeoutMs(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  /**
   * Can a member with these protocols be (or stay) in the group? The type must match once the group
   * has members, and one of the protocols must be supported by every other member.
   */
  supportsProtocols(protocolType: string, protocols: ProtocolEntry[], selfId: string | null): boolean {
    if (protocolType === "" || protocols.length === 0) return false;
    if (this.members.size === 0) return true;
    if (this.protocolType !== protocolType) return false;
    const others = [...this.members.values()].filter((m) => m.memberId !== selfId);
    return protocols.some((p) => others.every((m) => m.supports(p.name)));
  }

  /**
   * Kafka's selectProtocol: candidates are the protocols every member supports; each member votes for
   * its most preferred candidate; most votes wins; ties go to the leader's preference order.
   */
  selectProtocol(): string {
    const all = [...this.members.values()];
    const first = all[0];
    if (!first) throw new Error(`selectProtocol on group ${this.groupId} without members`);
    const candidates = new Set(
      first.protocols.map((p) => p.name).filter((n) => all.every((m) => m.supports(n))),
    );
    const votes = new Map<string, number>();
    for (const m of all) {
      const v = m.vote(candidates);
      if (v !== undefined) votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    const leader = (this.leaderId !== null ? this.members.get(this.leaderId) : undefined) ?? first;
    let best: string | undefined;
    let bestVotes = -1;
    for (const p of leader.protocols) {
      const n = votes.get(p.name) ?? 0;
      if (candidates.has(p.name) && n > bestVotes) {
        best = p.name;
        bestVotes = n;
      }
    }
    if (best === undefined) throw new Error(`no common protocol in group ${this.groupId}`);
    return best;
  }

  /** Every member's metadata for the selected protocol: the leader's JoinGroup payload. */
  currentMemberMetadata(): JoinMember[] {
    const protocol = this.protocolName ?? "";
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(protocol),
    }));
  }
}
