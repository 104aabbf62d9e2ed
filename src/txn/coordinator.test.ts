/**
 * The transaction coordinator's state machine, driven through a real engine on a temp dir
 * (no sockets): InitProducerId (fresh ids, epoch bumps, KIP-360, epoch overflow), fencing,
 * KIP-890 produce checks, EndTxn and its retries, timeouts, operator actions, transactional
 * offsets, and durability of all of it across restarts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { Engine, type EngineOptions, type IsolationLevel } from "../engine/engine.js";
import type { EngineError, EngineErrorName } from "../engine/errors.js";
import { FakeClock } from "../groups/fake-clock.js";
import { Attr, readBatchHeader } from "../log/record-batch.js";
import { decodeRecords, encodeBatch } from "../log/records.js";
import type { Clock } from "../util/clock.js";
import { PRODUCER_EPOCH_MAX, TRANSACTION_TIMEOUT_MS_MAX_DEFAULT } from "./coordinator.js";
import { TxnState } from "./types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Time that moves only when a test says so; timers never fire (sweeps are run by hand). */
class ManualClock implements Clock {
  now = 1_000_000;
  nowMs(): number {
    return this.now;
  }
  setTimeout(): unknown {
    return 0;
  }
  clearTimeout(): void {}
}

interface Harness {
  readonly e: Engine;
  readonly clock: ManualClock;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function harness(opts: Partial<EngineOptions> = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-txn-"));
  dirs.push(dir);
  const clock = new ManualClock();
  const open = () => Engine.open({ dataDir: dir, clock, ...opts });
  let e = await open();
  await e.createTopic("t", 2);
  return {
    get e() {
      return e;
    },
    clock,
    async restart() {
      await e.close();
      e = await open();
    },
    close: () => e.close(),
  };
}

/** Runs `fn` on a fresh engine and always closes it. */
async function withEngine(fn: (h: Harness) => Promise<void>, opts: Partial<EngineOptions> = {}) {
  const h = await harness(opts);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

let valueCounter = 0;
function batch(pid: number, epoch: number, seq: number, values: string[], transactional = true): Buffer {
  return encodeBatch({
    records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs: 1 })),
    attributes: transactional ? Attr.transactional : 0,
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: seq,
    nowMs: 1,
  });
}
const vals = (n: number) => Array.from({ length: n }, () => `v${valueCounter++}`);

const code = (p: Promise<unknown>): Promise<EngineErrorName> =>
  p.then(
    () => "NONE",
    (err: EngineError) => err.code,
  );

type Ids = { producerId: number; producerEpoch: number };

async function init(
  e: Engine,
  id: string | null,
  expected: Ids | null = null,
  timeoutMs = 60_000,
): Promise<Ids> {
  const r = await e.txn.initProducerId(id, timeoutMs, expected, "PRODUCER_FENCED");
  assert.equal(r.error, "NONE", `initProducerId(${id}): ${JSON.stringify(r)}`);
  const { producerId, producerEpoch } = r as Ids & { error: "NONE" };
  return { producerId, producerEpoch };
}

const tp = (partition: number) => ({ topic: "t", partition });

/** Opens a transaction on `id` with data in partition 0 (and optionally more partitions). */
async function openTxnWithData(e: Engine, id: string, ids: Ids, seq = 0, parts = [0]): Promise<number> {
  assert.deepEqual(
    await e.txn.addPartitions(id, ids.producerId, ids.producerEpoch, parts.map(tp)),
    parts.map(() => "NONE"),
  );
  const r = await e.append("t", parts[0]!, batch(ids.producerId, ids.producerEpoch, seq, vals(2)));
  return r.baseOffset;
}

interface Seen {
  offset: number;
  value: string;
}
interface Marker {
  offset: number;
  producerId: number;
  producerEpoch: number;
  commit: boolean;
}

