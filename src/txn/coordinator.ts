/**
 * The transaction coordinator and the idempotent producers' state.
 *
 * Everything here is decided on the main thread and made durable through the engine's writer;
 * every request's answer follows the commit holding its effect.
 *
 * Invariants
 *  1. A producer id is never handed out twice (producer_ids is durable before the answer).
 *  2. EndTxn writes one control batch to every partition in the transaction, promotes (commit)
 *     or discards (abort) its pending offsets, and records Complete* — all in one commit, before
 *     it answers. Clients therefore never see CONCURRENT_TRANSACTIONS after an EndTxn returned.
 *  3. A partition's last stable offset is held back by every open transaction that wrote to it,
 *     from its first offset there until its marker is durable.
 *  4. Producer sequence state is updated in memory when a batch is accepted (so pipelined
 *     batches check against it) and written in the same commit as the batch. If that commit
 *     fails, the engine reloads all of this from disk.
 *  5. A fenced producer (older epoch) can neither produce nor change its transaction.
 */
import type Database from "better-sqlite3";
import type { EngineErrorName } from "../engine/errors.js";
import { OFFSET_METADATA_BYTES_MAX } from "../engine/group-offsets.js";
import type { Partition } from "../log/partition.js";
import { Attr, type BatchHeader } from "../log/record-batch.js";
import { encodeBatch } from "../log/records.js";
import type { WriteOp } from "../storage/sql.js";
import type { CommitHold } from "../storage/staging-arena.js";
import { assert } from "../util/assert.js";
import {
  afterAppend,
  afterEpoch,
  checkSequence,
  decodeBatches,
  encodeBatches,
  type KeptBatch,
  lastSequence,
  type ProducerPartitionState,
} from "./sequence.js";
import { type PendingOffset, type Txn, type TxnHost, type TxnResult, TxnState } from "./types.js";

/** Kafka's transaction.max.timeout.ms default: 15 minutes. */
export const TRANSACTION_TIMEOUT_MS_MAX_DEFAULT = 15 * 60 * 1000;
/** Kafka's producer.id.expiration.ms default: producer state idle this long is forgotten. */
export const PRODUCER_STATE_EXPIRATION_MS = 24 * 60 * 60 * 1000;
/** Highest epoch before a fresh producer id is allocated (Kafka: Short.MaxValue - 1). */
export const PRODUCER_EPOCH_MAX = 32766;
/** Partitions in one transaction: each gets a marker in the EndTxn commit. */
export const TXN_PARTITIONS_MAX = 100_000;
/** Transactional ids held at once: each costs memory for its whole life. */
export const TRANSACTIONAL_IDS_MAX = 100_000;
/** How often expired transactions are looked for (Kafka checks every 10 s). */
export const TXN_TIMEOUT_CHECK_INTERVAL_MS = 1000;

const CONTROL_ABORT = 0;
const CONTROL_COMMIT = 1;

export interface CoordinatorOptions {
  transactionTimeoutMsMax?: number;
}

export interface AppendPlan {
  readonly ops: WriteOp[];
}

export type ProduceVerdict =
  | { readonly kind: "append"; commit(baseOffset: number, lastOffset: number): WriteOp[] }
  | { readonly kind: "duplicate"; readonly batch: KeptBatch }
  | { readonly kind: "error"; readonly error: EngineErrorName; readonly message: string };

const offsetKey = (groupId: string, topic: string, partition: number) =>
  `${groupId}\u0000${topic}\u0000${partition}`;

export class TransactionCoordinator {
  private readonly txns = new Map<string, Txn>();
  private readonly byProducerId = new Map<number, Txn>();
  /** partition id -> producer id -> state */
  private readonly producers = new Map<number, Map<number, ProducerPartitionState & { updateMs: number }>>();
  private nextProducerId = 1;
  private timer: unknown = null;
  private closed = false;
  readonly transactionTimeoutMsMax: number;

  constructor(
    private readonly host: TxnHost,
    opts: CoordinatorOptions = {},
  ) {
    this.transactionTimeoutMsMax = opts.transactionTimeoutMsMax ?? TRANSACTION_TIMEOUT_MS_MAX_DEFAULT;
  }

  // ------------------------------------------------------------------ loading

