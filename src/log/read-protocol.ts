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
  /** An answer in the arena is written: its region may be reused (see util/region-allocator.ts). */
  | { readonly type: "free"; readonly region: number }
  /**
   * An answer that did not fit the arena came as transferred buffers: handed back once
   * written, so they are detached on the main thread and garbage in the worker, whose pauses
   * hold up no produce acknowledgement.
   */
  | { readonly type: "release"; readonly buffers: readonly ArrayBuffer[] }
  | { readonly type: "close" };

export type FromReadWorker =
  | { readonly type: "ready" }
  | {
      readonly type: "read";
      readonly id: number;
      /**
       * The arena region holding every returned batch, or 0 when they did not fit and came in
       * `buffers` instead (one per batch, transferred, not copied).
       */
      readonly region: number;
      readonly buffers: readonly ArrayBuffer[];
      /**
       * Five numbers per batch: item index, base offset, last offset, where (its byte offset in
       * the arena, or its index in `buffers`), length.
       */
      readonly index: Float64Array;
    }
  | { readonly type: "failed"; readonly id: number; readonly message: string }
  | { readonly type: "closed" };

export const INDEX_STRIDE = 5;

export interface ReadWorkerData {
  readonly path: string;
  /** The arena answers are copied into (util/region-allocator.ts allocates it); the main thread made it and reads it. */
  readonly arena: SharedArrayBuffer;
}