/** What a Kafka consumer sees from offset 0 (read_committed filters aborted transactions). */
function consume(e: Engine, partition: number, isolation: IsolationLevel): Seen[] {
  const f = e.fetch("t", partition, 0, 1 << 24, isolation);
  assert.equal(f.error, "NONE");
  const queue = [...(f.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedPids = new Set<number>();
  const out: Seen[] = [];
  for (const b of f.batches) {
    const h = readBatchHeader(b);
    const base = Number(b.readBigInt64BE(0));
    const control = (h.attributes & Attr.control) !== 0;
    if (isolation === "read_committed" && h.producerId >= 0) {
      while (queue.length > 0 && queue[0]!.firstOffset <= base + h.lastOffsetDelta) {
        abortedPids.add(queue.shift()!.producerId);
      }
      if (control) {
        if (decodeRecords(b)![0]!.key!.readInt16BE(2) === 0) abortedPids.delete(h.producerId);
        continue;
      }
      if ((h.attributes & Attr.transactional) !== 0 && abortedPids.has(h.producerId)) continue;
    }
    if (control) continue;
    for (const r of decodeRecords(b)!) out.push({ offset: r.offset, value: r.value!.toString() });
  }
  return out;
}

function markers(e: Engine, partition: number): Marker[] {
  const f = e.fetch("t", partition, 0, 1 << 24, "read_uncommitted");
  return f.batches
    .filter((b) => (readBatchHeader(b).attributes & Attr.control) !== 0)
    .map((b) => {
      const h = readBatchHeader(b);
      return {
        offset: Number(b.readBigInt64BE(0)),
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        commit: decodeRecords(b)![0]!.key!.readInt16BE(2) === 1,
      };
    });
}

const hw = (e: Engine, p = 0) => e.partition("t", p)!.highWatermark;
const lso = (e: Engine, p = 0) => e.partition("t", p)!.lastStableOffset;

/** Bumps `id`'s epoch to `target` with concurrent InitProducerId calls (they share commits). */
async function bumpTo(e: Engine, id: string, target: number): Promise<void> {
  for (;;) {
    const cur = e.txn.describe(id)!.producerEpoch;
    if (cur >= target) return;
    const n = Math.min(target - cur, 4000);
    const rs = await Promise.all(
      Array.from({ length: n }, () => e.txn.initProducerId(id, 60_000, null, "PRODUCER_FENCED")),
    );
    assert.ok(rs.every((r) => r.error === "NONE"));
  }
}

describe("InitProducerId", () => {
  it("without a transactional id hands out fresh, unique ids at epoch 0, durably", async () => {
    await withEngine(async (h) => {
      const seen = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const ids = await init(h.e, null);
        assert.equal(ids.producerEpoch, 0);
        assert.ok(!seen.has(ids.producerId));
        seen.add(ids.producerId);
      }
      const concurrent = await Promise.all(Array.from({ length: 50 }, () => init(h.e, null)));
      for (const ids of concurrent) {
        assert.ok(!seen.has(ids.producerId), `id ${ids.producerId} handed out twice`);
        seen.add(ids.producerId);
      }
      const tx = await init(h.e, "tx");
      assert.ok(!seen.has(tx.producerId));
      seen.add(tx.producerId);
      const max = Math.max(...seen);
      await h.restart();
      const after = await init(h.e, null);
      assert.ok(after.producerId > max, "ids are never reused after a restart");
      const tx2 = await init(h.e, "tx2");
      assert.ok(tx2.producerId > after.producerId);
      // The transactional id kept its producer id across the restart and bumps its epoch.
      assert.deepEqual(await init(h.e, "tx"), { producerId: tx.producerId, producerEpoch: 1 });
    });
  });

  it("with a transactional id: epoch 0 first, then the same id with a bumped epoch", async () => {
    await withEngine(async (h) => {
      const a = await init(h.e, "tx");
      assert.equal(a.producerEpoch, 0);
      assert.equal(h.e.txn.describe("tx")?.state, TxnState.Empty);
      const b = await init(h.e, "tx");
      assert.deepEqual(b, { producerId: a.producerId, producerEpoch: 1 });
      const other = await init(h.e, "other");
      assert.notEqual(other.producerId, a.producerId);
      const d = h.e.txn.describe("tx")!;
      assert.equal(d.lastProducerId, a.producerId);
      assert.equal(d.lastProducerEpoch, 0);
      assert.equal(d.timeoutMs, 60_000);
    });
  });

  it("refuses bad transaction timeouts and an empty transactional id", async () => {
    await withEngine(async (h) => {
      for (const t of [0, -1, TRANSACTION_TIMEOUT_MS_MAX_DEFAULT + 1]) {
        const r = await h.e.txn.initProducerId("tx", t, null, "PRODUCER_FENCED");
        assert.equal(r.error, "INVALID_TRANSACTION_TIMEOUT", `timeout ${t}`);
      }
      assert.equal(h.e.txn.describe("tx"), undefined, "a refused request creates nothing");
      assert.equal(
        (await h.e.txn.initProducerId("", 1000, null, "PRODUCER_FENCED")).error,
        "INVALID_REQUEST",
      );
      assert.equal(
        (await h.e.txn.initProducerId("tx", TRANSACTION_TIMEOUT_MS_MAX_DEFAULT, null, "PRODUCER_FENCED"))
          .error,
        "NONE",
      );
      // An existing id is checked too.
      assert.equal(
        (await h.e.txn.initProducerId("tx", 0, null, "PRODUCER_FENCED")).error,
        "INVALID_TRANSACTION_TIMEOUT",
      );
      assert.equal(h.e.txn.describe("tx")?.producerEpoch, 0);
    });
    await withEngine(
      async (h) => {
        assert.equal(
          (await h.e.txn.initProducerId("tx", 10_001, null, "PRODUCER_FENCED")).error,
          "INVALID_TRANSACTION_TIMEOUT",
        );
        assert.equal((await h.e.txn.initProducerId("tx", 10_000, null, "PRODUCER_FENCED")).error, "NONE");
      },
      { transactionTimeoutMsMax: 10_000 },
    );
  });

  it("a bumped epoch fences the old one everywhere; unissued epochs and foreign ids are refused", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const old = await init(e, "tx");
      await openTxnWithData(e, "tx", old);
      const cur = await init(e, "tx");
      assert.equal(cur.producerEpoch, old.producerEpoch + 1);
      const { producerId: pid } = old;
      assert.deepEqual(await e.txn.addPartitions("tx", pid, old.producerEpoch, [tp(0), tp(1)]), [
        "INVALID_PRODUCER_EPOCH",
        "INVALID_PRODUCER_EPOCH",
      ]);
      assert.equal(await e.txn.addOffsets("tx", pid, old.producerEpoch, "g"), "INVALID_PRODUCER_EPOCH");
      assert.deepEqual(
        await e.txn.txnOffsetCommit("tx", pid, old.producerEpoch, "g", null, [
          { topic: "t", partition: 0, offset: 1, leaderEpoch: -1, metadata: null },
        ]),
        ["INVALID_PRODUCER_EPOCH"],
      );
      assert.equal(await e.txn.endTxn("tx", pid, old.producerEpoch, true), "INVALID_PRODUCER_EPOCH");
      assert.equal(await e.txn.endTxn("tx", pid, old.producerEpoch, false), "INVALID_PRODUCER_EPOCH");
      assert.equal(
        await code(e.append("t", 0, batch(pid, old.producerEpoch, 2, vals(1)))),
        "INVALID_PRODUCER_EPOCH",
      );
      assert.equal(
        await code(e.append("t", 1, batch(pid, old.producerEpoch, 0, vals(1)))),
        "INVALID_PRODUCER_EPOCH",
      );
      // An epoch the coordinator never issued.
      assert.equal(await e.txn.endTxn("tx", pid, cur.producerEpoch + 1, true), "INVALID_PRODUCER_EPOCH");
      assert.equal(await e.txn.addOffsets("tx", pid, cur.producerEpoch + 1, "g"), "INVALID_PRODUCER_EPOCH");
      // Another producer id, or an unknown transactional id.
      assert.equal(
        await e.txn.endTxn("tx", pid + 100, cur.producerEpoch, true),
        "INVALID_PRODUCER_ID_MAPPING",
      );
      assert.equal(await e.txn.endTxn("nope", pid, cur.producerEpoch, true), "INVALID_PRODUCER_ID_MAPPING");
      assert.equal(
        await code(e.append("t", 0, batch(pid + 100, 0, 0, vals(1)))),
        "INVALID_PRODUCER_ID_MAPPING",
        "a transactional batch of a producer id with no transaction",
      );
      // The current epoch works.
      assert.deepEqual(await e.txn.addPartitions("tx", pid, cur.producerEpoch, [tp(0)]), ["NONE"]);
      await e.append("t", 0, batch(pid, cur.producerEpoch, 0, vals(1)));
      assert.equal(await e.txn.endTxn("tx", pid, cur.producerEpoch, true), "NONE");
    });
  });

  it("a transactional batch with an epoch the coordinator never issued is refused", {}, async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const ids = await init(e, "tx");
      await e.txn.addPartitions("tx", ids.producerId, ids.producerEpoch, [tp(0)]);
      assert.equal(
        await code(e.append("t", 0, batch(ids.producerId, ids.producerEpoch + 1, 0, vals(1)))),
        "INVALID_PRODUCER_EPOCH",
      );
    });
  });

  it("re-initialising aborts the open transaction with markers in the new epoch", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const old = await init(e, "tx");
      await e.append("t", 0, batch(999_999, 0, 0, ["plain"], false)); // an idempotent producer
      const first = await openTxnWithData(e, "tx", old, 0, [0, 1]);
      assert.equal(lso(e), first, "the open transaction holds the LSO back");
      assert.equal(lso(e, 1), hw(e, 1), "a partition without data is not held back");
      assert.equal(h.e.txn.describe("tx")!.state, TxnState.Ongoing);
      const cur = await init(e, "tx");
      assert.equal(h.e.txn.describe("tx")!.state, TxnState.Empty);
      assert.deepEqual(markers(e, 0), [
        { offset: 3, producerId: old.producerId, producerEpoch: cur.producerEpoch, commit: false },
      ]);
      assert.equal(markers(e, 1).length, 1, "every added partition gets a marker");
      assert.equal(lso(e), hw(e));
      assert.equal(hw(e), 4);
      assert.deepEqual(
        consume(e, 0, "read_committed").map((s) => s.value),
        ["plain"],
      );
      assert.equal(consume(e, 0, "read_uncommitted").length, 3);
      assert.deepEqual(e.fetch("t", 0, 0, 1 << 20, "read_committed").abortedTransactions, [
        { producerId: old.producerId, firstOffset: first },
      ]);
      // The new epoch starts its sequences at 0.
      await openTxnWithData(e, "tx", cur, 0);
      assert.equal(await e.txn.endTxn("tx", cur.producerId, cur.producerEpoch, true), "NONE");
      await h.restart();
      assert.deepEqual(
        consume(h.e, 0, "read_committed").map((s) => s.offset),
        [0, 4, 5],
      );
    });
  });
});

