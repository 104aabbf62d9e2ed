/**
 * Committed consumer-group offsets: a durable table mirrored in memory for OffsetFetch.
 * The in-memory map changes only after the commit holding the change is durable, so a
 * reader never sees an offset that a crash could take back.
 */
import type Database from "better-sqlite3";
import type { WriteOp } from "../storage/sql.js";

export interface CommittedOffset {
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  readonly commitMs: number;
}

/** Kafka's offset.metadata.max.bytes default. */
export const OFFSET_METADATA_BYTES_MAX = 4096;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class GroupOffsets {
  private readonly groups = new Map<
    string,
    Map<string, CommittedOffset & { topic: string; partition: number }>
  >();

  load(db: Database.Database): void {
    this.groups.clear();
    const rows = db
      .prepare(
        "SELECT group_id, topic, partition, committed_offset, leader_epoch, metadata, commit_ms FROM group_offsets",
      )
      .raw(true)
      .all() as [string, string, number, number, number, string | null, number][];
    for (const [g, topic, partition, offset, leaderEpoch, metadata, commitMs] of rows) {
      this.apply(g, topic, partition, { offset, leaderEpoch, metadata, commitMs });
    }
  }

  apply(groupId: string, topic: string, partition: number, c: CommittedOffset): void {
    let m = this.groups.get(groupId);
    if (!m) this.groups.set(groupId, (m = new Map()));
    m.set(key(topic, partition), { ...c, topic, partition });
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.get(key(topic, partition));
  }

  all(groupId: string): (CommittedOffset & { topic: string; partition: number })[] {
    return [...(this.groups.get(groupId)?.values() ?? [])];
  }

  count(groupId: string): number {
    return this.groups.get(groupId)?.size ?? 0;
  }

  hasGroup(groupId: string): boolean {
    return (this.groups.get(groupId)?.size ?? 0) > 0;
  }

  groupIds(): string[] {
    return [...this.groups.keys()].filter((g) => this.hasGroup(g));
  }

  upsertOp(groupId: string, topic: string, partition: number, c: CommittedOffset): WriteOp {
    return [
      "upsertGroupOffset",
      [groupId, topic, partition, c.offset, c.leaderEpoch, c.metadata, c.commitMs],
    ];
  }

  removeGroup(groupId: string): void {
    this.groups.delete(groupId);
  }

  removeOne(groupId: string, topic: string, partition: number): void {
    const m = this.groups.get(groupId);
    if (!m) return;
    m.delete(key(topic, partition));
    if (m.size === 0) this.groups.delete(groupId);
  }

  removeTopic(topic: string): void {
    for (const m of this.groups.values()) {
      for (const [k, v] of m) if (v.topic === topic) m.delete(k);
    }
  }
}
