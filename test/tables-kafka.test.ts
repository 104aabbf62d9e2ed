/**
 * A table's change topic, read and poked at with kafkajs against a real server: one record per
 * committed write (key = primary key, value = the record's JSON or null, header op), versions
 * equal to offsets, a call's writes at contiguous offsets, the topic protected from Kafka writers,
 * concurrent writes (one change record per acknowledged write, the final state the last one),
 * and acknowledged writes surviving SIGKILL together with their change records.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Admin, Kafka, Producer } from "kafkajs";
import { operationOk } from "./helpers/http.js";
import { errorType, kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

interface Change {
  offset: number;
  key: string;
  /** The value's text; null for a delete. */
  value: string | null;
  op: string;
}

describe("tables and their Kafka change topics", { timeout: 120_000 }, () => {
  let server: TestServer;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;

  before(async () => {
    server = await startServer({ http: true });
    kafka = kafkaClient(server.kafkaAddress);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect().catch(() => {});
    await admin?.disconnect().catch(() => {});
    await server?.dispose();
  });

  const op = (body: Json): Promise<Json> => operationOk<Json>(server.httpUrl, body);

  async function send(method: string, path: string, body?: Json): Promise<number> {
    const res = await fetch(`${server.httpUrl}${path}`, {
      method,
      ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });
    await res.text();
    return res.status;
  }

  async function record(path: string): Promise<{ value: Json; version: number } | undefined> {
    const res = await fetch(`${server.httpUrl}${path}`);
    const text = await res.text();
    if (res.status === 404) return undefined;
    assert.equal(res.status, 200, `${path}: ${text}`);
    return { value: JSON.parse(text) as Json, version: Number(JSON.parse(res.headers.get("etag")!)) };
  }

  /** The topic's end offset (partition 0). */
  async function endOffset(topic: string): Promise<number> {
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.length, 1, `${topic} has one partition`);
    return Number(offsets[0]!.high);
  }

  /** Every record of a table's topic from the beginning to its current end, with kafkajs. */
  async function readChanges(k: Kafka, topic: string, end: number): Promise<Change[]> {
    const out: Change[] = [];
    if (end === 0) return out;
    const consumer = k.consumer({
      groupId: `changes-${Math.random().toString(36).slice(2)}`,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          assert.equal(partition, 0);
          out.push({
            offset: Number(message.offset),
            key: String(message.key),
            value: message.value === null ? null : String(message.value),
            op: String(message.headers?.op),
          });
        },
      });
      const deadline = Date.now() + 30_000;
      while ((out[out.length - 1]?.offset ?? -1) < end - 1) {
        assert.ok(Date.now() < deadline, `reading ${topic}: at ${out.length} of ${end}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await consumer.disconnect();
    }
    return out;
  }

  /** Asserts the offsets are 0..n-1 in order: one record per write, none missing or repeated. */
  function assertDense(changes: Change[], n: number, what: string): void {
    assert.deepEqual(
      changes.map((c) => c.offset),
      Array.from({ length: n }, (_, i) => i),
      `${what}: offsets`,
    );
  }

  it("every write is a record of the table's one-partition topic; versions are offsets", async () => {
    await op({
      operation: "create_table",
      table: "kt",
      attributes: [{ name: "n", type: "Int", indexed: true }],
    });
    const meta = await admin.fetchTopicMetadata({ topics: ["kt"] });
    assert.equal(meta.topics[0]!.partitions.length, 1);
    assert.equal(await endOffset("kt"), 0);

    assert.equal(await send("PUT", "/kt/a", { n: 1 }), 204);
    const va = (await record("/kt/a"))!.version;
    assert.equal(await send("PATCH", "/kt/a", { m: "x" }), 204);
    const vPatch = (await record("/kt/a"))!.version;
    assert.equal(await send("DELETE", "/kt/a"), 200);
    assert.equal(await send("POST", "/kt/", { id: "b/é", n: 2 }), 201);
    const vb = (await record(`/kt/${encodeURIComponent("b/é")}`))!.version;
    await op({ operation: "upsert", table: "kt", records: [{ id: "c", n: 3 }] });
    await op({
      operation: "update",
      table: "kt",
      records: [
        { id: "c", n: 4 },
        { id: "zz", n: 5 },
      ],
    });
    await op({ operation: "delete", table: "kt", ids: ["c", "nope"] });
    // Writes that change nothing (a skipped update, a delete of a missing record) add nothing.
    assert.equal(await send("DELETE", "/kt/nope"), 404);
    await op({ operation: "insert", table: "kt", records: [{ id: "b/é", n: 9 }] });

    const end = await endOffset("kt");
    assert.equal(end, 7);
    const changes = await readChanges(kafka, "kt", end);
    assertDense(changes, 7, "kt");
    assert.deepEqual(
      changes.map((c) => [c.key, c.op, c.value === null ? null : JSON.parse(c.value)]),
      [
        ["a", "put", { n: 1, id: "a" }],
        ["a", "patch", { n: 1, id: "a", m: "x" }],
        ["a", "delete", null],
        ["b/é", "put", { id: "b/é", n: 2 }],
        ["c", "put", { id: "c", n: 3 }],
        ["c", "patch", { id: "c", n: 4 }],
        ["c", "delete", null],
      ],
    );
    assert.deepEqual([va, vPatch, vb], [0, 1, 3]);
    // The value is the record's JSON exactly as the REST API returns it.
    const b = await fetch(`${server.httpUrl}/kt/${encodeURIComponent("b/é")}`);
    assert.equal(await b.text(), changes[3]!.value);
  });

  it("Kafka clients cannot write the topic, delete it or add partitions (POLICY_VIOLATION)", async () => {
    const end = await endOffset("kt");
    await assert.rejects(
      producer.send({ topic: "kt", messages: [{ key: "a", value: '{"id":"a"}' }] }),
      (err: unknown) => errorType(err) === "POLICY_VIOLATION",
    );
    await assert.rejects(
      admin.deleteTopics({ topics: ["kt"], timeout: 5000 }),
      (err: unknown) =>
        JSON.stringify(err, Object.getOwnPropertyNames(err)).includes("POLICY_VIOLATION") ||
        errorType(err) === "POLICY_VIOLATION",
    );
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: "kt", count: 2 }] }),
      (err: unknown) =>
        JSON.stringify(err, Object.getOwnPropertyNames(err)).includes("POLICY_VIOLATION") ||
        errorType(err) === "POLICY_VIOLATION",
    );
    // Nothing changed: the topic, its one partition, and the table.
    assert.equal(await endOffset("kt"), end);
    assert.ok((await admin.listTopics()).includes("kt"));
    assert.equal((await admin.fetchTopicMetadata({ topics: ["kt"] })).topics[0]!.partitions.length, 1);
    assert.equal(await send("PUT", "/kt/after", { n: 1 }), 204);
    assert.equal(await endOffset("kt"), end + 1);
  });

  it("a transactional producer cannot put records (or markers) into the topic", async () => {
    const end = await endOffset("kt");
    const tp = kafka.producer({
      transactionalId: "tables-kafka-txn",
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await tp.connect();
    try {
      const txn = await tp.transaction();
      await assert.rejects(txn.send({ topic: "kt", messages: [{ key: "x", value: "{}" }] }));
      await txn.abort().catch(() => {});
    } finally {
      await tp.disconnect().catch(() => {});
    }
    // The topic holds the table's records only: an abort marker would take an offset of its own.
    assert.equal(await endOffset("kt"), end);
    assert.equal(await send("PUT", "/kt/after-txn", { n: 1 }), 204);
    assert.equal((await record("/kt/after-txn"))!.version, end);
  });

  it("create_table over an existing topic is 409; drop_table deletes the topic too", async () => {
    await admin.createTopics({ topics: [{ topic: "plain-topic", numPartitions: 1 }] });
    const res = await fetch(`${server.httpUrl}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ operation: "create_table", table: "plain-topic" }),
    });
    assert.equal(res.status, 409);
    assert.match(String(((await res.json()) as Json).error), /a topic named plain-topic exists/);
    // Producing to the plain topic still works: it is no table's.
    await producer.send({ topic: "plain-topic", messages: [{ value: "x" }] });

    await op({ operation: "create_table", table: "droppy" });
    assert.equal(await send("PUT", "/droppy/x", { v: 1 }), 204);
    assert.ok((await admin.listTopics()).includes("droppy"));
    await op({ operation: "drop_table", table: "droppy" });
    assert.equal((await admin.listTopics()).includes("droppy"), false);
    // Made again: a fresh topic, offsets from 0, no old records.
    await op({ operation: "create_table", table: "droppy" });
    assert.equal(await endOffset("droppy"), 0);
    assert.equal(await send("PUT", "/droppy/y", { v: 2 }), 204);
    const changes = await readChanges(kafka, "droppy", 1);
    assert.deepEqual(
      changes.map((c) => [c.offset, c.key, c.value]),
      [[0, "y", '{"v":2,"id":"y"}']],
    );
    assert.equal(await record("/droppy/x"), undefined);
  });

  it("50 concurrent PUTs to distinct ids and 50 to one id: one change record each, the last one wins", async () => {
    await op({ operation: "create_table", table: "conc" });
    const distinct = Array.from({ length: 50 }, (_, i) => send("PUT", `/conc/d${i}`, { i }));
    const same = Array.from({ length: 50 }, (_, i) => send("PUT", "/conc/same", { w: i }));
    assert.deepEqual(await Promise.all([...distinct, ...same]), Array(100).fill(204));

    const end = await endOffset("conc");
    assert.equal(end, 100, "one change record per acknowledged write");
    const changes = await readChanges(kafka, "conc", end);
    assertDense(changes, 100, "conc");
    assert.ok(changes.every((c) => c.op === "put"));
    for (let i = 0; i < 50; i++) {
      const mine = changes.filter((c) => c.key === `d${i}`);
      assert.equal(mine.length, 1, `d${i}`);
      assert.deepEqual(JSON.parse(mine[0]!.value!), { i, id: `d${i}` });
      assert.deepEqual(await record(`/conc/d${i}`), { value: { i, id: `d${i}` }, version: mine[0]!.offset });
    }
    const sameChanges = changes.filter((c) => c.key === "same");
    // Every write to the one id is there once...
    assert.deepEqual(
      sameChanges.map((c) => (JSON.parse(c.value!) as Json).w).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 50 }, (_, i) => i),
    );
    // ...and the record holds the last of them in commit order, at its offset.
    const last = sameChanges[sameChanges.length - 1]!;
    assert.deepEqual(await record("/conc/same"), { value: JSON.parse(last.value!), version: last.offset });
  });

  it("an Operations API call's records take one contiguous range of offsets, even among concurrent writes", async () => {
    await op({ operation: "create_table", table: "atomic" });
    let stop = false;
    let others = 0;
    const background = (async () => {
      const workers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          assert.equal(await send("PUT", `/atomic/bg${w}-${i % 5}`, { w, i }), 204);
          others++;
        }
      });
      await Promise.all(workers);
    })();
    await new Promise((r) => setTimeout(r, 50));
    const upsert = op({
      operation: "upsert",
      table: "atomic",
      records: Array.from({ length: 500 }, (_, i) => ({ id: `up${i}`, i })),
    });
    const insert = op({
      operation: "insert",
      table: "atomic",
      records: Array.from({ length: 300 }, (_, i) => ({ id: `in${i}`, i })),
    });
    const [u, ins] = await Promise.all([upsert, insert]);
    await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await background;
    assert.equal((u.upserted_hashes as string[]).length, 500);
    assert.equal((ins.inserted_hashes as string[]).length, 300);
    assert.ok(others > 0, "background writes ran");

    const end = await endOffset("atomic");
    assert.equal(end, 800 + others);
    const changes = await readChanges(kafka, "atomic", end);
    assertDense(changes, end, "atomic");
    for (const [prefix, n] of [
      ["up", 500],
      ["in", 300],
    ] as const) {
      const offsets = changes.filter((c) => c.key.startsWith(prefix)).map((c) => c.offset);
      assert.equal(offsets.length, n, prefix);
      assert.equal(offsets[n - 1]! - offsets[0]! + 1, n, `${prefix}: contiguous offsets`);
      // In the order of the call's records.
      const keys = changes.filter((c) => c.key.startsWith(prefix)).map((c) => c.key);
      assert.deepEqual(
        keys,
        Array.from({ length: n }, (_, i) => `${prefix}${i}`),
      );
      // Each record's version is its change record's offset.
      assert.equal((await record(`/atomic/${prefix}7`))!.version, offsets[7]);
    }
  });

  it("a kafkajs consumer follows the topic while REST writes happen", async () => {
    await op({ operation: "create_table", table: "follow" });
    const consumer = kafka.consumer({ groupId: "follow-group", maxWaitTimeInMs: 100 });
    const got: Change[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: "follow", fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push({
            offset: Number(message.offset),
            key: String(message.key),
            value: message.value === null ? null : String(message.value),
            op: String(message.headers?.op),
          });
        },
      });
      const writes: Promise<number>[] = [];
      for (let i = 0; i < 60; i++) {
        writes.push(send("PUT", `/follow/k${i % 20}`, { i }));
        if (i % 10 === 9) {
          assert.deepEqual(await Promise.all(writes.splice(0)), Array(10).fill(204));
          await send("DELETE", `/follow/k${i % 20}`);
        }
      }
      const deadline = Date.now() + 30_000;
      while (got.length < 66) {
        assert.ok(Date.now() < deadline, `consumer got ${got.length} of 66`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await consumer.disconnect();
    }
    assertDense(got, 66, "follow");
    // Replaying the topic gives the table's state.
    const state = new Map<string, string>();
    for (const c of got) {
      if (c.value === null) state.delete(c.key);
      else state.set(c.key, c.value);
    }
    const rows = (await (await fetch(`${server.httpUrl}/follow/`)).json()) as Json[];
    assert.deepEqual(new Map(rows.map((r) => [String(r.id), JSON.stringify(r)])), state);
    assert.equal(got.filter((c) => c.op === "delete").length, 6);
  });

  it("acknowledged PUTs survive SIGKILL, with a change record each at dense offsets", async () => {
    const crash = await startServer({ http: true });
    try {
      const url = crash.httpUrl;
      const put = async (path: string, body: Json) => {
        const res = await fetch(`${url}${path}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        await res.text();
        return res.status;
      };
      const created = await fetch(`${url}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ operation: "create_table", table: "crash" }),
      });
      assert.equal(created.status, 200);
      const ids = Array.from({ length: 24 }, (_, i) => `c${i}`);
      /** Per id: the last seq answered 204, and the one sent after it (maybe written). */
      const acked = new Map<string, number>(ids.map((id) => [id, -1]));
      let killed = false;
      const writers = ids.map(async (id) => {
        for (let seq = 0; !killed; seq++) {
          let status: number;
          try {
            status = await put(`/crash/${id}`, { seq, pad: "x".repeat(seq % 7) });
          } catch {
            return; // the connection died with the server
          }
          if (status !== 204) return;
          acked.set(id, seq);
        }
      });
      await new Promise((r) => setTimeout(r, 700));
      killed = true;
      await crash.kill();
      await Promise.all(writers);
      const ackedCount = [...acked.values()].reduce((a, n) => a + n + 1, 0);
      assert.ok(ackedCount > 50, `only ${ackedCount} writes were acknowledged before the kill`);

      await crash.start();
      const k = kafkaClient(crash.kafkaAddress);
      const a = k.admin();
      await a.connect();
      let end: number;
      try {
        end = Number((await a.fetchTopicOffsets("crash"))[0]!.high);
      } finally {
        await a.disconnect();
      }
      const changes = await readChanges(k, "crash", end);
      assertDense(changes, end, "crash");
      assert.ok(end >= ackedCount, `${end} change records for ${ackedCount} acknowledged writes`);
      assert.ok(end <= ackedCount + ids.length, `${end} change records, at most one unacknowledged per id`);
      for (const id of ids) {
        const mine = changes
          .filter((c) => c.key === id)
          .map((c) => (JSON.parse(c.value!) as Json).seq as number);
        const last = acked.get(id)!;
        // Every acknowledged write of the id is in the topic once, in order; at most the one
        // write in flight at the kill follows.
        assert.deepEqual(
          mine.slice(0, last + 1),
          Array.from({ length: last + 1 }, (_, i) => i),
          id,
        );
        assert.ok(
          mine.length === last + 1 || mine.length === last + 2,
          `${id}: ${mine.length} records, ${last} acked`,
        );
        const res = await fetch(`${crash.httpUrl}/crash/${id}`);
        const text = await res.text();
        if (last < 0 && mine.length === 0) {
          assert.equal(res.status, 404, id);
          continue;
        }
        assert.equal(res.status, 200, `${id}: ${text}`);
        const row = JSON.parse(text) as Json;
        // The row is the last change record of its key: durable together or not at all.
        assert.equal(row.seq, mine[mine.length - 1], id);
        const lastOffset = changes.filter((c) => c.key === id).pop()!.offset;
        assert.equal(res.headers.get("etag"), `"${lastOffset}"`, id);
      }
      // Writes go on after the restart, at the next offset.
      assert.equal(await put("/crash/after", { ok: true }), 204);
      const res = await fetch(`${crash.httpUrl}/crash/after`);
      await res.text();
      assert.equal(res.headers.get("etag"), `"${end}"`);
    } finally {
      await crash.dispose();
    }
  });
});
