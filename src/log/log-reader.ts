/**
 * Reads of the log on the main thread's reader connection. The reader sees every commit the
 * writer has made; callers bound what they read by the partition's high watermark, so a
 * commit whose acknowledgement has not yet reached the main thread is not exposed early.
 */
import type Database from "better-sqlite3";

export interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly data: Buffer;
}

/** An aborted transaction's range in one partition: its first data offset and its abort marker. */
export interface AbortedRange {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly markerOffset: number;
}

export interface BatchMeta {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly size: number;
}

export class LogReader {
  private readonly fetchStmt: Database.Statement;
  private readonly maxLastOffsetStmt: Database.Statement;
  private readonly metaFromStmt: Database.Statement;
  private readonly byTimestampStmt: Database.Statement;
  private readonly sizeStmt: Database.Statement;
  private readonly maxTimestampStmt: Database.Statement;
  private readonly abortedStmt: Database.Statement;
  private readonly belowStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.fetchStmt = db
      .prepare(
        "SELECT base_offset, last_offset, data FROM batches WHERE partition_id = ? AND last_offset >= ? AND base_offset < ? ORDER BY last_offset",
      )
      .raw(true);
    this.maxLastOffsetStmt = db
      .prepare("SELECT MAX(last_offset) FROM batches WHERE partition_id = ?")
      .pluck(true);
    this.metaFromStmt = db
      .prepare(
        "SELECT base_offset, last_offset, max_timestamp, size FROM batches WHERE partition_id = ? AND last_offset >= ? ORDER BY last_offset LIMIT ?",
      )
      .raw(true);
    this.byTimestampStmt = db
      .prepare(
        "SELECT base_offset, last_offset, data FROM batches WHERE partition_id = ? AND last_offset >= ? AND max_timestamp >= ? ORDER BY last_offset LIMIT 1",
      )
      .raw(true);
    this.sizeStmt = db
      .prepare("SELECT COALESCE(SUM(size), 0) FROM batches WHERE partition_id = ?")
      .pluck(true);
    this.maxTimestampStmt = db
      .prepare(
        "SELECT base_offset, last_offset, max_timestamp, data FROM batches WHERE partition_id = ? AND last_offset >= ? ORDER BY max_timestamp DESC, last_offset LIMIT 1",
      )
      .raw(true);
    this.belowStmt = db
      .prepare(
        "SELECT last_offset FROM batches WHERE partition_id = ? AND last_offset < ? ORDER BY last_offset LIMIT ?",
      )
      .pluck(true);
    this.abortedStmt = db
      .prepare(
        "SELECT producer_id, first_offset, last_offset FROM aborted_txns WHERE partition_id = ? AND last_offset >= ? AND first_offset <= ? ORDER BY first_offset",
      )
      .raw(true);
  }

  /** Last offsets of up to `limit` batches that end below `offset`, in order. */
  lastOffsetsBelow(partitionId: number, offset: number, limit: number): number[] {
    return this.belowStmt.all(partitionId, offset, limit) as number[];
  }

  /** Aborted transactions whose range [first, marker] overlaps [fromOffset, toOffset]. */
  abortedTxns(partitionId: number, fromOffset: number, toOffset: number): AbortedRange[] {
    return (this.abortedStmt.all(partitionId, fromOffset, toOffset) as [number, number, number][]).map(
      ([producerId, firstOffset, markerOffset]) => ({ producerId, firstOffset, markerOffset }),
    );
  }

  /**
   * Whole batches from the one containing `fromOffset` up to `endOffset` (exclusive), until
   * `maxBytes` is reached. The first batch is always returned, even if larger than maxBytes,
   * so that a consumer can always make progress (Kafka's KIP-74 rule).
   */
  fetch(partitionId: number, fromOffset: number, endOffset: number, maxBytes: number): StoredBatch[] {
    const out: StoredBatch[] = [];
    let bytes = 0;
    for (const row of this.fetchStmt.iterate(partitionId, fromOffset, endOffset) as IterableIterator<
      [number, number, Buffer]
    >) {
      const data = row[2];
      if (out.length > 0 && bytes + data.length > maxBytes) break;
      out.push({ baseOffset: row[0], lastOffset: row[1], data });
      bytes += data.length;
      if (bytes >= maxBytes) break;
    }
    return out;
  }

  maxLastOffset(partitionId: number): number | null {
    return this.maxLastOffsetStmt.get(partitionId) as number | null;
  }

  /** Metadata of up to `limit` batches from the one containing `fromOffset`, in offset order. */
  metaFrom(partitionId: number, fromOffset: number, limit: number): BatchMeta[] {
    return (this.metaFromStmt.all(partitionId, fromOffset, limit) as [number, number, number, number][]).map(
      ([baseOffset, lastOffset, maxTimestamp, size]) => ({ baseOffset, lastOffset, maxTimestamp, size }),
    );
  }

  /** The first batch at or after `fromOffset` holding a record with timestamp >= `timestampMs`. */
  firstBatchWithTimestamp(partitionId: number, fromOffset: number, timestampMs: number): StoredBatch | null {
    const row = this.byTimestampStmt.get(partitionId, fromOffset, timestampMs) as
      | [number, number, Buffer]
      | undefined;
    return row ? { baseOffset: row[0], lastOffset: row[1], data: row[2] } : null;
  }

  batchWithMaxTimestamp(
    partitionId: number,
    fromOffset: number,
  ): (StoredBatch & { maxTimestamp: number }) | null {
    const row = this.maxTimestampStmt.get(partitionId, fromOffset) as
      | [number, number, number, Buffer]
      | undefined;
    return row ? { baseOffset: row[0], lastOffset: row[1], maxTimestamp: row[2], data: row[3] } : null;
  }

  sizeBytes(partitionId: number): number {
    return this.sizeStmt.get(partitionId) as number;
  }
}