describe("KIP-360 and epoch overflow", () => {
  it("a retry with the last id/epoch gets the current one; a mismatch is fenced", async () => {
    await withEngine(async (h) => {
      const a = await init(h.e, "tx");
      const b = await init(h.e, "tx", a);
      assert.deepEqual(b, { producerId: a.producerId, producerEpoch: a.producerEpoch + 1 });
      // The response was lost; the client retries with what it sent: same answer, no bump.
      assert.deepEqual(await init(h.e, "tx", a), b);
      assert.deepEqual(await init(h.e, "tx", a), b);
      // Stale or foreign id/epoch pairs are fenced with the caller's error name.
      for (const [exp, err] of [
        [{ producerId: a.producerId, producerEpoch: 7 }, "PRODUCER_FENCED"],
        [{ producerId: a.producerId + 50, producerEpoch: b.producerEpoch }, "PRODUCER_FENCED"],
      ] as const) {
        const r = await h.e.txn.initProducerId("tx", 60_000, exp, err);
        assert.equal(r.error, err);
      }
      const r = await h.e.txn.initProducerId(
        "tx",
        60_000,
        { producerId: a.producerId, producerEpoch: 7 },
        "INVALID_PRODUCER_EPOCH",
      );
      assert.equal(r.error, "INVALID_PRODUCER_EPOCH");
      assert.equal(h.e.txn.describe("tx")!.producerEpoch, b.producerEpoch, "refusals bump nothing");
      // The last id/epoch survive a restart.
      await h.restart();
      assert.deepEqual(await init(h.e, "tx", a), b);
      const c = await init(h.e, "tx", b);
      assert.equal(c.producerEpoch, b.producerEpoch + 1);
      // expected with producerId -1 is the same as none.
      const d = await init(h.e, "tx", { producerId: -1, producerEpoch: -1 });
      assert.equal(d.producerEpoch, c.producerEpoch + 1);
    });
  });

  it("at epoch 32766 a new producer id is allocated, durably; the old id is fenced", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const a = await init(e, "tx");
      const other = await init(e, null);
      await bumpTo(e, "tx", PRODUCER_EPOCH_MAX);
      assert.equal(PRODUCER_EPOCH_MAX, 32766);
      assert.deepEqual(
        await init(e, "tx", { producerId: a.producerId, producerEpoch: PRODUCER_EPOCH_MAX - 1 }),
        {
          producerId: a.producerId,
          producerEpoch: PRODUCER_EPOCH_MAX,
        },
      );
      const max = { producerId: a.producerId, producerEpoch: PRODUCER_EPOCH_MAX };
      const next = await init(e, "tx", max);
      assert.equal(next.producerEpoch, 0);
      assert.ok(next.producerId > other.producerId, "a fresh id, never handed out before");
      assert.deepEqual(await init(e, "tx", max), next, "KIP-360 retry across the id change");
      const d = e.txn.describe("tx")!;
      assert.deepEqual([d.lastProducerId, d.lastProducerEpoch], [a.producerId, PRODUCER_EPOCH_MAX]);
      await h.restart();
      assert.deepEqual(await init(h.e, "tx", max), next);
      assert.equal(
        await h.e.txn.endTxn("tx", a.producerId, PRODUCER_EPOCH_MAX, true),
        "INVALID_PRODUCER_ID_MAPPING",
      );
      assert.deepEqual(await h.e.txn.addPartitions("tx", a.producerId, PRODUCER_EPOCH_MAX, [tp(0)]), [
        "INVALID_PRODUCER_ID_MAPPING",
      ]);
      assert.deepEqual(await h.e.txn.addPartitions("tx", next.producerId, 0, [tp(0)]), ["NONE"]);
      assert.equal(
        await code(h.e.append("t", 0, batch(a.producerId, PRODUCER_EPOCH_MAX, 0, vals(1)))),
        "INVALID_PRODUCER_ID_MAPPING",
      );
      await h.e.append("t", 0, batch(next.producerId, 0, 0, vals(1)));
      assert.equal(await h.e.txn.endTxn("tx", next.producerId, 0, true), "NONE");
      const fresh = await init(h.e, null);
      assert.ok(fresh.producerId > next.producerId, "the allocated id is durable");
    });
  });

  for (const how of ["InitProducerId", "timeout"] as const) {
    it(`epoch overflow with an open transaction (${how}): its data is aborted and the LSO released`, {}, async () => {
      await withEngine(async (h) => {
        const { e } = h;
        const a = await init(e, "tx");
        await bumpTo(e, "tx", PRODUCER_EPOCH_MAX);
        const first = await openTxnWithData(e, "tx", {
          producerId: a.producerId,
          producerEpoch: PRODUCER_EPOCH_MAX,
        });
        assert.equal(lso(e), first);
        if (how === "InitProducerId") await init(e, "tx");
        else {
          h.clock.now += 60_001;
          assert.deepEqual(await e.txn.abortExpired(), ["tx"]);
        }
        assert.notEqual(e.txn.describe("tx")!.producerId, a.producerId);
        assert.equal(hw(e), first + 3);
        assert.equal(lso(e), hw(e), "the aborted transaction must not hold the LSO back");
        await h.restart();
        assert.equal(lso(h.e), hw(h.e));
        assert.deepEqual(consume(h.e, 0, "read_committed"), [], "aborted data must be invisible");
        const m = markers(h.e, 0);
        assert.equal(m.length, 1);
        assert.equal(
          m[0]!.producerId,
          a.producerId,
          "the abort marker must carry the id that wrote the data",
        );
      });
    });
  }
});

