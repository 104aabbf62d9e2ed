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
  /**
   * An earlier answer's buffers, no longer referenced on the main thread, handed back so they
   * are detached there. Why: an ArrayBuffer that reaches a thread counts as external memory in
   * it until detached or collected, and a stream of 16 MiB answers left to the main thread's
   * collector brought a full mark-compact every 20-90 ms (about 9 ms of pause each). Handed
   * back, they are garbage in the worker, whose pauses hold up no produce acknowledgement.
   */
  | { readonly type: "release"; readonly buffers: readonly ArrayBuffer[] }
  | { readonly type: "close" };

export type FromReadWorker =
  | { readonly type: "ready" }
  | {
      readonly type: "read";
      readonly id: number;
      /** One buffer per returned batch; transferred, not copied. */
      readonly buffers: readonly ArrayBuffer[];
      /** Five numbers per batch: item index, base offset, last offset, index in buffers, length. */
      readonly index: Float64Array;
    }
  | { readonly type: "failed"; readonly id: number; readonly message: string }
  | { readonly type: "closed" };

export const INDEX_STRIDE = 5;

export interface ReadWorkerData {
  readonly path: string;
}