  /** Rebuilds all state from the database; partitions must already be loaded in the host. */
  load(db: Database.Database): void {
    this.txns.clear();
    this.byProducerId.clear();
    this.producers.clear();
    const maxPid = db.prepare("SELECT MAX(producer_id) FROM producer_ids").pluck().get() as number | null;
    this.nextProducerId = (maxPid ?? 0) + 1;
    for (const [pid, partitionId, epoch, batches, updateMs] of db
      .prepare("SELECT producer_id, partition_id, producer_epoch, batches, update_ms FROM producer_state")
      .raw()
      .all() as [number, number, number, string, number][]) {
      this.producerMap(partitionId).set(pid, { epoch, batches: decodeBatches(batches), updateMs });
    }
    for (const r of db.prepare("SELECT * FROM transactions").all() as Record<string, number & string>[]) {
      const txn: Txn = {
        transactionalId: r.transactional_id,
        producerId: r.producer_id,
        producerEpoch: r.producer_epoch,
        lastProducerId: r.last_producer_id,
        lastProducerEpoch: r.last_producer_epoch,
        state: r.state as TxnState,
        timeoutMs: r.timeout_ms,
        startMs: r.start_ms,
        updateMs: r.update_ms,
        partitions: new Map(),
        groups: new Set(),
        offsets: new Map(),
      };
      this.txns.set(txn.transactionalId, txn);
      this.byProducerId.set(txn.producerId, txn);
    }
    for (const [id, partitionId, first] of db
      .prepare("SELECT transactional_id, partition_id, first_offset FROM txn_partitions")
      .raw()
      .all() as [string, number, number | null][]) {
      const txn = this.txns.get(id);
      if (!txn) continue;
      txn.partitions.set(partitionId, first);
      const p = this.host.partitionById(partitionId);
      if (p && first !== null) p.openTxns.set(txn.producerId, first);
    }
    for (const [id, groupId] of db
      .prepare("SELECT transactional_id, group_id FROM txn_groups")
      .raw()
      .all() as [string, string][]) {
      this.txns.get(id)?.groups.add(groupId);
    }
    for (const [id, groupId, topic, partition, offset, leaderEpoch, metadata] of db
      .prepare(
        "SELECT transactional_id, group_id, topic, partition, committed_offset, leader_epoch, metadata FROM txn_offsets",
      )
      .raw()
      .all() as [string, string, string, number, number, number, string | null][]) {
      this.txns.get(id)?.offsets.set(offsetKey(groupId, topic, partition), {
        groupId,
        topic,
        partition,
        offset,
        leaderEpoch,
        metadata,
      });
    }
  }