describe("produce checks (KIP-890 part 1)", () => {
  it("a transactional batch needs an ongoing transaction holding its partition", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const ids = await init(e, "tx");
      const { producerId: pid, producerEpoch: ep } = ids;
      assert.equal(await code(e.append("t", 0, batch(pid, ep, 0, vals(1)))), "INVALID_TXN_STATE", "Empty");
      assert.equal(await e.txn.addOffsets("tx", pid, ep, "g"), "NONE"); // Ongoing, no partitions
      assert.equal(await code(e.append("t", 0, batch(pid, ep, 0, vals(1)))), "INVALID_TXN_STATE");
      assert.deepEqual(await e.txn.addPartitions("tx", pid, ep, [tp(0)]), ["NONE"]);
      assert.equal(
        await code(e.append("t", 1, batch(pid, ep, 0, vals(1)))),
        "INVALID_TXN_STATE",
        "not added",
      );
      assert.equal(await code(e.append("t", 0, batch(pid, ep, 0, vals(2)))), "NONE");
      assert.equal(hw(e, 1), 0, "nothing was written to the partition not added");
      assert.equal(await e.txn.endTxn("tx", pid, ep, true), "NONE");
      assert.equal(
        await code(e.append("t", 0, batch(pid, ep, 2, vals(1)))),
        "INVALID_TXN_STATE",
        "after the commit the partition is no longer in a transaction",
      );
      // Unknown partitions in AddPartitions: nothing is added.
      assert.deepEqual(await e.txn.addPartitions("tx", pid, ep, [tp(0), { topic: "nope", partition: 0 }]), [
        "OPERATION_NOT_ATTEMPTED",
        "UNKNOWN_TOPIC_OR_PARTITION",
      ]);
      assert.equal(e.txn.describe("tx")!.partitions.size, 0);
      assert.equal(e.txn.describe("tx")!.state, TxnState.CompleteCommit);
    });
  });

  it("sequences continue across transactions of one epoch; retries are duplicates, also after restart", async () => {
    await withEngine(async (h) => {
      const ids = await init(h.e, "tx");
      const { producerId: pid, producerEpoch: ep } = ids;
      await h.e.txn.addPartitions("tx", pid, ep, [tp(0)]);
      const b0 = batch(pid, ep, 0, vals(3));
      assert.equal((await h.e.append("t", 0, Buffer.from(b0))).baseOffset, 0);
      await h.restart();
      assert.equal(lso(h.e), 0, "the open transaction still holds the LSO after a restart");
      assert.equal(hw(h.e), 3);
      assert.equal(
        (await h.e.append("t", 0, Buffer.from(b0))).baseOffset,
        0,
        "retry after restart: duplicate",
      );
      assert.equal(
        await code(h.e.append("t", 0, batch(pid, ep, 4, vals(1)))),
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
      );
      assert.equal(await h.e.txn.endTxn("tx", pid, ep, true), "NONE");
      await h.e.txn.addPartitions("tx", pid, ep, [tp(0)]);
      assert.equal(
        await code(h.e.append("t", 0, batch(pid, ep, 0, vals(1)))),
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
      );
      assert.equal((await h.e.append("t", 0, batch(pid, ep, 3, vals(1)))).baseOffset, 4);
      assert.equal(lso(h.e), 4);
      assert.equal(await h.e.txn.endTxn("tx", pid, ep, false), "NONE");
      assert.deepEqual(
        consume(h.e, 0, "read_committed").map((s) => s.offset),
        [0, 1, 2],
      );
    });
  });

  it("idempotent producers: duplicates of the last five, gaps, and durability", async () => {
    await withEngine(async (h) => {
      const { producerId: pid } = await init(h.e, null);
      const sent: Buffer[] = [];
      let seq = 0;
      for (let i = 0; i < 7; i++) {
        const b = batch(pid, 0, seq, vals(2), false);
        sent.push(Buffer.from(b));
        assert.equal((await h.e.append("t", 0, b)).baseOffset, i * 2);
        seq += 2;
      }
      await h.restart();
      for (let i = 2; i < 7; i++)
        assert.equal((await h.e.append("t", 0, Buffer.from(sent[i]!))).baseOffset, i * 2);
      assert.equal(await code(h.e.append("t", 0, Buffer.from(sent[1]!))), "OUT_OF_ORDER_SEQUENCE_NUMBER");
      assert.equal(
        await code(h.e.append("t", 0, batch(pid, 0, seq + 1, vals(1), false))),
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
      );
      assert.equal(
        await code(h.e.append("t", 0, batch(pid, 0, -1, vals(1), false))),
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
      );
      assert.equal((await h.e.append("t", 0, batch(pid, 0, seq, vals(1), false))).baseOffset, 14);
      assert.equal(hw(h.e), 15);
      // A pipelined duplicate of a batch still in its commit is answered with its offsets.
      const next = batch(pid, 0, seq + 1, vals(1), false);
      const [x, y] = await Promise.all([
        h.e.append("t", 0, Buffer.from(next)),
        h.e.append("t", 0, Buffer.from(next)),
      ]);
      assert.deepEqual([x.baseOffset, y.baseOffset], [15, 15]);
      assert.equal(hw(h.e), 16);
    });
  });
});

