import type { ArenaBytes } from "./staging-arena.js";

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
  insertProducerId: "INSERT INTO producer_ids (producer_id, allocated_ms) VALUES (?, ?)",
  upsertProducerState: `INSERT INTO producer_state (producer_id, partition_id, producer_epoch, batches, update_ms)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (producer_id, partition_id) DO UPDATE SET producer_epoch = excluded.producer_epoch,
      batches = excluded.batches, update_ms = excluded.update_ms`,
  deleteProducerState: "DELETE FROM producer_state WHERE producer_id = ? AND partition_id = ?",
  deletePartitionProducerState: "DELETE FROM producer_state WHERE partition_id = ?",
  upsertTransaction: `INSERT INTO transactions (transactional_id, producer_id, producer_epoch, last_producer_id,
      last_producer_epoch, state, timeout_ms, start_ms, update_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (transactional_id) DO UPDATE SET producer_id = excluded.producer_id,
      producer_epoch = excluded.producer_epoch, last_producer_id = excluded.last_producer_id,
      last_producer_epoch = excluded.last_producer_epoch, state = excluded.state,
      timeout_ms = excluded.timeout_ms, start_ms = excluded.start_ms, update_ms = excluded.update_ms`,
  deleteTransaction: "DELETE FROM transactions WHERE transactional_id = ?",
  insertTxnPartition:
    "INSERT OR IGNORE INTO txn_partitions (transactional_id, partition_id, first_offset) VALUES (?, ?, NULL)",
  setTxnPartitionFirstOffset:
    "UPDATE txn_partitions SET first_offset = ? WHERE transactional_id = ? AND partition_id = ? AND first_offset IS NULL",
  clearTxnPartitions: "DELETE FROM txn_partitions WHERE transactional_id = ?",
  insertTxnGroup: "INSERT OR IGNORE INTO txn_groups (transactional_id, group_id) VALUES (?, ?)",
  clearTxnGroups: "DELETE FROM txn_groups WHERE transactional_id = ?",
  upsertTxnOffset: `INSERT INTO txn_offsets (transactional_id, group_id, topic, partition, committed_offset, leader_epoch, metadata)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (transactional_id, group_id, topic, partition) DO UPDATE SET
      committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, metadata = excluded.metadata`,
  /** Commit: pending offsets become the group's committed offsets, in the marker's commit. */
  promoteTxnOffsets: `INSERT INTO group_offsets (group_id, topic, partition, committed_offset, leader_epoch, metadata, commit_ms)
    SELECT group_id, topic, partition, committed_offset, leader_epoch, metadata, ? FROM txn_offsets WHERE transactional_id = ?
    ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed_offset = excluded.committed_offset,
      leader_epoch = excluded.leader_epoch, metadata = excluded.metadata, commit_ms = excluded.commit_ms`,
  clearTxnOffsets: "DELETE FROM txn_offsets WHERE transactional_id = ?",
  /** OffsetDelete: a group partition's pending offsets, in every transaction. */
  deletePendingTxnOffsets: "DELETE FROM txn_offsets WHERE group_id = ? AND topic = ? AND partition = ?",
  insertAbortedTxn:
    "INSERT INTO aborted_txns (partition_id, producer_id, first_offset, last_offset) VALUES (?, ?, ?, ?)",
  deleteAbortedTxnsBelow: "DELETE FROM aborted_txns WHERE partition_id = ? AND last_offset < ?",
  deletePartitionAbortedTxns: "DELETE FROM aborted_txns WHERE partition_id = ?",
  insertStream: "INSERT INTO streams (name, topic_id, config, created_ms) VALUES (?, ?, ?, ?)",
  updateStreamConfig: "UPDATE streams SET config = ? WHERE name = ?",
  insertConsumer:
    "INSERT INTO consumers (stream, name, config, created_ms, ack_floor) VALUES (?, ?, ?, ?, ?)",
  deleteConsumer: "DELETE FROM consumers WHERE stream = ? AND name = ?",
  insertConsumerAck: "INSERT OR IGNORE INTO consumer_acks (stream, name, seq) VALUES (?, ?, ?)",
  setConsumerAckFloor: "UPDATE consumers SET ack_floor = ? WHERE stream = ? AND name = ?",
  deleteConsumerAcksTo: "DELETE FROM consumer_acks WHERE stream = ? AND name = ? AND seq <= ?",
  insertDbTable: "INSERT INTO db_tables (name, tbl, topic_id, config, created_ms) VALUES (?, ?, ?, ?, ?)",
  deleteDbTable: "DELETE FROM db_tables WHERE name = ?",
  /** Dropping a table: its rows and index entries, a bounded chunk per commit (retention's way). */
  deleteDbRowsChunk:
    "DELETE FROM db_rows WHERE tbl = ? AND id IN (SELECT id FROM db_rows WHERE tbl = ? LIMIT ?)",
  deleteDbIndexChunk: `DELETE FROM db_index WHERE (tbl, attr, value, id) IN
    (SELECT tbl, attr, value, id FROM db_index WHERE tbl = ? LIMIT ?)`,
  insertDbDropped: "INSERT INTO db_dropped (tbl) VALUES (?)",
  setDbDroppedReclaimed: "UPDATE db_dropped SET reclaimed = 1 WHERE tbl = ?",
  upsertDbRow: `INSERT INTO db_rows (tbl, id, doc, version) VALUES (?, ?, ?, ?)
    ON CONFLICT (tbl, id) DO UPDATE SET doc = excluded.doc, version = excluded.version`,
  deleteDbRow: "DELETE FROM db_rows WHERE tbl = ? AND id = ?",
  insertDbIndex: "INSERT OR IGNORE INTO db_index (tbl, attr, value, id) VALUES (?, ?, ?, ?)",
  deleteDbIndex: "DELETE FROM db_index WHERE tbl = ? AND attr = ? AND value = ? AND id = ?",
} as const;

export type WriteSqlName = keyof typeof WRITE_SQL;
/** ArenaBytes: bytes in the writer's staging arena (staging-arena.ts), bound as a BLOB. */
export type SqlParam = number | bigint | string | null | Uint8Array | ArenaBytes;
export type WriteOp = readonly [name: WriteSqlName, params: readonly SqlParam[]];