  start(): void {
    this.closed = false;
    this.scheduleTimeoutCheck();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.host.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private producerMap(partitionId: number) {
    let m = this.producers.get(partitionId);
    if (!m) this.producers.set(partitionId, (m = new Map()));
    return m;
  }

  // ------------------------------------------------------------------ produce path

  /**
   * Decides what to do with a produced batch that carries a producer id. For an accepted
   * batch, `commit(base, last)` updates the in-memory state and returns the writes that must
   * join the batch's commit.
   */
  checkProduce(p: Partition, h: BatchHeader): ProduceVerdict {
    const pid = h.producerId;
    assert(pid >= 0, "checkProduce needs an idempotent batch");
    const transactional = (h.attributes & Attr.transactional) !== 0;
    const firstSeq = h.baseSequence;
    const lastSeq = lastSequence(firstSeq, h.recordCount);
    if (firstSeq < 0) {
      return {
        kind: "error",
        error: "OUT_OF_ORDER_SEQUENCE_NUMBER",
        message: `idempotent batch with sequence ${firstSeq}`,
      };
    }
    let txn: Txn | undefined;
    if (transactional) {
      txn = this.byProducerId.get(pid);
      if (!txn) {
        return {
          kind: "error",
          error: "INVALID_PRODUCER_ID_MAPPING",
          message: `producer ${pid} has no transaction`,
        };
      }
      if (h.producerEpoch !== txn.producerEpoch) {
        // Older: a fenced zombie. Newer: an epoch the coordinator never issued.
        return {
          kind: "error",
          error: "INVALID_PRODUCER_EPOCH",
          message: `producer epoch ${h.producerEpoch} is not the transaction's epoch ${txn.producerEpoch}`,
        };
      }
      // KIP-890 part 1: a transactional write must go to a partition added to the ongoing
      // transaction; otherwise it could hang the last stable offset forever.
      if (txn.state !== TxnState.Ongoing || !txn.partitions.has(p.id)) {
        return {
          kind: "error",
          error: "INVALID_TXN_STATE",
          message: `partition ${p.topic}-${p.index} is not in an ongoing transaction of producer ${pid}`,
        };
      }
    }
    const states = this.producerMap(p.id);
    const state = states.get(pid);
    const verdict = checkSequence(state, h.producerEpoch, firstSeq, lastSeq);
    if (verdict.kind === "error") return { kind: "error", error: verdict.error, message: verdict.message };
    if (verdict.kind === "duplicate") return verdict;
    return {
      kind: "append",
      commit: (baseOffset, lastOffset) => {
        const now = this.host.clock.nowMs();
        const next = afterAppend(state, h.producerEpoch, { firstSeq, lastSeq, baseOffset, lastOffset });
        states.set(pid, { ...next, updateMs: now });
        const ops: WriteOp[] = [
          ["upsertProducerState", [pid, p.id, next.epoch, encodeBatches(next.batches), now]],
        ];
        if (txn && txn.partitions.get(p.id) === null) {
          txn.partitions.set(p.id, baseOffset);
          p.openTxns.set(pid, baseOffset);
          ops.push(["setTxnPartitionFirstOffset", [baseOffset, txn.transactionalId, p.id]]);
        }
        return ops;
      },
    };
  }

  // ------------------------------------------------------------------ InitProducerId

  async initProducerId(
    transactionalId: string | null,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null,
    fencedError: "INVALID_PRODUCER_EPOCH" | "PRODUCER_FENCED",
  ): Promise<TxnResult<{ producerId: number; producerEpoch: number }>> {
    const now = this.host.clock.nowMs();
    if (transactionalId === null) {
      const producerId = this.nextProducerId++;
      await this.host.submit([["insertProducerId", [producerId, now]]]);
      return { error: "NONE", producerId, producerEpoch: 0 };
    }
    if (transactionalId === "") return { error: "INVALID_REQUEST", message: "empty transactional id" };
    if (timeoutMs <= 0 || timeoutMs > this.transactionTimeoutMsMax) {
      return {
        error: "INVALID_TRANSACTION_TIMEOUT",
        message: `transaction timeout ${timeoutMs} ms is outside 1..${this.transactionTimeoutMsMax}`,
      };
    }
    let txn = this.txns.get(transactionalId);
    if (!txn) {
      if (this.txns.size >= TRANSACTIONAL_IDS_MAX) {
        return {
          error: "COORDINATOR_NOT_AVAILABLE",
          message: `more than ${TRANSACTIONAL_IDS_MAX} transactional ids`,
        };
      }
      const producerId = this.nextProducerId++;
      txn = {
        transactionalId,
        producerId,
        producerEpoch: 0,
        lastProducerId: -1,
        lastProducerEpoch: -1,
        state: TxnState.Empty,
        timeoutMs,
        startMs: now,
        updateMs: now,
        partitions: new Map(),
        groups: new Set(),
        offsets: new Map(),
      };
      this.txns.set(transactionalId, txn);
      this.byProducerId.set(producerId, txn);
      await this.host.submit([["insertProducerId", [producerId, now]], this.txnRow(txn)]);
      return { error: "NONE", producerId, producerEpoch: 0 };
    }
    if (this.inFlight(txn)) return { error: "CONCURRENT_TRANSACTIONS" };
    if (expected && expected.producerId >= 0) {
      const isCurrent =
        expected.producerId === txn.producerId && expected.producerEpoch === txn.producerEpoch;
      const isRetry =
        expected.producerId === txn.lastProducerId && expected.producerEpoch === txn.lastProducerEpoch;
      if (isRetry && !isCurrent)
        return { error: "NONE", producerId: txn.producerId, producerEpoch: txn.producerEpoch };
      if (!isCurrent)
        return { error: fencedError, message: "producer id and epoch do not match the transaction" };
    }
    const ops: WriteOp[] = [];
    const fence = this.fenceMarkerIdentity(txn);
    txn.lastProducerId = txn.producerId;
    txn.lastProducerEpoch = txn.producerEpoch;
    this.bumpEpoch(txn, ops, now);
    const after: (() => void)[] = [];
    const holds: CommitHold[] = [];
    if (txn.state === TxnState.Ongoing) {
      // Fence: abort what the old incarnation left open, with markers in a newer epoch, so
      // a zombie still holding the old epoch can never add to or commit it.
      txn.state = TxnState.PrepareEpochFence;
      after.push(this.stageEnd(txn, false, ops, holds, now, fence));
    }
    txn.state = TxnState.Empty;
    txn.timeoutMs = timeoutMs;
    txn.updateMs = now;
    ops.push(this.txnRow(txn));
    // On failure the engine reloads all state from disk before this rejects; nothing to undo.
    await this.host.submit(ops, holds);
    for (const f of after) f();
    return { error: "NONE", producerId: txn.producerId, producerEpoch: txn.producerEpoch };
  }

  /**
   * Who writes a fencing abort's markers: the producer id the open transaction's data carries,
   * with the next epoch. Taken before bumpEpoch, which may move the transactional id to a new
   * producer id at PRODUCER_EPOCH_MAX; the marker epoch is then at most 32767.
   */
  private fenceMarkerIdentity(txn: Txn): { producerId: number; producerEpoch: number } {
    return { producerId: txn.producerId, producerEpoch: txn.producerEpoch + 1 };
  }

  private bumpEpoch(txn: Txn, ops: WriteOp[], now: number): void {
    if (txn.producerEpoch >= PRODUCER_EPOCH_MAX) {
      this.byProducerId.delete(txn.producerId);
      txn.producerId = this.nextProducerId++;
      txn.producerEpoch = 0;
      this.byProducerId.set(txn.producerId, txn);
      ops.push(["insertProducerId", [txn.producerId, now]]);
    } else {
      txn.producerEpoch++;
    }
  }

  private inFlight(txn: Txn): boolean {
    return (
      txn.state === TxnState.PrepareCommit ||
      txn.state === TxnState.PrepareAbort ||
      txn.state === TxnState.PrepareEpochFence
    );
  }

  private txnRow(txn: Txn): WriteOp {
    const durableState = this.inFlight(txn) ? TxnState.Ongoing : txn.state;
    return [
      "upsertTransaction",
      [
        txn.transactionalId,
        txn.producerId,
        txn.producerEpoch,
        txn.lastProducerId,
        txn.lastProducerEpoch,
        durableState,
        txn.timeoutMs,
        txn.startMs,
        txn.updateMs,
      ],
    ];
  }

  /** Checks that a request comes from the transaction's current producer. */
  private current(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
  ): TxnResult<{ txn: Txn }> {
    const txn = this.txns.get(transactionalId);
    if (!txn || txn.producerId !== producerId) {
      return {
        error: "INVALID_PRODUCER_ID_MAPPING",
        message: `transactional id ${transactionalId} does not map to producer ${producerId}`,
      };
    }
    if (producerEpoch < txn.producerEpoch) {
      return {
        error: "INVALID_PRODUCER_EPOCH",
        message: `producer epoch ${producerEpoch} is fenced by ${txn.producerEpoch}`,
      };
    }
    if (producerEpoch > txn.producerEpoch) {
      return { error: "INVALID_PRODUCER_EPOCH", message: `producer epoch ${producerEpoch} was never issued` };
    }
    if (this.inFlight(txn)) return { error: "CONCURRENT_TRANSACTIONS" };
    return { error: "NONE", txn };
  }

  private begin(txn: Txn, now: number): void {
    if (txn.state !== TxnState.Ongoing) {
      txn.state = TxnState.Ongoing;
      txn.startMs = now;
    }
    txn.updateMs = now;
  }

  // ------------------------------------------------------------------ AddPartitions / AddOffsets

  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<EngineErrorName[]> {
    const cur = this.current(transactionalId, producerId, producerEpoch);
    if (cur.error !== "NONE") return partitions.map(() => cur.error);
    const { txn } = cur as { txn: Txn };
    const found = partitions.map((tp) => this.host.partition(tp.topic, tp.partition));
    // A topic that only its owner writes (a table's change topic) cannot join a transaction: its
    // abort or commit marker would be a record its owner did not write.
    const refused = partitions.map((tp) => this.host.refusesWrites(tp.topic));
    if (found.some((p, i) => !p || refused[i])) {
      return found.map((p, i) =>
        !p ? "UNKNOWN_TOPIC_OR_PARTITION" : refused[i] ? "POLICY_VIOLATION" : "OPERATION_NOT_ATTEMPTED",
      );
    }
    if (txn.partitions.size + found.length > TXN_PARTITIONS_MAX)
      return partitions.map(() => "INVALID_REQUEST");
    const now = this.host.clock.nowMs();
    this.begin(txn, now);
    const ops: WriteOp[] = [this.txnRow(txn)];
    for (const p of found as Partition[]) {
      if (!txn.partitions.has(p.id)) {
        txn.partitions.set(p.id, null);
        ops.push(["insertTxnPartition", [transactionalId, p.id]]);
      }
    }
    this.submitWithoutWaiting(ops);
    return partitions.map(() => "NONE");
  }

  /**
   * AddPartitionsToTxn and AddOffsetsToTxn are answered without waiting for their fsync; every
   * later effect of the transaction depends on them in a way that makes their loss detectable:
   *  - commits apply in order, so a produce or TxnOffsetCommit that is durable implies they are;
   *  - if a crash loses one, the restarted broker refuses what depends on it (a produce to the
   *    partition, a TxnOffsetCommit for the group, an EndTxn of an Empty transaction) with
   *    INVALID_TXN_STATE, and the producer aborts. Nothing is committed without them.
   * This saves two fsync round trips per transaction (measured by the kafka-eos benchmark).
   * TxnOffsetCommit and EndTxn, whose loss would not be detectable, wait for theirs.
   * A failed commit makes the engine reload state from disk, so nothing needs undoing here.
   */
  private submitWithoutWaiting(ops: WriteOp[]): void {
    this.host.submit(ops).catch(() => undefined);
  }

  async addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): Promise<EngineErrorName> {
    const cur = this.current(transactionalId, producerId, producerEpoch);
    if (cur.error !== "NONE") return cur.error;
    const { txn } = cur as { txn: Txn };
    if (groupId === "") return "INVALID_GROUP_ID";
    this.begin(txn, this.host.clock.nowMs());
    txn.groups.add(groupId);
    this.submitWithoutWaiting([this.txnRow(txn), ["insertTxnGroup", [transactionalId, groupId]]]);
    return "NONE";
  }