describe("EndTxn", () => {
  it("on an Empty transaction is INVALID_TXN_STATE", async () => {
    await withEngine(async (h) => {
      const ids = await init(h.e, "tx");
      assert.equal(await h.e.txn.endTxn("tx", ids.producerId, ids.producerEpoch, true), "INVALID_TXN_STATE");
      assert.equal(await h.e.txn.endTxn("tx", ids.producerId, ids.producerEpoch, false), "INVALID_TXN_STATE");
      assert.equal(h.e.txn.describe("tx")!.state, TxnState.Empty);
      assert.equal(hw(h.e), 0, "no markers");
    });
  });

  for (const commit of [true, false]) {
    it(`a retry after ${commit ? "commit" : "abort"} succeeds with the same outcome only, also after restart`, async () => {
      await withEngine(async (h) => {
        const ids = await init(h.e, "tx");
        const { producerId: pid, producerEpoch: ep } = ids;
        await openTxnWithData(h.e, "tx", ids, 0, [0, 1]);
        assert.equal(await h.e.txn.endTxn("tx", pid, ep, commit), "NONE");
        const want = commit ? TxnState.CompleteCommit : TxnState.CompleteAbort;
        for (let round = 0; round < 2; round++) {
          assert.equal(h.e.txn.describe("tx")!.state, want);
          assert.equal(await h.e.txn.endTxn("tx", pid, ep, commit), "NONE");
          assert.equal(await h.e.txn.endTxn("tx", pid, ep, !commit), "INVALID_TXN_STATE");
          assert.equal(hw(h.e), 3, "retries write no more markers");
          assert.equal(hw(h.e, 1), 1);
          assert.equal(lso(h.e), 3);
          assert.equal(consume(h.e, 0, "read_committed").length, commit ? 2 : 0);
          assert.deepEqual(
            markers(h.e, 0).map((m) => m.commit),
            [commit],
          );
          await h.restart();
        }
      });
    });
  }
});

