/**
 * Model-based property test of the engine's exactly-once behaviour. Random sequences of
 * idempotent produces (new batches, retries, out-of-order), transactional operations for two
 * transactional ids (InitProducerId with and without KIP-360, AddPartitions, transactional
 * produce and retries, AddOffsets + TxnOffsetCommit, EndTxn, zombie writes, timeouts, operator
 * aborts), plain offset commits and RESTARTS run against a real engine on a temp dir and
 * against a reference model. After every step the engine must agree with the model on:
 * high watermark, last stable offset, dense offsets, every record and marker a read_uncommitted
 * consumer sees, what a read_committed Kafka consumer sees (aborted-transaction filtering),
 * committed and pending group offsets, and each transaction's state, id and epochs.
 *
 * FC_RUNS / FC_SEED override the number of runs and the seed.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { it } from "node:test";
import fc from "fast-check";
import { Engine } from "../engine/engine.js";
import type { EngineError, EngineErrorName } from "../engine/errors.js";
import { Attr, readBatchHeader } from "../log/record-batch.js";
import { decodeRecords, encodeBatch } from "../log/records.js";
import type { Clock } from "../util/clock.js";
import { MODEL_SEQUENCE_MAX, modelLastSeq, modelNextSeq, SequenceModel } from "./reference-model.js";

const TOPIC = "t";
const PARTS = 2;
const GROUP = "g";
const TIMEOUT = 60_000;
const TIDS = ["tx-a", "tx-b"];

// ------------------------------------------------------------------ operations

type Op =
  | { k: "idem"; p: number; n: number }
  | { k: "idemRetry"; p: number; back: number }
  | { k: "idemGap"; p: number; delta: number; n: number }
  | { k: "idemReinit"; nearWrap: boolean }
  | { k: "init"; t: number; kip360: boolean }
  | { k: "addParts"; t: number; mask: number }
  | { k: "txnProduce"; t: number; p: number; n: number; auto: boolean }
  | { k: "txnRetry"; t: number; p: number; back: number }
  | { k: "addOffsets"; t: number }
  | { k: "txnCommitOffset"; t: number; p: number; offset: number; auto: boolean }
  | { k: "end"; t: number; commit: boolean }
  | { k: "zombie"; t: number; what: "produce" | "add" | "end" | "offsets" }
  | { k: "tick"; ms: number }
  | { k: "abortById"; t: number }
  | { k: "commitOffsets"; p: number; offset: number }
  | { k: "restart" };

const p = fc.nat(PARTS - 1);
const t = fc.nat(TIDS.length - 1);
const n = fc.integer({ min: 1, max: 3 });
const rec = <K extends Op["k"], R>(k: K, fields: { [F in keyof R]: fc.Arbitrary<R[F]> }) =>
  fc.record({ k: fc.constant(k), ...fields }) as unknown as fc.Arbitrary<Op>;
const w = (weight: number, arbitrary: fc.Arbitrary<Op>) => ({ weight, arbitrary });

/** Mostly a well-behaved client (init / add first when needed), sometimes raw requests. */
const auto = fc.oneof(
  { weight: 5, arbitrary: fc.constant(true) },
  { weight: 1, arbitrary: fc.constant(false) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  w(4, rec("idem", { p, n })),
  w(2, rec("idemRetry", { p, back: fc.nat(7) })),
  w(
    1,
    rec("idemGap", {
      p,
      n,
      delta: fc.oneof(fc.integer({ min: -6, max: -1 }), fc.integer({ min: 1, max: 4 })),
    }),
  ),
  w(1, rec("idemReinit", { nearWrap: fc.boolean() })),
  w(2, rec("init", { t, kip360: fc.boolean() })),
  w(2, rec("addParts", { t, mask: fc.integer({ min: 1, max: 3 }) })),
  w(10, rec("txnProduce", { t, p, n, auto })),
  w(3, rec("txnRetry", { t, p, back: fc.nat(7) })),
  w(1, rec("addOffsets", { t })),
  w(3, rec("txnCommitOffset", { t, p, offset: fc.nat(1000), auto })),
  w(4, rec("end", { t, commit: fc.boolean() })),
  w(1, rec("zombie", { t, what: fc.constantFrom("produce", "add", "end", "offsets") })),
  w(1, rec("tick", { ms: fc.constantFrom(1_000, TIMEOUT / 2, TIMEOUT + 1) })),
  w(1, rec("abortById", { t })),
  w(1, rec("commitOffsets", { p, offset: fc.nat(1000) })),
  w(3, rec("restart", {})),
);

// ------------------------------------------------------------------ the model

type TxnStateName = "Empty" | "Ongoing" | "CompleteCommit" | "CompleteAbort";

/** One transaction of one transactional id, from its first AddPartitions/AddOffsets to its end. */
interface TxnInst {
  outcome: "open" | "commit" | "abort";
  /** partition -> first offset written there (null until written), in the order added. */
  readonly parts: Map<number, number | null>;
  readonly groups: Set<string>;
  /** partition -> pending offset for GROUP. */
  readonly pending: Map<number, number>;
}

interface MRecord {
  readonly value: string | null;
  readonly marker: { readonly commit: boolean } | null;
  readonly pid: number;
  readonly epoch: number;
  readonly txn: TxnInst | null;
}

interface Sent {
  readonly buf: Buffer;
  readonly values: readonly string[];
  readonly pid: number;
  readonly epoch: number;
  readonly first: number;
  readonly count: number;
  readonly transactional: boolean;
}

interface Handle {
  pid: number;
  epoch: number;
}

/** A transactional id: the coordinator's view (pid/epoch/last/state) and its client's (handle). */
interface TxnM {
  readonly id: string;
  pid: number;
  epoch: number;
  lastPid: number;
  lastEpoch: number;
  state: TxnStateName;
  inst: TxnInst | null;
  startMs: number;
  /** What the client believes its id/epoch is (stale after a timeout or operator abort). */
  handle: Handle;
  next: number[];
  sent: Sent[][];
}

interface IdemM {
  pid: number;
  startSeq: number;
  next: (number | undefined)[];
  sent: Sent[][];
}

type Expect =
  | { kind: "append" }
  | { kind: "duplicate"; base: number }
  | { kind: "error"; error: EngineErrorName };

class Model {
  readonly logs: MRecord[][] = Array.from({ length: PARTS }, () => []);
  private readonly seqs = new Map<string, SequenceModel>();
  readonly committed = new Map<number, number>();
  readonly txns: (TxnM | null)[] = TIDS.map(() => null);
  idem: IdemM | null = null;
  maxPid = 0;
  now = 1_000_000;

  seq(pid: number, partition: number): SequenceModel {
    const key = `${pid}/${partition}`;
    let s = this.seqs.get(key);
    if (!s) this.seqs.set(key, (s = new SequenceModel()));
    return s;
  }

  hw(partition: number): number {
    return this.logs[partition]!.length;
  }

  lso(partition: number): number {
    let lso = this.hw(partition);
    for (const tx of this.txns) {
      const first = tx?.state === "Ongoing" ? tx.inst!.parts.get(partition) : undefined;
      if (first !== undefined && first !== null && first < lso) lso = first;
    }
    return lso;
  }

  pendingFor(partition: number): boolean {
    return this.txns.some((tx) => tx?.state === "Ongoing" && tx.inst!.pending.has(partition));
  }

  /** checkProduce + checkSequence as specified. */
  expectProduce(s: Sent, partition: number): Expect {
    if (s.transactional) {
      const tx = this.txns.find((x) => x?.pid === s.pid);
      if (!tx) return { kind: "error", error: "INVALID_PRODUCER_ID_MAPPING" };
      if (s.epoch < tx.epoch) return { kind: "error", error: "INVALID_PRODUCER_EPOCH" };
      if (tx.state !== "Ongoing" || !tx.inst!.parts.has(partition)) {
        return { kind: "error", error: "INVALID_TXN_STATE" };
      }
    }
    const v = this.seq(s.pid, partition).verdict(s.epoch, s.first, modelLastSeq(s.first, s.count));
    if (v.kind === "duplicate") return { kind: "duplicate", base: v.batch.baseOffset };
    return v;
  }

  applyAppend(s: Sent, partition: number, values: readonly string[]): number {
    const log = this.logs[partition]!;
    const base = log.length;
    const tx = s.transactional ? this.txns.find((x) => x?.pid === s.pid)! : null;
    for (const value of values) {
      log.push({ value, marker: null, pid: s.pid, epoch: s.epoch, txn: tx ? tx.inst : null });
    }
    this.seq(s.pid, partition).append({
      epoch: s.epoch,
      firstSeq: s.first,
      lastSeq: modelLastSeq(s.first, s.count),
      baseOffset: base,
      lastOffset: base + s.count - 1,
    });
    if (tx && tx.inst!.parts.get(partition) === null) tx.inst!.parts.set(partition, base);
    return base;
  }

  /** Markers in every partition of the open transaction, in the transaction's current epoch. */
  end(tx: TxnM, commit: boolean): void {
    const inst = tx.inst!;
    for (const partition of inst.parts.keys()) {
      this.logs[partition]!.push({
        value: null,
        marker: { commit },
        pid: tx.pid,
        epoch: tx.epoch,
        txn: inst,
      });
      this.seq(tx.pid, partition).marker(tx.epoch);
    }
    inst.outcome = commit ? "commit" : "abort";
    if (commit) for (const [partition, offset] of inst.pending) this.committed.set(partition, offset);
    tx.inst = null;
  }

  bump(tx: TxnM): void {
    tx.lastPid = tx.pid;
    tx.lastEpoch = tx.epoch;
    tx.epoch++;
  }

  begin(tx: TxnM): void {
    if (tx.state !== "Ongoing") {
      tx.state = "Ongoing";
      tx.startMs = this.now;
      tx.inst = { outcome: "open", parts: new Map(), groups: new Set(), pending: new Map() };
    }
  }

  /** Timeout sweep / operator abort: abort with markers in a bumped epoch. */
  fence(tx: TxnM): void {
    this.bump(tx);
    this.end(tx, false);
    tx.state = "CompleteAbort";
  }
}

// ------------------------------------------------------------------ engine-side helpers

class ManualClock implements Clock {
  now = 0;
  nowMs(): number {
    return this.now;
  }
  setTimeout(): unknown {
    return 0;
  }
  clearTimeout(): void {}
}

const errCode = (err: unknown): EngineErrorName => (err as EngineError).code;

interface Seen {
  offset: number;
  value: string | null;
  marker?: { commit: boolean; pid: number; epoch: number };
}

/** Every record and marker up to the high watermark, checking that offsets are dense. */
function readUncommitted(e: Engine, partition: number): Seen[] {
  const f = e.fetch(TOPIC, partition, 0, 1 << 26, "read_uncommitted");
  assert.equal(f.error, "NONE");
  const out: Seen[] = [];
  let expectOffset = 0;
  for (const b of f.batches) {
    const h = readBatchHeader(b);
    const base = Number(b.readBigInt64BE(0));
    assert.equal(base, expectOffset, `partition ${partition}: offsets are dense`);
    expectOffset = base + h.lastOffsetDelta + 1;
    const recs = decodeRecords(b)!;
    assert.equal(recs.length, h.recordCount);
    if ((h.attributes & Attr.control) !== 0) {
      assert.equal(recs.length, 1);
      assert.ok(h.attributes & Attr.transactional);
      out.push({
        offset: base,
        value: null,
        marker: { commit: recs[0]!.key!.readInt16BE(2) === 1, pid: h.producerId, epoch: h.producerEpoch },
      });
    } else {
      for (const r of recs) out.push({ offset: r.offset, value: r.value!.toString() });
    }
  }
  assert.equal(expectOffset, f.highWatermark, `partition ${partition}: batches cover [0, hw)`);
  return out;
}

/**
 * What a read_committed Kafka consumer delivers from `from` (Fetcher's aborted-transaction
 * filtering; records before `from` in the first batch are dropped, as the consumer does).
 */
function readCommitted(e: Engine, partition: number, from = 0): Seen[] {
  const f = e.fetch(TOPIC, partition, from, 1 << 26, "read_committed");
  assert.equal(f.error, "NONE");
  const queue = [...f.abortedTransactions!].sort((a, b) => a.firstOffset - b.firstOffset);
  const aborted = new Set<number>();
  const out: Seen[] = [];
  for (const b of f.batches) {
    const h = readBatchHeader(b);
    const base = Number(b.readBigInt64BE(0));
    assert.ok(
      base + h.lastOffsetDelta < f.lastStableOffset,
      "read_committed returns nothing at or past the LSO",
    );
    const control = (h.attributes & Attr.control) !== 0;
    if (h.producerId >= 0) {
      while (queue.length > 0 && queue[0]!.firstOffset <= base + h.lastOffsetDelta) {
        aborted.add(queue.shift()!.producerId);
      }
      if (control) {
        if (decodeRecords(b)![0]!.key!.readInt16BE(2) === 0) aborted.delete(h.producerId);
        continue;
      }
      if ((h.attributes & Attr.transactional) !== 0 && aborted.has(h.producerId)) continue;
    }
    if (control) continue;
    for (const r of decodeRecords(b)!) {
      if (r.offset >= from) out.push({ offset: r.offset, value: r.value!.toString() });
    }
  }
  return out;
}

// ------------------------------------------------------------------ one run

/** Outcome counts, printed with MODEL_STATS=1 to see what the generator reaches. */
const stats = new Map<string, number>();
const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);