  async txnOffsetCommit(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
    member: { memberId: string; generationId: number; groupInstanceId: string | null } | null,
    offsets: readonly Omit<PendingOffset, "groupId">[],
  ): Promise<EngineErrorName[]> {
    const all = (e: EngineErrorName) => offsets.map(() => e);
    const cur = this.current(transactionalId, producerId, producerEpoch);
    if (cur.error !== "NONE") return all(cur.error);
    const { txn } = cur as { txn: Txn };
    if (!txn.groups.has(groupId) || txn.state !== TxnState.Ongoing) return all("INVALID_TXN_STATE");
    if (member) {
      // KIP-447: a consumer that lost its partitions in a rebalance must not commit for them.
      const e = this.host.validateGroupMember(
        groupId,
        member.memberId,
        member.generationId,
        member.groupInstanceId,
      );
      if (e !== "NONE") return all(e);
    }
    const ops: WriteOp[] = [];
    const errors = offsets.map((o): EngineErrorName => {
      if (!this.host.partition(o.topic, o.partition)) return "UNKNOWN_TOPIC_OR_PARTITION";
      if (o.metadata !== null && Buffer.byteLength(o.metadata) > OFFSET_METADATA_BYTES_MAX) {
        return "OFFSET_METADATA_TOO_LARGE";
      }
      const pending: PendingOffset = { groupId, ...o };
      txn.offsets.set(offsetKey(groupId, o.topic, o.partition), pending);
      ops.push([
        "upsertTxnOffset",
        [transactionalId, groupId, o.topic, o.partition, o.offset, o.leaderEpoch, o.metadata],
      ]);
      return "NONE";
    });
    txn.updateMs = this.host.clock.nowMs();
    if (ops.length > 0) await this.host.submit(ops);
    return errors;
  }