describe("timeouts and operator actions", () => {
  it("abortExpired aborts and fences a transaction past its timeout (injected clock)", async () => {
    await withEngine(async (h) => {
      const { e, clock } = h;
      const a = await init(e, "a", null, 10_000);
      const b = await init(e, "b", null, 60_000);
      await init(e, "idle", null, 1); // Empty: never expires
      const started = clock.now;
      await openTxnWithData(e, "a", a, 0, [0]);
      await openTxnWithData(e, "b", b, 0, [1]);
      clock.now = started + 10_000;
      assert.deepEqual(await e.txn.abortExpired(), [], "not before start + timeout has passed");
      clock.now += 1;
      assert.deepEqual(await e.txn.abortExpired(), ["a"]);
      const d = e.txn.describe("a")!;
      assert.equal(d.state, TxnState.CompleteAbort);
      assert.equal(d.producerEpoch, a.producerEpoch + 1, "fenced");
      assert.equal(lso(e, 0), hw(e, 0));
      assert.equal(consume(e, 0, "read_committed").length, 0);
      assert.equal(lso(e, 1), 0, "b is still open");
      // The timed-out producer is fenced...
      assert.equal(await e.txn.endTxn("a", a.producerId, a.producerEpoch, true), "INVALID_PRODUCER_EPOCH");
      assert.equal(
        await code(e.append("t", 0, batch(a.producerId, a.producerEpoch, 2, vals(1)))),
        "INVALID_PRODUCER_EPOCH",
      );
      // ...and recovers with KIP-360: its id/epoch is the last one, so it gets the current.
      const again = await init(e, "a", a);
      assert.deepEqual(again, { producerId: a.producerId, producerEpoch: a.producerEpoch + 1 });
      assert.equal(
        await e.txn.endTxn("a", again.producerId, again.producerEpoch, false),
        "NONE",
        "abort retry",
      );
      await h.restart();
      h.clock.now = started + 60_001;
      assert.deepEqual(await h.e.txn.abortExpired(), ["b"], "timeouts count from the durable start time");
      assert.equal(consume(h.e, 1, "read_committed").length, 0);
      assert.equal(lso(h.e, 1), hw(h.e, 1));
    });
  });

  it("the timeout sweep runs on the engine's clock", async () => {
    const clock = new FakeClock(5_000);
    await withEngine(
      async (h) => {
        const ids = await init(h.e, "tx", null, 2_000);
        await openTxnWithData(h.e, "tx", ids);
        clock.advance(1_000);
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(h.e.txn.describe("tx")!.state, TxnState.Ongoing);
        // Past start + timeout, the next sweep (every second of engine time) aborts it. The
        // abort is a real commit (an fsync), so wait for it in real time, bounded.
        clock.advance(2_000);
        const deadline = Date.now() + 20_000;
        while (h.e.txn.describe("tx")!.state === TxnState.Ongoing && Date.now() < deadline) {
          clock.advance(1_000);
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(clock.nowMs() > 7_000);
        assert.equal(h.e.txn.describe("tx")!.state, TxnState.CompleteAbort);
        assert.equal(lso(h.e), hw(h.e));
      },
      { clock },
    );
  });

  it("abortById aborts an ongoing transaction and fences it; refuses others", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      assert.equal(await e.txn.abortById("nope"), "TRANSACTIONAL_ID_NOT_FOUND");
      const ids = await init(e, "tx");
      assert.equal(await e.txn.abortById("tx"), "INVALID_TXN_STATE", "Empty");
      await openTxnWithData(e, "tx", ids);
      assert.equal(await e.txn.abortById("tx"), "NONE");
      assert.equal(e.txn.describe("tx")!.state, TxnState.CompleteAbort);
      assert.equal(e.txn.describe("tx")!.producerEpoch, ids.producerEpoch + 1);
      assert.equal(await e.txn.abortById("tx"), "INVALID_TXN_STATE", "already aborted");
      assert.equal(
        await e.txn.endTxn("tx", ids.producerId, ids.producerEpoch, true),
        "INVALID_PRODUCER_EPOCH",
      );
      assert.deepEqual(markers(e, 0), [
        { offset: 2, producerId: ids.producerId, producerEpoch: ids.producerEpoch + 1, commit: false },
      ]);
      assert.equal(consume(e, 0, "read_committed").length, 0);
    });
  });

  it("describe and list show state, partitions, groups and pending offsets, across restarts", async () => {
    await withEngine(async (h) => {
      const a = await init(h.e, "a");
      await init(h.e, "b");
      assert.deepEqual(
        h.e.txn
          .list()
          .map((t) => t.transactionalId)
          .sort(),
        ["a", "b"],
      );
      h.clock.now += 5;
      await openTxnWithData(h.e, "a", a, 0, [0, 1]);
      assert.equal(await h.e.txn.addOffsets("a", a.producerId, a.producerEpoch, "g"), "NONE");
      await h.e.txn.txnOffsetCommit("a", a.producerId, a.producerEpoch, "g", null, [
        { topic: "t", partition: 1, offset: 42, leaderEpoch: 3, metadata: "m" },
      ]);
      const check = (e: Engine) => {
        const d = e.txn.describe("a")!;
        assert.equal(d.state, TxnState.Ongoing);
        assert.equal(d.startMs, h.clock.now);
        assert.deepEqual(
          [...d.partitions.entries()].map(([id, first]) => [e.partitionById(id)!.index, first]),
          [
            [0, 0],
            [1, null],
          ],
        );
        assert.deepEqual([...d.groups], ["g"]);
        assert.deepEqual(
          [...d.offsets.values()],
          [{ groupId: "g", topic: "t", partition: 1, offset: 42, leaderEpoch: 3, metadata: "m" }],
        );
        assert.equal(e.txn.describe("b")!.state, TxnState.Empty);
        const producers = e.txn.producersOf(e.partition("t", 0)!.id);
        assert.deepEqual(producers, [
          {
            producerId: a.producerId,
            epoch: 0,
            lastSequence: 1,
            lastTimestampMs: h.clock.now,
            txnStartOffset: 0,
          },
        ]);
      };
      check(h.e);
      await h.restart();
      check(h.e);
    });
  });
});

