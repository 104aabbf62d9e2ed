/**
 * In-memory state of one partition of the log.
 *
 * Invariants (asserted where they change):
 *   logStartOffset <= highWatermark <= nextOffset
 *   lastStableOffset <= highWatermark
 *   highWatermark only moves forward, and only when the commit holding [old hw, new hw) is durable.
 *   nextOffset is the offset the next appended batch gets; batches between highWatermark and
 *   nextOffset are in a commit that has not returned yet and are invisible to readers.
 */
import { assert } from "../util/assert.js";

export class Partition {
  /** Called (then cleared) when the high watermark moves or the partition goes away. */
  private waiters = new Set<() => void>();
  deleted = false;
  /**
   * Open transactions with data in this partition: producer id -> first offset it wrote here.
   * The last stable offset cannot pass the smallest of them (read_committed stops there).
   */
  readonly openTxns = new Map<number, number>();

  constructor(
    readonly id: number,
    readonly topic: string,
    readonly index: number,
    public logStartOffset: number,
    public highWatermark: number,
    public nextOffset: number,
  ) {
    assert(logStartOffset <= highWatermark && highWatermark <= nextOffset, "partition offsets out of order");
  }

  /** min(high watermark, first offset of the oldest open transaction). */
  get lastStableOffset(): number {
    let lso = this.highWatermark;
    for (const first of this.openTxns.values()) if (first < lso) lso = first;
    return lso;
  }

  /** Forgets an open transaction once its marker is durable; read_committed readers may move on. */
  closeTxn(producerId: number): void {
    if (this.openTxns.delete(producerId)) this.wake();
  }

  /** Reserves offsets for a batch of `count` records; returns its base offset. */
  reserve(count: number): number {
    assert(count > 0, "a batch has at least one record");
    assert(Number.isSafeInteger(this.nextOffset + count), "partition offsets beyond 2^53");
    const base = this.nextOffset;
    this.nextOffset += count;
    return base;
  }

  advanceHighWatermark(to: number): void {
    assert(to <= this.nextOffset, "high watermark beyond assigned offsets");
    if (to <= this.highWatermark) return;
    this.highWatermark = to;
    this.wake();
  }

  advanceLogStart(to: number): void {
    assert(to <= this.highWatermark, "log start beyond the high watermark");
    if (to > this.logStartOffset) this.logStartOffset = to;
  }

  onChange(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  wake(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}
