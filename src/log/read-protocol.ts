/** Messages between the main thread (ReadPool) and a read worker (read-worker.ts). */

/**
 * One partition's read: whole batches from the one containing `from` up to `end` (exclusive),
 * at most `maxBytes` (the first batch always, if maxBytes > 0).
 */
export interface ReadItem {
  readonly partitionId: number;
  readonly from: number;
  readonly end: number;
  readonly maxBytes: number;
}

export type ToReadWorker =
  | {
      readonly type: "read";
      readonly id: number;
      readonly items: readonly ReadItem[];
      /** Shared by all items in order: each item reads at most what is left of it. */
      readonly budgetBytes: number;
    }
  /** A buffer from an earlier answer, no longer referenced on the main thread: reuse it. */
  | { readonly type: "recycle"; readonly buffer: ArrayBuffer }
  | { readonly type: "close" };

export type FromReadWorker =
  | { readonly type: "ready" }
  | {
      readonly type: "read";
      readonly id: number;
      /** Every returned batch, back to back (maybe followed by unused space); transferred, not copied. */
      readonly buffer: ArrayBuffer;
      /** Five numbers per batch: item index, base offset, last offset, start in buffer, length. */
      readonly index: Float64Array;
    }
  | { readonly type: "failed"; readonly id: number; readonly message: string }
  | { readonly type: "closed" };

export const INDEX_STRIDE = 5;

export interface ReadWorkerData {
  readonly path: string;
}