  /**
   * OffsetDelete: drops these group partitions' pending offsets from every open transaction
   * (memory now; the returned ops remove the rows in the same commit as the committed offsets).
   */
  forgetPendingOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): WriteOp[] {
    const ops: WriteOp[] = [];
    for (const p of partitions) {
      const key = offsetKey(groupId, p.topic, p.partition);
      for (const txn of this.txns.values()) txn.offsets.delete(key);
      ops.push(["deletePendingTxnOffsets", [groupId, p.topic, p.partition]]);
    }
    return ops;
  }

  /** True while a transaction holds uncommitted offsets for this group partition (require_stable). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    const key = offsetKey(groupId, topic, partition);
    for (const txn of this.txns.values()) if (txn.offsets.has(key)) return true;
    return false;
  }

  // ------------------------------------------------------------------ EndTxn

  async endTxn(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<EngineErrorName> {
    const cur = this.current(transactionalId, producerId, producerEpoch);
    if (cur.error !== "NONE") return cur.error;
    const { txn } = cur as { txn: Txn };
    switch (txn.state) {
      case TxnState.CompleteCommit:
        return commit ? "NONE" : "INVALID_TXN_STATE"; // a retry of an EndTxn that already completed
      case TxnState.CompleteAbort:
        return commit ? "INVALID_TXN_STATE" : "NONE";
      case TxnState.Empty:
        return "INVALID_TXN_STATE";
      case TxnState.Ongoing:
        break;
      default:
        return "CONCURRENT_TRANSACTIONS";
    }
    const now = this.host.clock.nowMs();
    const ops: WriteOp[] = [];
    const holds: CommitHold[] = [];
    txn.state = commit ? TxnState.PrepareCommit : TxnState.PrepareAbort;
    const finish = this.stageEnd(txn, commit, ops, holds, now);
    ops.push(this.txnRow({ ...txn, state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort }));
    await this.host.submit(ops, holds);
    finish();
    return "NONE";
  }

  /**
   * Stages the end of `txn`'s transaction into `ops`: a control batch in each of its partitions
   * (in the transaction's current epoch), the aborted-range index, producer state, offsets.
   * Returns what to do once the commit is durable. On failure it is not called: the engine
   * reloads every structure from disk instead.
   */
  private stageEnd(
    txn: Txn,
    commit: boolean,
    ops: WriteOp[],
    holds: CommitHold[],
    now: number,
    markerIdentity: { producerId: number; producerEpoch: number } = txn,
  ): () => void {
    const marked: { p: Partition; lastOffset: number }[] = [];
    const epoch = markerIdentity.producerEpoch;
    const pid = markerIdentity.producerId;
    for (const [partitionId, first] of txn.partitions) {
      const p = this.host.partitionById(partitionId);
      if (!p || p.deleted) continue;
      const marker = encodeBatch({
        records: [
          {
            key: controlKey(commit ? CONTROL_COMMIT : CONTROL_ABORT),
            value: controlValue(),
            timestampMs: now,
          },
        ],
        attributes: Attr.control | Attr.transactional,
        producerId: pid,
        producerEpoch: epoch,
        baseSequence: -1,
        nowMs: now,
      });
      const staged = this.host.stageBatch(p, marker);
      ops.push(staged.op);
      holds.push(staged.hold);
      if (!commit && first !== null) ops.push(["insertAbortedTxn", [p.id, pid, first, staged.lastOffset]]);
      const states = this.producerMap(p.id);
      const next = afterEpoch(states.get(pid), epoch);
      states.set(pid, { ...next, updateMs: now });
      ops.push(["upsertProducerState", [pid, p.id, next.epoch, encodeBatches(next.batches), now]]);
      marked.push({ p, lastOffset: staged.lastOffset });
    }
    const offsets = [...txn.offsets.values()];
    if (commit && offsets.length > 0) ops.push(["promoteTxnOffsets", [now, txn.transactionalId]]);
    ops.push(["clearTxnOffsets", [txn.transactionalId]]);
    ops.push(["clearTxnPartitions", [txn.transactionalId]]);
    ops.push(["clearTxnGroups", [txn.transactionalId]]);
    return () => {
      for (const { p, lastOffset } of marked) {
        p.advanceHighWatermark(lastOffset + 1);
        p.closeTxn(pid);
      }
      if (commit) this.host.applyCommittedOffsets(offsets, now);
      txn.partitions.clear();
      txn.groups.clear();
      txn.offsets.clear();
      if (txn.state === TxnState.PrepareCommit) txn.state = TxnState.CompleteCommit;
      else if (txn.state === TxnState.PrepareAbort) txn.state = TxnState.CompleteAbort;
      txn.updateMs = now;
    };
  }

  // ------------------------------------------------------------------ timeouts

  private scheduleTimeoutCheck(): void {
    if (this.closed) return;
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = null;
      void this.abortExpired().finally(() => this.scheduleTimeoutCheck());
    }, TXN_TIMEOUT_CHECK_INTERVAL_MS);
  }

  /** Aborts every transaction past its timeout and bumps its epoch (fencing its producer). */
  async abortExpired(): Promise<string[]> {
    const now = this.host.clock.nowMs();
    const expired = [...this.txns.values()].filter(
      (t) => t.state === TxnState.Ongoing && t.startMs + t.timeoutMs < now,
    );
    for (const txn of expired) {
      try {
        await this.abortAndFence(txn);
        this.host.logger?.warn(
          { transactionalId: txn.transactionalId },
          "transaction timed out: aborted and fenced",
        );
      } catch (err) {
        this.host.logger?.warn({ err: (err as Error).message }, "aborting a timed-out transaction failed");
      }
    }
    return expired.map((t) => t.transactionalId);
  }

  /** Operator action and timeout path: abort the open transaction and fence its producer. */
  async abortAndFence(txn: Txn): Promise<void> {
    if (txn.state !== TxnState.Ongoing) return;
    const now = this.host.clock.nowMs();
    const ops: WriteOp[] = [];
    const fence = this.fenceMarkerIdentity(txn);
    txn.lastProducerId = txn.producerId;
    txn.lastProducerEpoch = txn.producerEpoch;
    this.bumpEpoch(txn, ops, now);
    txn.state = TxnState.PrepareEpochFence;
    const holds: CommitHold[] = [];
    const finish = this.stageEnd(txn, false, ops, holds, now, fence);
    ops.push(this.txnRow({ ...txn, state: TxnState.CompleteAbort }));
    await this.host.submit(ops, holds);
    finish();
    txn.state = TxnState.CompleteAbort;
  }

  async abortById(transactionalId: string): Promise<EngineErrorName> {
    const txn = this.txns.get(transactionalId);
    if (!txn) return "TRANSACTIONAL_ID_NOT_FOUND";
    if (this.inFlight(txn)) return "CONCURRENT_TRANSACTIONS";
    if (txn.state !== TxnState.Ongoing) return "INVALID_TXN_STATE";
    await this.abortAndFence(txn);
    return "NONE";
  }

  // ------------------------------------------------------------------ operators

  list(): readonly Txn[] {
    return [...this.txns.values()];
  }

  describe(transactionalId: string): Txn | undefined {
    return this.txns.get(transactionalId);
  }

  producersOf(partitionId: number): {
    producerId: number;
    epoch: number;
    lastSequence: number;
    lastTimestampMs: number;
    txnStartOffset: number;
  }[] {
    const out = [];
    const p = this.host.partitionById(partitionId);
    for (const [producerId, s] of this.producers.get(partitionId) ?? []) {
      const last = s.batches[s.batches.length - 1];
      out.push({
        producerId,
        epoch: s.epoch,
        lastSequence: last ? last.lastSeq : -1,
        lastTimestampMs: s.updateMs,
        txnStartOffset: p?.openTxns.get(producerId) ?? -1,
      });
    }
    return out;
  }

  /** Forgets producer state idle past expiry; returns the writes that delete it. */
  expireProducers(now: number): WriteOp[] {
    const ops: WriteOp[] = [];
    for (const [partitionId, m] of this.producers) {
      for (const [pid, s] of m) {
        if (
          s.updateMs + PRODUCER_STATE_EXPIRATION_MS < now &&
          !this.host.partitionById(partitionId)?.openTxns.has(pid)
        ) {
          m.delete(pid);
          ops.push(["deleteProducerState", [pid, partitionId]]);
        }
      }
      if (m.size === 0) this.producers.delete(partitionId);
    }
    return ops;
  }

  forgetPartition(partitionId: number): void {
    this.producers.delete(partitionId);
  }
}

function controlKey(type: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt16BE(0, 0); // version
  b.writeInt16BE(type, 2);
  return b;
}

function controlValue(): Buffer {
  const b = Buffer.alloc(6);
  b.writeInt16BE(0, 0); // version
  b.writeInt32BE(0, 2); // coordinator epoch: one coordinator, never moves
  return b;
}