class Run {
  e!: Engine;
  private readonly clock = new ManualClock();
  private readonly m = new Model();
  private valueCounter = 0;
  readonly trace: string[] = [];

  constructor(private readonly dir: string) {
    this.clock.now = this.m.now;
  }

  async open(): Promise<void> {
    this.e = await Engine.open({ dataDir: this.dir, clock: this.clock });
  }

  async close(): Promise<void> {
    await this.e?.close();
  }

  private values(count: number): string[] {
    return Array.from({ length: count }, () => `v${this.valueCounter++}`);
  }

  private note(s: string): void {
    this.trace.push(s);
  }

  /** Sends `s` to `partition` and checks the outcome against the model; applies it if appended. */
  private async produce(s: Sent, partition: number): Promise<Expect> {
    const want = this.m.expectProduce(s, partition);
    let got: Expect;
    try {
      const r = await this.e.append(TOPIC, partition, Buffer.from(s.buf));
      got = want.kind === "duplicate" ? { kind: "duplicate", base: r.baseOffset } : { kind: "append" };
      if (want.kind === "append")
        assert.equal(r.baseOffset, this.m.hw(partition), "appended at the high watermark");
    } catch (err) {
      got = { kind: "error", error: errCode(err) };
    }
    this.note(
      `  produce pid=${s.pid} e=${s.epoch} seq=${s.first}+${s.count} tx=${s.transactional} -> ${JSON.stringify(got)}`,
    );
    assert.deepEqual(got, want);
    count(`produce ${s.transactional ? "txn" : "idem"} ${got.kind === "error" ? got.error : got.kind}`);
    if (want.kind === "append") this.m.applyAppend(s, partition, s.values);
    return want;
  }

