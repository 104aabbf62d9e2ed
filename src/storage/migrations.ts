/**
 * Versioned schema. Each entry moves the database from version i to i+1 and runs inside one
 * transaction together with `PRAGMA user_version = i+1`, so a crash mid-migration leaves the
 * old version intact. Never edit a released migration: append a new one.
 *
 * Layout (version 1):
 *   topics       one row per topic; `configs` is a JSON object of Kafka topic-config overrides.
 *   partitions   one row per (topic, index); `log_start_offset` is the first readable offset.
 *   batches      the log: one row per stored Kafka RecordBatch v2, bytes exactly as received
 *                except baseOffset/partitionLeaderEpoch, which the broker assigns.
 *                Invariant: per partition, batches are dense and non-overlapping:
 *                next.base_offset == prev.last_offset + 1.
 *   deleted_partitions  partitions of deleted topics whose batches are still being reclaimed,
 *                a bounded chunk per commit, so that deleting a big topic never stalls produce.
 *   group_offsets committed consumer-group offsets.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uuid TEXT NOT NULL,
    configs TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL
  );
  CREATE TABLE partitions (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    log_start_offset INTEGER NOT NULL DEFAULT 0,
    UNIQUE (topic_id, idx)
  );
  CREATE TABLE batches (
    partition_id INTEGER NOT NULL,
    base_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    max_timestamp INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE UNIQUE INDEX batches_by_last_offset ON batches (partition_id, last_offset, base_offset, max_timestamp, size);
  CREATE TABLE deleted_partitions (
    id INTEGER PRIMARY KEY
  );
  CREATE TABLE group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  ) WITHOUT ROWID;
  `,
];
