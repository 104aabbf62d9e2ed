/**
 * Tables through the engine's API (what a library user calls): writes with their change records,
 * indexes kept right through replacements, a failed commit that leaves nothing behind, the
 * subscription snapshot/live boundary, dropping and reclaiming, and state across a reopen.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { Engine } from "../engine/engine.js";
import { decodeRecords } from "../log/records.js";
import type { TableError } from "./errors.js";
import { EMPTY_QUERY, parseUrlQuery } from "./query.js";
import type { ChangeEvent } from "./tables.js";

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-tables-"));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The change topic's records as [offset, key, value|null, op]. */
function changes(e: Engine, table: string): [number, string, string | null, string][] {
  return e
    .readBatchesNow(table, 0, 0, 1 << 24)
    .flatMap((b) =>
      decodeRecords(b)!.map(
        (r) =>
          [
            r.offset,
            r.key!.toString(),
            r.value === null ? null : r.value.toString(),
            r.headers.find((h) => h.key === "op")!.value!.toString(),
          ] as [number, string, string | null, string],
      ),
    );
}

const ids = (json: string) => (JSON.parse(json) as { id: string }[]).map((r) => r.id);

describe("tables", () => {
  it("writes rows with their change records and keeps indexes right through replacements", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      const t = e.tables;
      await t.create("items", { attributes: [{ name: "grp", type: "Int", indexed: true }, "tags"] });
      await t.put("items", "a", { grp: 1 });
      await t.put("items", "b", { grp: 1, tags: ["x", "y"] });
      await t.put("items", "a", { grp: 2 }); // leaves grp 1
      await t.patch("items", "b", { grp: 3 });
      assert.deepEqual(ids(t.query("items", parseUrlQuery("grp=1")).json), []);
      assert.deepEqual(ids(t.query("items", parseUrlQuery("grp=2")).json), ["a"]);
      assert.deepEqual(ids(t.query("items", parseUrlQuery("grp=gt=1")).json), ["a", "b"]);
      assert.deepEqual(ids(t.query("items", parseUrlQuery("tags=y")).json), ["b"]);
      const del = await t.delete("items", "a");
      assert.equal(del.existed, true);
      assert.equal((await t.delete("items", "a")).version, null, "deleting a missing record writes nothing");
      assert.deepEqual(ids(t.query("items", parseUrlQuery("grp=ge=0")).json), ["b"]);
      assert.deepEqual(changes(e, "items"), [
        [0, "a", '{"grp":1,"id":"a"}', "put"],
        [1, "b", '{"grp":1,"tags":["x","y"],"id":"b"}', "put"],
        [2, "a", '{"grp":2,"id":"a"}', "put"],
        [3, "b", '{"grp":3,"tags":["x","y"],"id":"b"}', "patch"],
        [4, "a", null, "delete"],
      ]);
      assert.equal(t.getVersioned("items", "b")?.version, 3);
      // The index holds exactly the live records' values: no entry survives its record.
      const entries = e.store.reader
        .prepare("SELECT attr, value, id FROM db_index ORDER BY attr, value")
        .all();
      assert.deepEqual(entries, [{ attr: "grp", value: 3, id: "b" }]);
      // Kafka clients cannot write into a table's change topic.
      await assert.rejects(
        e.append("items", 0, Buffer.alloc(0)),
        (err: Error & { code?: string }) => err.code === "POLICY_VIOLATION",
      );
      await assert.rejects(
        e.deleteTopic("items"),
        (err: Error & { code?: string }) => err.code === "POLICY_VIOLATION",
      );
    } finally {
      await e.close();
    }
  });

  it("a write whose commit fails leaves neither row, index entry nor change record, and later writes see the last durable state", async () => {
    const e = await Engine.open({ dataDir: tmpDir(), failWritesOn: "deleteDbIndex" });
    try {
      const t = e.tables;
      await t.create("items", { attributes: [{ name: "grp", type: "Int", indexed: true }] });
      await t.put("items", "a", { grp: 1, v: "first" });
      // Changing grp removes an index entry: that commit fails, and a write queued with it too.
      const failing = t.patch("items", "a", { grp: 2 });
      const sameCommit = t.put("items", "c", { v: "joins the failed commit" });
      await assert.rejects(failing, (err: Error & { code?: string }) => err.code === "KAFKA_STORAGE_ERROR");
      await assert.rejects(sameCommit);
      assert.equal(t.get("items", "a"), '{"grp":1,"v":"first","id":"a"}');
      assert.equal(t.get("items", "c"), undefined);
      assert.deepEqual(ids(t.query("items", parseUrlQuery("grp=2")).json), []);
      assert.deepEqual(
        changes(e, "items").map(([o, k]) => [o, k]),
        [[0, "a"]],
      );
      // The next PATCH merges into the durable value, not the failed one, at the next offset.
      const ok = await t.patch("items", "a", { v: "second" });
      assert.equal(ok.version, 1);
      assert.equal(t.get("items", "a"), '{"grp":1,"v":"second","id":"a"}');
    } finally {
      await e.close();
    }
  });

  it("a subscription's snapshot and live events hold each change once, even with writes in flight", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      const t = e.tables;
      await t.create("ev");
      await t.put("ev", "a", { n: 0 });
      // Writes in a commit that has not finished when the subscription starts.
      const inFlight = [t.put("ev", "a", { n: 1 }), t.put("ev", "b", { n: 1 })];
      const live: ChangeEvent[] = [];
      const sub = t.subscribe("ev", undefined, (ev) => live.push(ev));
      assert.deepEqual(
        sub.snapshot.map((r) => [r.id, r.version]),
        [["a", 0]],
      );
      await Promise.all(inFlight);
      await t.delete("ev", "b");
      assert.deepEqual(
        live.map((ev) => [ev.id, ev.type, ev.version]),
        [
          ["a", "put", 1],
          ["b", "put", 2],
          ["b", "delete", 3],
        ],
      );
      sub.close();
      await t.put("ev", "a", { n: 2 });
      assert.equal(live.length, 3, "no events after close");
      // A record subscription starts with the record's current value.
      const one = t.subscribe("ev", "a", () => {});
      assert.deepEqual(
        one.snapshot.map((r) => r.value),
        ['{"n":2,"id":"a"}'],
      );
      one.close();
    } finally {
      await e.close();
    }
  });

  it("a subscription resumes after a version from the change topic, or starts over when it cannot", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      const t = e.tables;
      await t.create("ev");
      await t.put("ev", "a", { n: 1 }); // 0
      await t.put("ev", "b", { n: 1 }); // 1
      await t.patch("ev", "a", { n: 2 }); // 2
      await t.delete("ev", "b"); // 3
      const live: ChangeEvent[] = [];
      const all = t.subscribe("ev", undefined, (ev) => live.push(ev), { afterVersion: 0 });
      assert.equal(all.resumed, true);
      assert.deepEqual(all.snapshot, []);
      assert.deepEqual(
        all.backlog.map((ev) => [ev.version, ev.id, ev.type, ev.value]),
        [
          [1, "b", "put", '{"n":1,"id":"b"}'],
          [2, "a", "patch", '{"n":2,"id":"a"}'],
          [3, "b", "delete", null],
        ],
      );
      const one = t.subscribe("ev", "a", () => {}, { afterVersion: 0 });
      assert.deepEqual(
        one.backlog.map((ev) => ev.version),
        [2],
      );
      await t.put("ev", "c", { n: 1 });
      assert.deepEqual(
        live.map((ev) => ev.version),
        [4],
        "live events follow the backlog without a gap or a repeat",
      );
      const upToDate = t.subscribe("ev", undefined, () => {}, { afterVersion: 4 });
      assert.equal(upToDate.resumed, true);
      assert.deepEqual(upToDate.backlog, []);
      // A version from the future, or one whose changes retention deleted: a fresh snapshot.
      const future = t.subscribe("ev", undefined, () => {}, { afterVersion: 99 });
      assert.equal(future.resumed, false);
      assert.deepEqual(
        future.snapshot.map((r) => r.id),
        ["a", "c"],
      );
      await e.deleteRecords("ev", 0, 3);
      const gone = t.subscribe("ev", undefined, () => {}, { afterVersion: 0 });
      assert.equal(gone.resumed, false);
      assert.equal(gone.highWatermark, 5);
      for (const s of [all, one, upToDate, future, gone]) s.close();
    } finally {
      await e.close();
    }
  });

  it("commit() fences group offsets: a second committer from the same offset is refused, pipelined ones chain", async () => {
    const e = await Engine.open({ dataDir: tmpDir() });
    try {
      await e.createTopic("in", 1);
      await e.tables.create("out");
      const at = (offset: number, expectedOffset: number | null) => ({
        groupId: "g",
        entries: [{ topic: "in", partition: 0, offset, leaderEpoch: -1, metadata: null, expectedOffset }],
      });
      const put = (id: string) => [{ table: "out", writes: [{ kind: "put", id, record: {} }] as const }];
      // Two pipelined commits: the second advances from the first, still in flight.
      const a = e.tables.commit(put("a"), { offsets: at(5, null) });
      const b = e.tables.commit(put("b"), { offsets: at(10, 5) });
      // A zombie that read the same start as the first: refused, and it writes nothing.
      const zombie = e.tables.commit(put("z"), { offsets: at(5, null) });
      await assert.rejects(zombie, (err: Error & { code?: string }) => err.code === "FENCED_MEMBER_EPOCH");
      await Promise.all([a, b]);
      assert.equal(e.committedOffset("g", "in", 0)?.offset, 10);
      assert.equal(e.tables.get("out", "z"), undefined);
      await assert.rejects(
        e.tables.commit(put("c"), { offsets: at(12, 5) }),
        (err: Error & { code?: string }) => err.code === "FENCED_MEMBER_EPOCH",
      );
      assert.equal(e.tables.get("out", "c"), undefined);
      await e.tables.commit(put("c"), { offsets: at(12, 10) });
      assert.equal(e.committedOffset("g", "in", 0)?.offset, 12);
    } finally {
      await e.close();
    }
  });

  it("drop_table removes the table and its topic; its rows are reclaimed; state survives a reopen", async () => {
    const dir = tmpDir();
    let e = await Engine.open({ dataDir: dir, retentionCheckIntervalMs: 3_600_000 });
    let goneTbl = 0;
    try {
      // "gone" gets the highest table number, so only db_dropped remembers it after the reclaim.
      await e.tables.create("kept", { primaryKey: "sku", attributes: [{ name: "sku", type: "Int" }] });
      await e.tables.put("kept", 7, { name: "seven" });
      await e.tables.create("gone", { attributes: [{ name: "k", indexed: true }] });
      goneTbl = e.tableDefinition("gone")!.tbl;
      await e.tables.write(
        "gone",
        Array.from({ length: 5000 }, (_, i) => ({ kind: "put", id: `r${i}`, record: { k: i } }) as const),
      );
      await e.tables.drop("gone");
      assert.equal(e.topic("gone"), undefined);
      assert.throws(
        () => e.tables.get("gone", "r1"),
        (err: TableError) => err.code === "TABLE_NOT_FOUND",
      );
      // The retention pass reclaims the rows in chunks.
      const left = () => e.store.reader.prepare("SELECT COUNT(*) AS n FROM db_rows").get() as { n: number };
      for (let i = 0; i < 100 && left().n > 1; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(left().n, 1);
      assert.equal(
        (e.store.reader.prepare("SELECT COUNT(*) AS n FROM db_index").get() as { n: number }).n,
        0,
      );
    } finally {
      await e.close();
    }
    e = await Engine.open({ dataDir: dir });
    try {
      assert.deepEqual(
        e.tables.list().map((t) => t.name),
        ["kept"],
      );
      assert.equal(e.tables.get("kept", "7"), '{"name":"seven","sku":7}');
      assert.deepEqual(JSON.parse(e.tables.query("kept", EMPTY_QUERY).json), [{ name: "seven", sku: 7 }]);
      // A new table of the dropped name starts empty, under a new number: table numbers are never
      // reused, even after the dropped one was reclaimed and the engine reopened.
      await e.tables.create("gone");
      assert.equal(e.tables.query("gone", EMPTY_QUERY).count, 0);
      assert.ok(e.tableDefinition("gone")!.tbl > goneTbl);
    } finally {
      await e.close();
    }
  });
});
