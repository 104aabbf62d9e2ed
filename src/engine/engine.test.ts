/**
 * Engine-level tests: the log (append, fetch, retention, delete), durability across reopen,
 * and storage-failure handling. No sockets: the engine API directly.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { decodeRecords, encodeBatch } from "../log/records.js";
import { Engine } from "./engine.js";
import type { EngineError } from "./errors.js";
import { RETENTION_CHUNK_BATCHES } from "./retention.js";

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-engine-"));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const batchOf = (values: string[], timestampMs?: number) =>
  encodeBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })) });

function values(batches: Buffer[], from = 0): string[] {
  return batches.flatMap((b) =>
    decodeRecords(b)!
      .filter((r) => r.offset >= from)
      .map((r) => r.value!.toString()),
  );
}

describe("engine log", () => {
  it("assigns dense offsets, fetches whole batches from the one containing the offset", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("t", 2);
      const r1 = await e.append("t", 0, batchOf(["a", "b", "c"]));
      const r2 = await e.append("t", 0, batchOf(["d", "e"]));
      const r3 = await e.append("t", 1, batchOf(["x"]));
      assert.deepEqual([r1.baseOffset, r2.baseOffset, r3.baseOffset], [0, 3, 0]);
      const f = e.fetch("t", 0, 4, 1 << 20, "read_uncommitted");
      assert.equal(f.error, "NONE");
      assert.equal(f.highWatermark, 5);
      assert.equal(f.batches.length, 1, "the batch holding offset 4 starts at 3");
      assert.deepEqual(values(f.batches), ["d", "e"]);
      assert.deepEqual(values(e.fetch("t", 0, 0, 1 << 20, "read_uncommitted").batches), [
        "a",
        "b",
        "c",
        "d",
        "e",
      ]);
      assert.equal(e.fetch("t", 0, 5, 1 << 20, "read_uncommitted").batches.length, 0);
      assert.equal(e.fetch("t", 0, 6, 1 << 20, "read_uncommitted").error, "OFFSET_OUT_OF_RANGE");
      // maxBytes smaller than one batch still returns that batch (progress), but not two.
      assert.equal(e.fetch("t", 0, 0, 1, "read_uncommitted").batches.length, 1);
    } finally {
      await e.close();
    }
  });

  it("fetchMany (read off the main thread) returns what fetch returns, the budget shared in order", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("t", 2);
      for (let i = 0; i < 60; i++) await e.append("t", i % 2, batchOf([`v${i}`.padEnd(900, ".")]));
      for (const [offset, maxBytes] of [
        [0, 1 << 20],
        [5, 10_000],
        [7, 1],
        [29, 25_000],
      ] as const) {
        const one = e.fetch("t", 0, offset, maxBytes, "read_committed");
        const fetched = await e.fetchMany(
          [{ topic: "t", partition: 0, offset, maxBytes }],
          1 << 30,
          "read_committed",
        );
        const [many] = fetched.results;
        assert.ok(many);
        assert.deepEqual(values(many.batches), values(one.batches), `offset ${offset} max ${maxBytes}`);
        assert.equal(many.bytes, one.bytes);
        assert.ok(many.bytes <= Math.max(maxBytes, one.batches[0]?.length ?? 0));
        assert.deepEqual(many.abortedTransactions, one.abortedTransactions);
        assert.equal(many.highWatermark, 30);
        fetched.release();
        fetched.release(); // twice is harmless
      }
      // Buffers handed back are reused: later answers are still right.
      for (let round = 0; round < 5; round++) {
        const again = await e.fetchMany(
          [{ topic: "t", partition: 1, offset: round, maxBytes: 1 << 20 }],
          1 << 30,
          "read_uncommitted",
        );
        assert.deepEqual(
          values(again.results[0]!.batches),
          values(e.fetch("t", 1, round, 1 << 20, "read_uncommitted").batches),
        );
        again.release();
      }
      const batchBytes = e.fetch("t", 0, 0, 1, "read_uncommitted").bytes;
      // 3.5 batches of budget: partition 0 takes 2 (its own limit), partition 1 the 1.5 left
      // rounded down to 1, the unknown and out-of-range items answer errors and take nothing.
      const { results: answers } = await e.fetchMany(
        [
          { topic: "t", partition: 0, offset: 0, maxBytes: 2 * batchBytes },
          { topic: "t", partition: 9, offset: 0, maxBytes: 1 << 20 },
          { topic: "t", partition: 1, offset: 31, maxBytes: 1 << 20 },
          { topic: "t", partition: 1, offset: 3, maxBytes: 1 << 20 },
        ],
        3.5 * batchBytes,
        "read_uncommitted",
      );
      assert.deepEqual(
        answers.map((a) => [a.error, a.batches.length]),
        [
          ["NONE", 2],
          ["UNKNOWN_TOPIC_OR_PARTITION", 0],
          ["OFFSET_OUT_OF_RANGE", 0],
          ["NONE", 1],
        ],
      );
      assert.deepEqual(values(answers[3]!.batches), ["v7".padEnd(900, ".")]);
      // A budget spent by earlier items leaves later ones empty (no KIP-74 first batch for them).
      const { results: spent } = await e.fetchMany(
        [
          { topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20 },
          { topic: "t", partition: 1, offset: 0, maxBytes: 1 << 20 },
        ],
        30 * batchBytes,
        "read_uncommitted",
      );
      assert.deepEqual(
        spent.map((a) => a.batches.length),
        [30, 0],
      );
    } finally {
      await e.close();
    }
  });

  it("fetchMany answers live in the read arena until released; what does not fit comes another way", async () => {
    // One worker with a 10 KB arena: 10 batches of ~950 bytes.
    const e = await Engine.open({ dataDir: tmpDir(), readWorkers: 1, readArenaBytes: 10_000 });
    try {
      await e.createTopic("t", 1);
      for (let i = 0; i < 40; i++) await e.append("t", 0, batchOf([`v${i}`.padEnd(900, ".")]));
      const read = (offset: number, maxBytes: number) =>
        e.fetchMany([{ topic: "t", partition: 0, offset, maxBytes }], 1 << 30, "read_uncommitted");
      const expect = (offset: number, maxBytes: number) =>
        values(e.fetch("t", 0, offset, maxBytes, "read_uncommitted").batches);
      const batchBytes = e.fetch("t", 0, 0, 1, "read_uncommitted").bytes;

      // Held, not released: its bytes must survive every later read.
      const held = await read(0, 4 * batchBytes);
      assert.deepEqual(e.readStats(), {
        arenaAnswers: 1,
        transferredAnswers: 0,
        unreleasedArenaBytes: 4 * batchBytes,
      });
      for (let round = 0; round < 20; round++) {
        const other = await read(4 + (round % 30), 3 * batchBytes);
        assert.deepEqual(values(other.results[0]!.batches), expect(4 + (round % 30), 3 * batchBytes));
        other.release();
      }
      assert.deepEqual(values(held.results[0]!.batches), expect(0, 4 * batchBytes), "held answer intact");
      // Room for 7 more batches beside the held four: 8 do not fit and come transferred.
      const big = await read(10, 8 * batchBytes);
      assert.deepEqual(values(big.results[0]!.batches), expect(10, 8 * batchBytes));
      assert.equal(e.readStats().transferredAnswers, 1);
      big.release();
      held.release();
      assert.equal(e.readStats().unreleasedArenaBytes, 0);
      // With the held answer gone the arena is whole again: 10 batches fit.
      const whole = await read(20, 10 * batchBytes);
      assert.deepEqual(values(whole.results[0]!.batches), expect(20, 10 * batchBytes));
      assert.deepEqual(
        [e.readStats().arenaAnswers, e.readStats().transferredAnswers],
        [22, 1],
        "every answer but the one that did not fit came through the arena",
      );
      whole.release();
    } finally {
      await e.close();
    }
  });

  it("fetchMany reads in flight at close still answer, and later ones fail cleanly", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    await e.createTopic("t", 1);
    for (let i = 0; i < 20; i++) await e.append("t", 0, batchOf([`v${i}`]));
    const inFlight = e.fetchMany(
      [{ topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20 }],
      1 << 20,
      "read_uncommitted",
    );
    const closing = e.close();
    const {
      results: [r],
    } = await inFlight;
    await closing;
    assert.ok(r);
    assert.ok(r.error === "NONE" || r.error === "KAFKA_STORAGE_ERROR", r.error);
    const {
      results: [after],
    } = await e.fetchMany(
      [{ topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20 }],
      1 << 20,
      "read_uncommitted",
    );
    assert.equal(after?.error, "KAFKA_STORAGE_ERROR");
  });

  it("concurrent appends share commits and keep submission order", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("t", 1);
      const commitsBefore = e.store.writer.stats.commits;
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => e.append("t", 0, batchOf([`v${i}`]))),
      );
      assert.deepEqual(
        results.map((r) => r.baseOffset),
        Array.from({ length: 200 }, (_, i) => i),
      );
      const commits = e.store.writer.stats.commits - commitsBefore;
      assert.ok(commits < 200, `group commit: ${commits} commits for 200 appends`);
    } finally {
      await e.close();
    }
  });

  it("writes batches through the staging arena: in place from a staged request, copied otherwise", async () => {
    // 3 KiB of arena: room for one 2 KiB request region, or for the copy of one batch of it.
    const e = await Engine.open({ dataDir: tmpDir(), stagingArenaBytes: 3 * 1024 });
    try {
      await e.createTopic("t", 1);
      const big = (tag: string) => batchOf([tag.repeat(1500)]);
      // An adapter assembled the request in a staging region: written from there, no copy.
      const b1 = big("a");
      const frame = e.stagingRegion(b1.length + 16)!;
      assert.ok(frame, "room for the request");
      b1.copy(frame.buf, 16);
      const inPlace = e.append("t", 0, frame.buf.subarray(16));
      frame.unref(); // the adapter is done with it; the commit still holds the region
      assert.equal(e.stagingStats().liveBytes, b1.length + 16);
      assert.equal((await inPlace).baseOffset, 0);
      assert.equal(e.stagingStats().batchesWrittenInPlace, 1);
      assert.equal(e.stagingStats().liveBytes, 0, "the commit released the region");
      // Heap bytes are copied into a staging region, held until the commit is answered.
      const copied = e.append("t", 0, big("b"));
      assert.ok(e.stagingStats().liveBytes > 0);
      await copied;
      assert.equal(e.stagingStats().liveBytes, 0);
      // With the arena full, a batch takes the old way (its own transferred ArrayBuffer).
      const hog = e.stagingRegion(2 * 1024)!;
      const refusedBefore = e.stagingStats().refused;
      await e.append("t", 0, big("c"));
      assert.equal(e.stagingStats().refused, refusedBefore + 1);
      hog.unref();
      assert.deepEqual(
        values(e.fetch("t", 0, 0, 1 << 20, "read_uncommitted").batches),
        ["a", "b", "c"].map((t) => t.repeat(1500)),
      );
      assert.equal(e.stagingStats().batchesWrittenInPlace, 1);
    } finally {
      await e.close();
    }
  });

  it("a failed commit releases the staging regions of its batches", async () => {
    const e = await Engine.open({ dataDir: tmpDir(), failWritesOn: "upsertGroupOffset" });
    try {
      await e.createTopic("t", 1);
      const frame = e.stagingRegion(4096)!;
      const b = batchOf(["x".repeat(1000)]);
      b.copy(frame.buf);
      const commit = e.commitOffsets("g", [
        { topic: "t", partition: 0, offset: 1, leaderEpoch: 0, metadata: null },
      ]);
      const inPlace = e.append("t", 0, frame.buf.subarray(0, b.length));
      const copied = e.append("t", 0, batchOf(["y".repeat(1000)]));
      frame.unref();
      await assert.rejects(commit);
      await assert.rejects(inPlace);
      await assert.rejects(copied);
      assert.equal(e.stagingStats().liveBytes, 0, "regions of the failed commit were released");
      assert.equal(e.partition("t", 0)!.highWatermark, 0);
    } finally {
      await e.close();
    }
  });

  it("keeps everything acknowledged across reopen, including log start and group offsets", async () => {
    const dir = tmpDir();
    let e = await Engine.open({ dataDir: dir });
    await e.createTopic("t", 1, { "retention.ms": "-1" });
    for (let i = 0; i < 10; i++) await e.append("t", 0, batchOf([`a${i}`, `b${i}`]));
    await e.deleteRecords("t", 0, 4);
    assert.deepEqual(
      await e.commitOffsets("g", [{ topic: "t", partition: 0, offset: 7, leaderEpoch: 0, metadata: "m" }]),
      ["NONE"],
    );
    await e.close();
    e = await Engine.open({ dataDir: dir });
    try {
      const p = e.partition("t", 0)!;
      assert.equal(p.highWatermark, 20);
      assert.equal(p.logStartOffset, 4);
      assert.equal(e.topic("t")!.configs["retention.ms"], "-1");
      assert.deepEqual(values(e.fetch("t", 0, 4, 1 << 20, "read_uncommitted").batches, 4).slice(0, 2), [
        "a2",
        "b2",
      ]);
      assert.equal(e.fetch("t", 0, 3, 1 << 20, "read_uncommitted").error, "OFFSET_OUT_OF_RANGE");
      assert.equal(e.committedOffset("g", "t", 0)?.offset, 7);
      assert.equal((await e.append("t", 0, batchOf(["next"]))).baseOffset, 20);
    } finally {
      await e.close();
    }
  });

  it("retention by bytes and by time deletes whole oldest batches only", async () => {
    let now = 1_000_000;
    const clock = { nowMs: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const e = await Engine.open({ dataDir: tmpDir(), clock });
    try {
      await e.createTopic("bytes", 1, { "retention.bytes": "1000", "retention.ms": "-1" });
      await e.createTopic("time", 1, { "retention.ms": "60000" });
      for (let i = 0; i < 10; i++) await e.append("bytes", 0, batchOf([`x${i}`.padEnd(200, ".")]));
      const size = e.partitionSizeBytes(e.partition("bytes", 0)!);
      for (let i = 0; i < 5; i++) await e.append("time", 0, batchOf([`old${i}`], now - 120_000));
      for (let i = 0; i < 3; i++) await e.append("time", 0, batchOf([`new${i}`], now));
      await runRetention(e);
      const pb = e.partition("bytes", 0)!;
      const left = e.partitionSizeBytes(pb);
      assert.ok(left <= 1000 + size / 10 && left >= 1000 - size / 10, `bytes left ${left}`);
      assert.ok(pb.logStartOffset > 0);
      assert.equal(e.fetch("bytes", 0, pb.logStartOffset, 1 << 20, "read_uncommitted").error, "NONE");
      const pt = e.partition("time", 0)!;
      assert.equal(pt.logStartOffset, 5);
      assert.deepEqual(values(e.fetch("time", 0, 5, 1 << 20, "read_uncommitted").batches), [
        "new0",
        "new1",
        "new2",
      ]);
      now += 120_000;
      await runRetention(e);
      assert.equal(pt.logStartOffset, 8, "everything expired: log start reaches the high watermark");
      assert.equal((await e.append("time", 0, batchOf(["later"], now))).baseOffset, 8);
    } finally {
      await e.close();
    }
  });

  it("a failing step of a retention pass does not keep the rest of the pass from running", async () => {
    const now = 1_000_000;
    const clock = { nowMs: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    // Reclaiming a deleted topic's batches (the pass's first step) always fails here.
    const e = await Engine.open({ dataDir: tmpDir(), clock, failWritesOn: "deleteOrphanBatchesChunk" });
    try {
      await e.createTopic("gone", 1);
      await e.append("gone", 0, batchOf(["g"]));
      await e.deleteTopic("gone");
      await e.createTopic("time", 1, { "retention.ms": "60000" });
      for (let i = 0; i < 3; i++) await e.append("time", 0, batchOf([`old${i}`], now - 120_000));
      await e.append("time", 0, batchOf(["new"], now));
      await runRetention(e);
      assert.equal(e.partition("time", 0)!.logStartOffset, 3, "the expired batches went all the same");
    } finally {
      await e.close();
    }
  });

  it("DeleteRecords moves the log start at once and deletes in bounded chunks", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("big", 1);
      await Promise.all(Array.from({ length: 300 }, (_, i) => e.append("big", 0, batchOf([`v${i}`]))));
      const commitsBefore = e.store.writer.stats.commits;
      assert.equal(await e.deleteRecords("big", 0, 250), 250);
      const commits = e.store.writer.stats.commits - commitsBefore;
      assert.ok(
        commits >= 1 + Math.ceil(250 / RETENTION_CHUNK_BATCHES),
        `${commits} commits: one for the log start, then chunks of ${RETENTION_CHUNK_BATCHES}`,
      );
      const left = e.store.reader.prepare("SELECT COUNT(*) FROM batches").pluck().get();
      assert.equal(left, 50);
      assert.deepEqual(values(e.fetch("big", 0, 250, 1 << 20, "read_uncommitted").batches)[0], "v250");
      assert.equal(e.fetch("big", 0, 249, 1 << 20, "read_uncommitted").error, "OFFSET_OUT_OF_RANGE");
    } finally {
      await e.close();
    }
  });

  it("deleting a topic reclaims its batches and frees the name", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("gone", 3);
      for (let i = 0; i < 300; i++) await e.append("gone", i % 3, batchOf([`v${i}`]));
      await e.deleteTopic("gone");
      assert.equal(e.topic("gone"), undefined);
      await runRetention(e);
      const left = e.store.reader.prepare("SELECT COUNT(*) FROM batches").pluck().get();
      assert.equal(left, 0);
      await e.createTopic("gone", 1);
      assert.equal((await e.append("gone", 0, batchOf(["fresh"]))).baseOffset, 0);
    } finally {
      await e.close();
    }
  });

  it("a failed commit fails its writes, acknowledges nothing, and the engine recovers", async () => {
    const dir = tmpDir();
    const e = await Engine.open({ dataDir: dir, failWritesOn: "upsertGroupOffset" });
    try {
      await e.createTopic("t", 1);
      await e.append("t", 0, batchOf(["ok"]));
      // The offset commit fails; an append in the same group commit fails with it.
      const commit = e.commitOffsets("g", [
        { topic: "t", partition: 0, offset: 1, leaderEpoch: 0, metadata: null },
      ]);
      const append = e.append("t", 0, batchOf(["lost"]));
      await assert.rejects(commit, (err: EngineError) => err.code === "KAFKA_STORAGE_ERROR");
      await assert.rejects(append, (err: EngineError) => err.code === "KAFKA_STORAGE_ERROR");
      const p = e.partition("t", 0)!;
      assert.equal(p.highWatermark, 1);
      assert.equal(e.committedOffset("g", "t", 0), undefined);
      // Later writes reuse the offsets the failed commit never made durable.
      assert.equal((await e.append("t", 0, batchOf(["after"]))).baseOffset, 1);
      assert.deepEqual(values(e.fetch("t", 0, 0, 1 << 20, "read_uncommitted").batches), ["ok", "after"]);
    } finally {
      await e.close();
    }
  });

  it("a writer thread that dies mid-commit fails that commit; a new one takes over", async () => {
    const dir = tmpDir();
    const e = await Engine.open({ dataDir: dir, crashWriterOn: "upsertGroupOffset" });
    let storageErrors = 0;
    e.on("storage-error", () => storageErrors++);
    try {
      await e.createTopic("t", 1);
      await e.append("t", 0, batchOf(["ok"]));
      // The thread exits inside the transaction holding the offset commit and this append.
      const commit = e.commitOffsets("g", [
        { topic: "t", partition: 0, offset: 1, leaderEpoch: 0, metadata: null },
      ]);
      const append = e.append("t", 0, batchOf(["x".repeat(5000)]));
      await assert.rejects(commit, (err: EngineError) => err.code === "KAFKA_STORAGE_ERROR");
      await assert.rejects(append, (err: EngineError) => err.code === "KAFKA_STORAGE_ERROR");
      assert.equal(e.stagingStats().liveBytes, 0, "the dead commit's staging region was released");
      assert.equal(storageErrors, 1, "one failure: the commit the thread died in");
      assert.equal(e.committedOffset("g", "t", 0), undefined);
      // The new writer thread gets the write lock (the dead one's transaction rolled back).
      assert.equal((await e.append("t", 0, batchOf(["after"]))).baseOffset, 1);
      assert.deepEqual(values(e.fetch("t", 0, 0, 1 << 20, "read_uncommitted").batches), ["ok", "after"]);
    } finally {
      await e.close();
    }
    assert.equal(storageErrors, 1, "a clean close is not a writer failure");
    const reopened = await Engine.open({ dataDir: dir });
    try {
      assert.deepEqual(values(reopened.fetch("t", 0, 0, 1 << 20, "read_uncommitted").batches), [
        "ok",
        "after",
      ]);
    } finally {
      await reopened.close();
    }
  });

  it("validates topics, partitions and configs", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "NONE",
          (err: EngineError) => err.code,
        );
      assert.equal(await code(e.createTopic("bad name", 1)), "INVALID_TOPIC_EXCEPTION");
      assert.equal(await code(e.createTopic("t", 0)), "INVALID_PARTITIONS");
      assert.equal(await code(e.createTopic("t", 1, { "no.such.config": "1" })), "INVALID_CONFIG");
      assert.equal(await code(e.createTopic("t", 1, { "cleanup.policy": "compact" })), "INVALID_CONFIG");
      assert.equal(await code(e.createTopic("t", 1)), "NONE");
      assert.equal(await code(e.createTopic("t", 1)), "TOPIC_ALREADY_EXISTS");
      assert.equal(await code(e.createPartitions("t", 1)), "INVALID_PARTITIONS");
      assert.equal(await code(e.createPartitions("t", 4)), "NONE");
      assert.equal(e.topic("t")!.partitions.length, 4);
      assert.equal(await code(e.append("t", 9, batchOf(["x"]))), "UNKNOWN_TOPIC_OR_PARTITION");
      assert.equal(await code(e.deleteRecords("t", 0, 5)), "OFFSET_OUT_OF_RANGE");
    } finally {
      await e.close();
    }
  });

  it("ListOffsets finds the first record at or after a timestamp, inside a batch", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("t", 1);
      await e.append(
        "t",
        0,
        encodeBatch({
          records: [10, 20, 30].map((ts) => ({ key: null, value: Buffer.from("v"), timestampMs: ts })),
        }),
      );
      await e.append(
        "t",
        0,
        encodeBatch({ records: [{ key: null, value: Buffer.from("w"), timestampMs: 40 }] }),
      );
      assert.equal(e.listOffset("t", 0, 20, "read_uncommitted").offset, 1);
      assert.equal(e.listOffset("t", 0, 21, "read_uncommitted").offset, 2);
      assert.equal(e.listOffset("t", 0, 35, "read_uncommitted").offset, 3);
      assert.equal(e.listOffset("t", 0, 41, "read_uncommitted").offset, -1);
      assert.equal(e.listOffset("t", 0, -1, "read_uncommitted").offset, 4);
      assert.equal(e.listOffset("t", 0, -2, "read_uncommitted").offset, 0);
      assert.deepEqual(e.listOffset("t", 0, -3, "read_uncommitted"), {
        error: "NONE",
        offset: 3,
        timestampMs: 40,
      });
    } finally {
      await e.close();
    }
  });

  it("long-poll waiters wake on append and time out otherwise", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("t", 1);
      const p = e.partition("t", 0)!;
      let woke = false;
      const w = e.waitForData([p], 10_000).then(() => (woke = true));
      await e.append("t", 0, batchOf(["x"]));
      await w;
      assert.equal(woke, true);
      await e.waitForData([p], 20); // resolves by timeout
    } finally {
      await e.close();
    }
  });
});

async function runRetention(e: Engine): Promise<void> {
  // The retention pass is reachable through the engine's private field in tests only.
  await (e as unknown as { retention: { runOnce(): Promise<void> } }).retention.runOnce();
}
