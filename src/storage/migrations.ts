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
 *
 * Layout (version 2, exactly-once state; see src/txn/README.md):
 *   producer_ids    every producer id ever handed out (ids are never reused).
 *   producer_state  per (producer, partition): epoch and the last 5 batches' sequence ranges
 *                   and offsets, for duplicate detection after a restart.
 *   transactions    per transactional id: current and previous producer id/epoch, state.
 *   txn_partitions  partitions in the open transaction, with the first offset written there
 *                   (what holds the last stable offset back).
 *   txn_groups, txn_offsets  groups in the transaction and their pending offsets.
 *   aborted_txns    per partition, offset ranges of aborted transactions, for read_committed
 *                   consumers (the Fetch response's aborted_transactions).
 *
 * Layout (version 3, streams; see src/streams/README.md):
 *   streams         a JetStream-style stream: its topic (whose partition 0 holds its messages)
 *                   and its configuration (JSON, owned by src/streams). Deleting the topic
 *                   deletes the stream (ON DELETE CASCADE), so the two never disagree.
 *
 * Layout (version 4, stream consumers):
 *   consumers       a durable JetStream consumer of a stream: its config (JSON, owned by
 *                   src/streams) and its ack floor (every stream sequence <= it is acknowledged).
 *   consumer_acks   sequences above the floor acknowledged out of order. Both cascade from the
 *                   stream, so deleting a stream or its topic deletes its consumers.
 *
 * Layout (version 5, database tables; see src/tables/README.md):
 *   db_tables       a user table: its number (`tbl` below), its change topic (one partition whose
 *                   records are the table's row changes) and its definition (JSON, owned by
 *                   src/tables).
 *   db_rows         one row per record: its primary key as text, the record as JSON text, and
 *                   `version`, the change topic offset of the write that left it so. A row and
 *                   its change record are written in the same commit.
 *   db_index        secondary indexes: one entry per (indexed attribute, value, record); array
 *                   values have an entry per element. `value` has no declared type (BLOB
 *                   affinity), so SQLite keeps each value's own type: "5" stays text, 5 a number.
 *   db_dropped      every dropped table's number; its rows and index entries are reclaimed a
 *                   bounded chunk per commit (as deleted_partitions), then `reclaimed` is set. The
 *                   row stays, so a table number is never reused (clients hold versions by it).
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
  // Version 2: exactly-once state (src/txn/). Written in the same commits as the batches they
  // describe, so a restart finds producer sequences, open transactions and pending offsets
  // exactly as acknowledged.
  `
  CREATE TABLE producer_ids (
    producer_id INTEGER PRIMARY KEY,
    allocated_ms INTEGER NOT NULL
  );
  CREATE TABLE producer_state (
    producer_id INTEGER NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_epoch INTEGER NOT NULL,
    batches TEXT NOT NULL,
    update_ms INTEGER NOT NULL,
    PRIMARY KEY (producer_id, partition_id)
  ) WITHOUT ROWID;
  CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id INTEGER NOT NULL,
    producer_epoch INTEGER NOT NULL,
    last_producer_id INTEGER NOT NULL,
    last_producer_epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    update_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    first_offset INTEGER,
    PRIMARY KEY (transactional_id, partition_id)
  ) WITHOUT ROWID;
  CREATE TABLE txn_groups (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (transactional_id, group_id)
  ) WITHOUT ROWID;
  CREATE TABLE txn_offsets (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    PRIMARY KEY (transactional_id, group_id, topic, partition)
  ) WITHOUT ROWID;
  CREATE TABLE aborted_txns (
    partition_id INTEGER NOT NULL,
    producer_id INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL
  );
  CREATE INDEX aborted_txns_by_last_offset ON aborted_txns (partition_id, last_offset);
  `,
  `
  CREATE TABLE streams (
    name TEXT PRIMARY KEY,
    topic_id INTEGER NOT NULL UNIQUE REFERENCES topics (id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE consumers (
    stream TEXT NOT NULL REFERENCES streams (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    ack_floor INTEGER NOT NULL,
    PRIMARY KEY (stream, name)
  ) WITHOUT ROWID;
  CREATE TABLE consumer_acks (
    stream TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (stream, name, seq),
    FOREIGN KEY (stream, name) REFERENCES consumers (stream, name) ON DELETE CASCADE
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE db_tables (
    name TEXT PRIMARY KEY,
    tbl INTEGER NOT NULL UNIQUE,
    topic_id INTEGER NOT NULL UNIQUE REFERENCES topics (id),
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE db_rows (
    tbl INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (tbl, id)
  ) WITHOUT ROWID;
  CREATE TABLE db_index (
    tbl INTEGER NOT NULL,
    attr TEXT NOT NULL,
    value,
    id TEXT NOT NULL,
    PRIMARY KEY (tbl, attr, value, id)
  ) WITHOUT ROWID;
  CREATE TABLE db_dropped (
    tbl INTEGER PRIMARY KEY,
    reclaimed INTEGER NOT NULL DEFAULT 0
  );
  `,
];