describe("transactional offsets", () => {
  const off = (partition: number, offset: number) => ({
    topic: "t",
    partition,
    offset,
    leaderEpoch: 0,
    metadata: null,
  });

  it("TxnOffsetCommit needs AddOffsetsToTxn for the group first", async () => {
    await withEngine(async (h) => {
      const { e } = h;
      const { producerId: pid, producerEpoch: ep } = await init(e, "tx");
      assert.deepEqual(await e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 1)]), [
        "INVALID_TXN_STATE",
      ]);
      assert.deepEqual(await e.txn.addPartitions("tx", pid, ep, [tp(0)]), ["NONE"]);
      assert.deepEqual(
        await e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 1)]),
        ["INVALID_TXN_STATE"],
        "an ongoing transaction, but the group was not added",
      );
      assert.equal(await e.txn.addOffsets("tx", pid, ep, ""), "INVALID_GROUP_ID");
      assert.equal(await e.txn.addOffsets("tx", pid, ep, "g"), "NONE");
      assert.deepEqual(await e.txn.txnOffsetCommit("tx", pid, ep, "other", null, [off(0, 1)]), [
        "INVALID_TXN_STATE",
      ]);
      assert.deepEqual(await e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 1), off(7, 1)]), [
        "NONE",
        "UNKNOWN_TOPIC_OR_PARTITION",
      ]);
      assert.equal(e.txn.hasPendingOffset("g", "t", 0), true);
      assert.equal(e.txn.hasPendingOffset("g", "t", 1), false);
      assert.equal(e.txn.hasPendingOffset("other", "t", 0), false);
      assert.equal(e.committedOffset("g", "t", 0), undefined, "not visible before the commit");
      assert.equal(await e.txn.endTxn("tx", pid, ep, true), "NONE");
      // After the transaction the group must be added again.
      assert.deepEqual(await e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 2)]), [
        "INVALID_TXN_STATE",
      ]);
    });
  });

  it("commit makes pending offsets visible, abort discards them; pending offsets survive restarts", async () => {
    await withEngine(async (h) => {
      const ids = await init(h.e, "tx");
      const { producerId: pid, producerEpoch: ep } = ids;
      await h.e.commitOffsets("g", [off(0, 5)]);
      assert.equal(await h.e.txn.addOffsets("tx", pid, ep, "g"), "NONE");
      assert.deepEqual(await h.e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 10)]), ["NONE"]);
      assert.deepEqual(await h.e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(0, 11)]), ["NONE"]);
      await h.restart();
      assert.equal(h.e.txn.hasPendingOffset("g", "t", 0), true, "require_stable sees it after restart");
      assert.equal(h.e.committedOffset("g", "t", 0)?.offset, 5);
      assert.equal(await h.e.txn.endTxn("tx", pid, ep, false), "NONE");
      assert.equal(h.e.txn.hasPendingOffset("g", "t", 0), false);
      assert.equal(h.e.committedOffset("g", "t", 0)?.offset, 5, "abort discards");
      assert.equal(await h.e.txn.addOffsets("tx", pid, ep, "g"), "NONE");
      assert.deepEqual(
        await h.e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [
          { ...off(0, 20), metadata: "x", leaderEpoch: 4 },
        ]),
        ["NONE"],
      );
      h.clock.now += 7;
      assert.equal(await h.e.txn.endTxn("tx", pid, ep, true), "NONE");
      const c = h.e.committedOffset("g", "t", 0);
      assert.deepEqual(
        { offset: c?.offset, leaderEpoch: c?.leaderEpoch, metadata: c?.metadata, commitMs: c?.commitMs },
        { offset: 20, leaderEpoch: 4, metadata: "x", commitMs: h.clock.now },
      );
      assert.equal(h.e.txn.hasPendingOffset("g", "t", 0), false);
      await h.restart();
      assert.deepEqual(h.e.committedOffset("g", "t", 0), c);
      assert.equal(h.e.txn.hasPendingOffset("g", "t", 0), false);
    });
  });

  it("a fenced transaction's pending offsets are discarded", async () => {
    await withEngine(async (h) => {
      const { producerId: pid, producerEpoch: ep } = await init(h.e, "tx");
      assert.equal(await h.e.txn.addOffsets("tx", pid, ep, "g"), "NONE");
      assert.deepEqual(await h.e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [off(1, 3)]), ["NONE"]);
      await init(h.e, "tx");
      assert.equal(h.e.txn.hasPendingOffset("g", "t", 1), false);
      assert.equal(h.e.committedOffset("g", "t", 1), undefined);
      assert.equal(markers(h.e, 0).length + markers(h.e, 1).length, 0, "no partitions: no markers");
    });
  });

  it("TxnOffsetCommit refuses metadata over offset.metadata.max.bytes like OffsetCommit", {}, async () => {
    await withEngine(async (h) => {
      const { producerId: pid, producerEpoch: ep } = await init(h.e, "tx");
      await h.e.txn.addOffsets("tx", pid, ep, "g");
      const big = { ...off(0, 1), metadata: "x".repeat(5000) };
      assert.deepEqual(await h.e.commitOffsets("g", [big]), ["OFFSET_METADATA_TOO_LARGE"]);
      assert.deepEqual(await h.e.txn.txnOffsetCommit("tx", pid, ep, "g", null, [big]), [
        "OFFSET_METADATA_TOO_LARGE",
      ]);
    });
  });
});