  private batch(pid: number, epoch: number, first: number, values: string[], transactional: boolean): Sent {
    const buf = encodeBatch({
      records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs: this.m.now })),
      attributes: transactional ? Attr.transactional : 0,
      producerId: pid,
      producerEpoch: epoch,
      baseSequence: first,
      nowMs: this.m.now,
    });
    return { buf, values, pid, epoch, first, count: values.length, transactional };
  }

  private freshPid(pid: number): void {
    assert.ok(pid > this.m.maxPid, `producer id ${pid} is fresh (max so far ${this.m.maxPid})`);
    this.m.maxPid = pid;
  }

  private async newIdem(nearWrap: boolean): Promise<IdemM> {
    const r = await this.e.txn.initProducerId(null, 0, null, "INVALID_PRODUCER_EPOCH");
    assert.equal(r.error, "NONE");
    const { producerId, producerEpoch } = r as { producerId: number; producerEpoch: number };
    assert.equal(producerEpoch, 0);
    this.freshPid(producerId);
    this.m.idem = {
      pid: producerId,
      startSeq: nearWrap ? MODEL_SEQUENCE_MAX - 2 : 0,
      next: [],
      sent: Array.from({ length: PARTS }, () => []),
    };
    return this.m.idem;
  }

  private async idemSend(idem: IdemM, partition: number, first: number, count: number): Promise<void> {
    const values = this.values(count);
    const s = this.batch(idem.pid, 0, first, values, false);
    const r = await this.produce(s, partition);
    if (r.kind === "append") {
      idem.next[partition] = modelNextSeq(modelLastSeq(first, count));
      idem.sent[partition]!.push(s);
    }
  }

  private async txnSend(tx: TxnM, partition: number, count: number): Promise<void> {
    const values = this.values(count);
    const first = tx.next[partition]!;
    const s = this.batch(tx.handle.pid, tx.handle.epoch, first, values, true);
    const r = await this.produce(s, partition);
    if (r.kind === "append") {
      tx.next[partition] = modelNextSeq(modelLastSeq(first, count));
      tx.sent[partition]!.push(s);
    }
  }

  /** The error every coordinator request from a stale client handle gets. */
  private staleError(tx: TxnM, h: Handle = tx.handle): EngineErrorName | null {
    if (h.pid !== tx.pid) return "INVALID_PRODUCER_ID_MAPPING";
    if (h.epoch !== tx.epoch) return "INVALID_PRODUCER_EPOCH";
    return null;
  }

  async step(op: Op): Promise<void> {
    const { m, e } = this;
    if (op.k === "restart") {
      const open = m.txns.filter((tx) => tx?.state === "Ongoing").length;
      count(`restart with ${open} open transactions`);
    }
    switch (op.k) {
      case "idem": {
        const idem = m.idem ?? (await this.newIdem(false));
        await this.idemSend(idem, op.p, idem.next[op.p] ?? idem.startSeq, op.n);
        return;
      }
      case "idemRetry": {
        const sent = m.idem?.sent[op.p] ?? [];
        const s = sent[sent.length - 1 - (op.back % Math.max(sent.length, 1))];
        if (s) await this.produce(s, op.p);
        return;
      }
      case "idemGap": {
        const idem = m.idem ?? (await this.newIdem(false));
        const next = idem.next[op.p] ?? idem.startSeq;
        await this.idemSend(
          idem,
          op.p,
          (next + op.delta + MODEL_SEQUENCE_MAX + 1) % (MODEL_SEQUENCE_MAX + 1),
          op.n,
        );
        return;
      }
      case "idemReinit":
        await this.newIdem(op.nearWrap);
        return;
      case "init": {
        const tx = m.txns[op.t];
        const id = TIDS[op.t]!;
        const expected =
          tx && op.kip360 ? { producerId: tx.handle.pid, producerEpoch: tx.handle.epoch } : null;
        const r = await e.txn.initProducerId(id, TIMEOUT, expected, "PRODUCER_FENCED");
        this.note(`  -> ${JSON.stringify(r)}`);
        count(`init ${!tx ? "new" : expected ? "kip360" : "plain"} ${tx?.state ?? ""} ${r.error}`);
        if (!tx) {
          assert.equal(r.error, "NONE");
          const { producerId, producerEpoch } = r as { producerId: number; producerEpoch: number };
          assert.equal(producerEpoch, 0);
          this.freshPid(producerId);
          m.txns[op.t] = {
            id,
            pid: producerId,
            epoch: 0,
            lastPid: -1,
            lastEpoch: -1,
            state: "Empty",
            inst: null,
            startMs: m.now,
            handle: { pid: producerId, epoch: 0 },
            next: Array(PARTS).fill(0),
            sent: Array.from({ length: PARTS }, () => []),
          };
          return;
        }
        if (expected) {
          const isCurrent = tx.handle.pid === tx.pid && tx.handle.epoch === tx.epoch;
          const isRetry = tx.handle.pid === tx.lastPid && tx.handle.epoch === tx.lastEpoch;
          if (!isCurrent && !isRetry) {
            assert.equal(r.error, "PRODUCER_FENCED");
            return;
          }
          if (!isCurrent) {
            // KIP-360 retry: the current id/epoch, nothing bumped.
            assert.deepEqual(r, { error: "NONE", producerId: tx.pid, producerEpoch: tx.epoch });
            tx.handle = { pid: tx.pid, epoch: tx.epoch };
            tx.next = Array(PARTS).fill(0);
            tx.sent = Array.from({ length: PARTS }, () => []);
            return;
          }
        }
        m.bump(tx);
        if (tx.state === "Ongoing") m.end(tx, false);
        tx.state = "Empty";
        assert.deepEqual(r, { error: "NONE", producerId: tx.pid, producerEpoch: tx.epoch });
        tx.handle = { pid: tx.pid, epoch: tx.epoch };
        tx.next = Array(PARTS).fill(0);
        tx.sent = Array.from({ length: PARTS }, () => []);
        return;
      }
      case "addParts": {
        const tx = m.txns[op.t];
        if (!tx) return;
        const parts = [0, 1].filter((i) => op.mask & (1 << i));
        const r = await e.txn.addPartitions(
          tx.id,
          tx.handle.pid,
          tx.handle.epoch,
          parts.map((partition) => ({ topic: TOPIC, partition })),
        );
        const stale = this.staleError(tx);
        assert.deepEqual(
          r,
          parts.map(() => stale ?? "NONE"),
        );
        if (stale) return;
        m.begin(tx);
        for (const partition of parts)
          if (!tx.inst!.parts.has(partition)) tx.inst!.parts.set(partition, null);
        return;
      }
      case "txnProduce": {
        if (op.auto) {
          const tx = m.txns[op.t];
          if (!tx || this.staleError(tx)) await this.step({ k: "init", t: op.t, kip360: true });
          const cur = m.txns[op.t]!;
          if (cur.state !== "Ongoing" || !cur.inst!.parts.has(op.p)) {
            await this.step({ k: "addParts", t: op.t, mask: 1 << op.p });
          }
        }
        const tx = m.txns[op.t];
        if (tx) await this.txnSend(tx, op.p, op.n);
        return;
      }
      case "txnRetry": {
        const sent = m.txns[op.t]?.sent[op.p] ?? [];
        const s = sent[sent.length - 1 - (op.back % Math.max(sent.length, 1))];
        if (s) await this.produce(s, op.p);
        return;
      }
      case "addOffsets": {
        const tx = m.txns[op.t];
        if (!tx) return;
        const r = await e.txn.addOffsets(tx.id, tx.handle.pid, tx.handle.epoch, GROUP);
        const stale = this.staleError(tx);
        assert.equal(r, stale ?? "NONE");
        if (stale) return;
        m.begin(tx);
        tx.inst!.groups.add(GROUP);
        return;
      }
      case "txnCommitOffset": {
        if (op.auto) {
          const tx = m.txns[op.t];
          if (!tx || this.staleError(tx)) await this.step({ k: "init", t: op.t, kip360: true });
          const cur = m.txns[op.t]!;
          if (cur.state !== "Ongoing" || !cur.inst!.groups.has(GROUP))
            await this.step({ k: "addOffsets", t: op.t });
        }
        const tx = m.txns[op.t];
        if (!tx) return;
        const r = await e.txn.txnOffsetCommit(tx.id, tx.handle.pid, tx.handle.epoch, GROUP, null, [
          { topic: TOPIC, partition: op.p, offset: op.offset, leaderEpoch: 0, metadata: null },
        ]);
        const want =
          this.staleError(tx) ??
          (tx.state === "Ongoing" && tx.inst!.groups.has(GROUP) ? "NONE" : "INVALID_TXN_STATE");
        assert.deepEqual(r, [want]);
        count(`txnOffsetCommit ${want}`);
        if (want === "NONE") tx.inst!.pending.set(op.p, op.offset);
        return;
      }
      case "end": {
        const tx = m.txns[op.t];
        if (!tx) return;
        const r = await e.txn.endTxn(tx.id, tx.handle.pid, tx.handle.epoch, op.commit);
        const before = tx.state;
        let want: EngineErrorName = this.staleError(tx) ?? "NONE";
        if (want === "NONE") {
          if (tx.state === "Empty") want = "INVALID_TXN_STATE";
          else if (tx.state === "CompleteCommit") want = op.commit ? "NONE" : "INVALID_TXN_STATE";
          else if (tx.state === "CompleteAbort") want = op.commit ? "INVALID_TXN_STATE" : "NONE";
          else {
            m.end(tx, op.commit);
            tx.state = op.commit ? "CompleteCommit" : "CompleteAbort";
          }
        }
        assert.equal(r, want);
        count(`end ${op.commit ? "commit" : "abort"} ${before} ${want}`);
        return;
      }
      case "zombie": {
        const tx = m.txns[op.t];
        if (!tx || tx.epoch === 0) return;
        const z = { pid: tx.pid, epoch: tx.epoch - 1 };
        switch (op.what) {
          case "produce":
            await this.produce(this.batch(z.pid, z.epoch, 0, this.values(1), true), 0);
            return;
          case "add":
            assert.deepEqual(
              await e.txn.addPartitions(tx.id, z.pid, z.epoch, [{ topic: TOPIC, partition: 1 }]),
              ["INVALID_PRODUCER_EPOCH"],
            );
            return;
          case "end":
            assert.equal(await e.txn.endTxn(tx.id, z.pid, z.epoch, true), "INVALID_PRODUCER_EPOCH");
            return;
          case "offsets":
            assert.deepEqual(
              await e.txn.txnOffsetCommit(tx.id, z.pid, z.epoch, GROUP, null, [
                { topic: TOPIC, partition: 0, offset: 999_999, leaderEpoch: 0, metadata: null },
              ]),
              ["INVALID_PRODUCER_EPOCH"],
            );
            return;
        }
        return;
      }
      case "tick": {
        m.now += op.ms;
        this.clock.now = m.now;
        const expired = m.txns.filter(
          (tx): tx is TxnM => tx?.state === "Ongoing" && tx.startMs + TIMEOUT < m.now,
        );
        const r = await e.txn.abortExpired();
        assert.deepEqual([...r].sort(), expired.map((tx) => tx.id).sort());
        count(`tick ${op.ms} expired ${expired.length}`);
        // Markers follow the sweep's order (the coordinator's map order).
        for (const id of r) m.fence(m.txns[TIDS.indexOf(id)]!);
        return;
      }
      case "abortById": {
        const tx = m.txns[op.t];
        const r = await e.txn.abortById(TIDS[op.t]!);
        if (!tx) assert.equal(r, "TRANSACTIONAL_ID_NOT_FOUND");
        else if (tx.state !== "Ongoing") assert.equal(r, "INVALID_TXN_STATE");
        else {
          assert.equal(r, "NONE");
          m.fence(tx);
        }
        return;
      }
      case "commitOffsets": {
        const r = await e.commitOffsets(GROUP, [
          { topic: TOPIC, partition: op.p, offset: op.offset, leaderEpoch: 0, metadata: null },
        ]);
        assert.deepEqual(r, ["NONE"]);
        m.committed.set(op.p, op.offset);
        return;
      }
      case "restart":
        await this.e.close();
        await this.open();
        return;
    }
  }

  /** The engine agrees with the model on everything observable. */
  check(): void {
    const { m, e } = this;
    for (let partition = 0; partition < PARTS; partition++) {
      const part = e.partition(TOPIC, partition)!;
      const hw = m.hw(partition);
      const lso = m.lso(partition);
      assert.ok(lso <= hw);
      assert.equal(part.highWatermark, hw, `partition ${partition}: high watermark`);
      assert.equal(part.lastStableOffset, lso, `partition ${partition}: last stable offset`);
      assert.equal(e.listOffset(TOPIC, partition, -1, "read_uncommitted").offset, hw);
      assert.equal(e.listOffset(TOPIC, partition, -1, "read_committed").offset, lso);
      const log = m.logs[partition]!;
      assert.deepEqual(
        readUncommitted(e, partition),
        log.map((r, offset): Seen => {
          if (!r.marker) return { offset, value: r.value };
          return { offset, value: null, marker: { commit: r.marker.commit, pid: r.pid, epoch: r.epoch } };
        }),
        `partition ${partition}: read_uncommitted`,
      );
      const visible = log
        .map((r, offset) => ({ r, offset }))
        .filter(({ r, offset }) => offset < lso && !r.marker && (!r.txn || r.txn.outcome === "commit"))
        .map(({ r, offset }): Seen => ({ offset, value: r.value }));
      assert.deepEqual(readCommitted(e, partition), visible, `partition ${partition}: read_committed`);
      // Starting mid-log: aborted ranges that began before the fetch offset still apply.
      for (const from of new Set([Math.floor(hw / 3), Math.floor((2 * hw) / 3), hw])) {
        assert.deepEqual(
          readCommitted(e, partition, from),
          visible.filter((v) => v.offset >= from),
          `partition ${partition}: read_committed from ${from}`,
        );
      }
      // read_committed never shows aborted or open data.
      for (const { offset } of visible) {
        const txn = log[offset]!.txn;
        assert.ok(!txn || txn.outcome === "commit");
      }
      assert.equal(
        e.committedOffset(GROUP, TOPIC, partition)?.offset,
        m.committed.get(partition),
        `partition ${partition}: committed offset`,
      );
      assert.equal(e.txn.hasPendingOffset(GROUP, TOPIC, partition), m.pendingFor(partition));
    }
    m.txns.forEach((tx, i) => {
      const d = e.txn.describe(TIDS[i]!);
      if (!tx) {
        assert.equal(d, undefined);
        return;
      }
      assert.ok(d);
      assert.deepEqual(
        {
          state: d.state,
          producerId: d.producerId,
          producerEpoch: d.producerEpoch,
          lastProducerId: d.lastProducerId,
          lastProducerEpoch: d.lastProducerEpoch,
        },
        {
          state: tx.state,
          producerId: tx.pid,
          producerEpoch: tx.epoch,
          lastProducerId: tx.lastPid,
          lastProducerEpoch: tx.lastEpoch,
        },
        `${tx.id}: coordinator state`,
      );
      const parts = [...d.partitions].map(([id, first]) => [e.partitionById(id)!.index, first]);
      const pending = [...d.offsets.values()].map((o) => [o.partition, o.offset]);
      if (tx.state === "Ongoing") {
        const byIndex = (a: (number | null)[], b: (number | null)[]) => a[0]! - b[0]!;
        assert.deepEqual(parts.sort(byIndex), [...tx.inst!.parts].sort(byIndex), `${tx.id}: partitions`);
        assert.deepEqual([...d.groups], [...tx.inst!.groups]);
        assert.deepEqual(
          pending.sort((a, b) => a[0]! - b[0]!),
          [...tx.inst!.pending].sort((a, b) => a[0] - b[0]),
        );
      } else {
        assert.deepEqual([parts, [...d.groups], pending], [[], [], []], `${tx.id}: nothing left once ended`);
      }
    });
  }

  /** After a final restart every producer's last batches are still duplicates at their offsets. */
  async retryEverything(): Promise<void> {
    const all: [Sent, number][] = [];
    for (let partition = 0; partition < PARTS; partition++) {
      for (const s of this.m.idem?.sent[partition] ?? []) all.push([s, partition]);
      for (const tx of this.m.txns) for (const s of tx?.sent[partition] ?? []) all.push([s, partition]);
    }
    for (const [s, partition] of all) await this.produce(s, partition);
  }
}

