/** Shapes shared by the transaction coordinator and its callers. */
import type { Logger } from "pino";
import type { EngineErrorName } from "../engine/errors.js";
import type { Partition } from "../log/partition.js";
import type { WriteOp } from "../storage/sql.js";
import type { CommitHold } from "../storage/staging-arena.js";
import type { Clock } from "../util/clock.js";

/**
 * Transaction states (Kafka's TransactionState). PrepareCommit/PrepareAbort/PrepareEpochFence
 * exist only in memory while the commit that writes the markers is in flight: the markers,
 * the offsets and the Complete* state reach the disk in one SQLite transaction, so a restart
 * never finds a half-finished commit.
 *
 *   Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──▶ CompleteCommit
 *     ▲                                   │   └──EndTxn(abort)/timeout──▶ PrepareAbort ──▶ CompleteAbort
 *     └──────── InitProducerId (epoch bump; aborts an Ongoing transaction first) ◀──────────┘
 */
export const TxnState = {
  Empty: "Empty",
  Ongoing: "Ongoing",
  PrepareCommit: "PrepareCommit",
  PrepareAbort: "PrepareAbort",
  CompleteCommit: "CompleteCommit",
  CompleteAbort: "CompleteAbort",
  PrepareEpochFence: "PrepareEpochFence",
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

export interface PendingOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

export interface Txn {
  readonly transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /** The id/epoch before the last bump, so a retried InitProducerId gets the same answer. */
  lastProducerId: number;
  lastProducerEpoch: number;
  state: TxnState;
  timeoutMs: number;
  startMs: number;
  updateMs: number;
  /** Partition id -> first offset this transaction wrote there (null until it writes). */
  readonly partitions: Map<number, number | null>;
  readonly groups: Set<string>;
  /** `${group}\0${topic}\0${partition}` -> pending offset. */
  readonly offsets: Map<string, PendingOffset>;
}

/** What the coordinator needs from the engine. */
export interface TxnHost {
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  partition(topic: string, index: number): Partition | undefined;
  partitionById(id: number): Partition | undefined;
  /** Whether clients may not write to `topic` (a table's change topic): POLICY_VIOLATION. */
  refusesWrites(topic: string): boolean;
  /** Queues ops for the next commit; `holds` is the memory their bytes live in (storage/writer.ts). */
  submit(ops: readonly WriteOp[], holds?: readonly CommitHold[], bytes?: number): Promise<void>;
  /** Reserves offsets for a broker-built batch in `p` and returns the write for it. */
  stageBatch(
    p: Partition,
    batch: Buffer,
  ): { op: WriteOp; hold: CommitHold; baseOffset: number; lastOffset: number };
  /** Makes committed offsets visible (called after they are durable). */
  applyCommittedOffsets(offsets: readonly PendingOffset[], commitMs: number): void;
  validateGroupMember(
    groupId: string,
    memberId: string,
    generationId: number,
    groupInstanceId: string | null,
  ): EngineErrorName;
}

export type TxnResult<T = object> = ({ error: "NONE" } & T) | { error: EngineErrorName; message?: string };
