/**
 * Every statement the writer may run, by name. The main thread describes a commit as a list
 * of `[name, params]` ops; the writer worker prepares each statement once and runs the whole
 * list in one SQLite transaction. Keeping the SQL here (and nowhere else for writes) means the
 * write path is auditable in one page.
 */
export const WRITE_SQL = {
  insertTopic: "INSERT INTO topics (id, name, uuid, configs, created_ms) VALUES (?, ?, ?, ?, ?)",
  updateTopicConfigs: "UPDATE topics SET configs = ? WHERE id = ?",
  deleteTopic: "DELETE FROM topics WHERE id = ?",
  insertPartition: "INSERT INTO partitions (id, topic_id, idx, log_start_offset) VALUES (?, ?, ?, ?)",
  setLogStartOffset: "UPDATE partitions SET log_start_offset = ? WHERE id = ?",
  insertBatch:
    "INSERT INTO batches (partition_id, base_offset, last_offset, max_timestamp, size, data) VALUES (?, ?, ?, ?, ?, ?)",
  /** Deletes whole batches that end below the new log start offset. */
  deleteBatchesBelow: "DELETE FROM batches WHERE partition_id = ? AND last_offset < ?",
  /** Reclaims a deleted partition's batches a bounded chunk at a time. */
  deleteOrphanBatchesChunk:
    "DELETE FROM batches WHERE rowid IN (SELECT rowid FROM batches WHERE partition_id = ? LIMIT ?)",
  insertDeletedPartition: "INSERT INTO deleted_partitions (id) VALUES (?)",
  deleteDeletedPartition: "DELETE FROM deleted_partitions WHERE id = ?",
  upsertGroupOffset: `INSERT INTO group_offsets (group_id, topic, partition, committed_offset, leader_epoch, metadata, commit_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed_offset = excluded.committed_offset,
      leader_epoch = excluded.leader_epoch, metadata = excluded.metadata, commit_ms = excluded.commit_ms`,
  deleteGroupOffsets: "DELETE FROM group_offsets WHERE group_id = ?",
  deleteGroupOffset: "DELETE FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?",
  deleteTopicGroupOffsets: "DELETE FROM group_offsets WHERE topic = ?",
} as const;

export type WriteSqlName = keyof typeof WRITE_SQL;
export type SqlParam = number | bigint | string | null | Uint8Array;
export type WriteOp = readonly [name: WriteSqlName, params: readonly SqlParam[]];