async function runOps(ops: Op[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-txn-model-"));
  const run = new Run(dir);
  try {
    await run.open();
    await run.e.createTopic(TOPIC, PARTS);
    run.check();
    for (const [i, op] of ops.entries()) {
      run.trace.push(`#${i} ${JSON.stringify(op)}`);
      await run.step(op);
      run.check();
    }
    run.trace.push("# final restart");
    await run.step({ k: "restart" });
    run.check();
    run.trace.push("# retry everything");
    await run.retryEverything();
    run.check();
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- trace ---\n${run.trace.join("\n")}`;
    throw err;
  } finally {
    await run.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const numRuns = Number(process.env.FC_RUNS ?? 30);
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;

it("exactly-once behaviour matches the reference model, across restarts", { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 40 }), (ops) => runOps(ops)),
    // MODEL_REPLAY='[...ops]' replays one counterexample first (with its full trace on failure).
    {
      numRuns,
      seed,
      includeErrorInReport: true,
      examples: process.env.MODEL_REPLAY ? [[JSON.parse(process.env.MODEL_REPLAY) as Op[]]] : [],
    },
  );
  if (process.env.MODEL_STATS) {
    for (const [k, v] of [...stats].sort()) console.log(`${String(v).padStart(6)}  ${k}`);
  }
});
