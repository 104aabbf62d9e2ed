/**
 * Message-id deduplication for one stream (JetStream's Nats-Msg-Id): a publish whose id was
 * seen within the duplicate window is not stored again and is answered with the first one's
 * sequence.
 *
 * Why this survives a crash without a table of its own: the id travels inside the stored record
 * (as a record header), in the same commit as the message, so after a restart the window is
 * rebuilt by reading the last duplicate_window of the log (jetstream.ts). An id is in the window
 * exactly when its message is durable, or is being committed (then a second publish waits for
 * the first's outcome instead of racing it).
 *
 * Invariants:
 * 1. Entries are in insertion order, which is time order: expiry pops from the front.
 * 2. At most DEDUPE_IDS_PER_STREAM_MAX ids are remembered; past it the oldest are forgotten
 *    early (a duplicate of those is then stored again: bounded memory over perfect recall).
 */
import { assert } from "../util/assert.js";

export const DEDUPE_IDS_PER_STREAM_MAX = 1_000_000;
/** nats-server bounds message ids too (they are headers); longer ones are refused. */
export const MSG_ID_BYTES_MAX = 1024;

interface Entry {
  /** The stream sequence, once durable; a promise while its commit runs. */
  seq: number | Promise<number>;
  atMs: number;
}

export class DedupeWindow {
  private readonly ids = new Map<string, Entry>();

  constructor(
    private windowMs: number,
    private readonly idsMax = DEDUPE_IDS_PER_STREAM_MAX,
  ) {
    assert(windowMs > 0, "duplicate window must be positive");
  }

  get size(): number {
    return this.ids.size;
  }

  setWindow(ms: number): void {
    assert(ms > 0, "duplicate window must be positive");
    this.windowMs = ms;
  }

  /** The sequence (or pending sequence) a live id was stored at. */
  lookup(id: string, nowMs: number): number | Promise<number> | undefined {
    this.expire(nowMs);
    return this.ids.get(id)?.seq;
  }

  /** Remembers `id` as stored (or being stored) at `seq`, published at `atMs`. */
  remember(id: string, seq: number | Promise<number>, atMs: number): void {
    this.ids.delete(id);
    this.ids.set(id, { seq, atMs });
    while (this.ids.size > this.idsMax) this.ids.delete(this.ids.keys().next().value as string);
  }

  /** A commit that failed: the id was not stored after all. */
  forget(id: string, seq: Promise<number>): void {
    if (this.ids.get(id)?.seq === seq) this.ids.delete(id);
  }

  /** Replaces a pending sequence by its outcome. */
  settle(id: string, pending: Promise<number>, seq: number): void {
    const e = this.ids.get(id);
    if (e?.seq === pending) e.seq = seq;
  }

  private expire(nowMs: number): void {
    const floor = nowMs - this.windowMs;
    for (const [id, e] of this.ids) {
      if (e.atMs >= floor) break;
      this.ids.delete(id);
    }
  }
}
