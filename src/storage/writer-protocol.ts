import type { WriteOp } from "./sql.js";

/** Messages between the main thread (Writer) and the writer worker. */
export type ToWorker =
  | { readonly type: "commit"; readonly id: number; readonly ops: readonly WriteOp[] }
  | { readonly type: "close" };

export type FromWorker =
  | { readonly type: "ready" }
  | {
      readonly type: "committed";
      readonly id: number;
      readonly commitUs: number;
      /** Wall-clock ms (util/diagnostics wallNowMs) when the transaction began and when COMMIT returned. */
      readonly startedAt: number;
      readonly endedAt: number;
    }
  | { readonly type: "failed"; readonly id: number; readonly code: string; readonly message: string }
  | { readonly type: "closed" };

export interface WriterWorkerData {
  readonly path: string;
  /** Test hook: fail commits whose ops include this SQL name (fault injection, see storage/README.md). */
  readonly failOn?: string;
  /** Test hook: the thread exits in the middle of commits whose ops include this SQL name. */
  readonly crashOn?: string;
  /** The staging arena (staging-arena.ts): ops name bytes in it with ArenaBytes parameters. */
  readonly staging: SharedArrayBuffer;
}
