/**
 * kafkajs producer and consumer against a real server: keys, headers, explicit and
 * key-hashed partitions, consumer groups from the beginning, committed offsets, watermarks,
 * gzip batches, latest-offset consumers, seek, and deleteTopicRecords.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin, type Consumer, type Kafka, type KafkaMessage, type Producer } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

const { CompressionTypes } = kafkajs;

interface Got {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

function toGot(partition: number, m: KafkaMessage): Got {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
  return {
    partition,
    offset: Number(m.offset),
    key: m.key ? m.key.toString() : null,
    value: m.value!.toString(),
    headers,
  };
}

describe("kafkajs produce and consume", { timeout: 120_000 }, () => {
  let server: TestServer;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const consumers: Consumer[] = [];

  function consumer(groupId: string): Consumer {
    const c = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    consumers.push(c);
    return c;
  }

  /** Runs a group consumer and collects every message it sees. */
  async function consume(topic: string, groupId: string, fromBeginning: boolean) {
    const c = consumer(groupId);
    const got: Got[] = [];
    let fetches = 0;
    c.on(c.events.FETCH, () => fetches++);
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        got.push(toGot(partition, message));
      },
    });
    return { consumer: c, got, fetches: () => fetches };
  }

  before(async () => {
    server = await startServer();
    kafka = kafkaClient(server.kafkaAddress);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await producer?.disconnect();
    await admin?.disconnect();
    await server?.dispose();
  });

  it("keys, headers and partitions round-trip through a consumer group; offsets are dense", async () => {
    const topic = "pc-roundtrip";
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const sent: { key: string; value: string; headers: Record<string, string>; partition?: number }[] = [];
    // Explicit partitions.
    for (let i = 0; i < 30; i++) {
      sent.push({
        key: `ek-${i}`,
        value: `explicit-${i}`,
        headers: { i: String(i), kind: "explicit" },
        partition: i % 3,
      });
    }
    // Key-hashed: 10 keys, 4 messages each.
    for (let i = 0; i < 40; i++) {
      sent.push({ key: `hk-${i % 10}`, value: `hashed-${i}`, headers: { i: String(i), kind: "hashed" } });
    }
    const results = [];
    for (let i = 0; i < sent.length; i += 10) {
      results.push(...(await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 10) })));
    }
    for (const r of results) assert.equal(r.errorCode, 0);

    const { consumer: c, got } = await consume(topic, "pc-roundtrip-group", true);
    await waitFor(
      () => got.length >= sent.length,
      30_000,
      () => `${sent.length} messages, got ${got.length}`,
    );

    // Every message exactly once, with its key and headers.
    const byValue = new Map(got.map((g) => [g.value, g]));
    assert.equal(byValue.size, got.length, "a message was delivered twice");
    assert.equal(got.length, sent.length);
    for (const s of sent) {
      const g = byValue.get(s.value);
      assert.ok(g, `missing ${s.value}`);
      assert.equal(g.key, s.key);
      assert.deepEqual(g.headers, s.headers);
      if (s.partition !== undefined) assert.equal(g.partition, s.partition, s.value);
    }
    // Key hashing: one partition per key, and the 10 keys spread over more than one partition.
    const keyPartitions = new Map<string, Set<number>>();
    for (const g of got.filter((x) => x.key?.startsWith("hk-"))) {
      keyPartitions.set(g.key!, (keyPartitions.get(g.key!) ?? new Set()).add(g.partition));
    }
    assert.equal(keyPartitions.size, 10);
    for (const [k, ps] of keyPartitions) assert.equal(ps.size, 1, `key ${k} in partitions ${[...ps]}`);
    assert.ok(
      new Set([...keyPartitions.values()].map((s) => [...s][0])).size > 1,
      "all keys hashed to one partition",
    );

    // Per partition: offsets are dense from 0, and delivered in order.
    const ends: Record<number, number> = {};
    for (const p of [0, 1, 2]) {
      const offs = got.filter((g) => g.partition === p).map((g) => g.offset);
      assert.deepEqual(offs, [...Array(offs.length).keys()], `partition ${p} offsets`);
      ends[p] = offs.length;
    }

    // Watermarks match what was consumed.
    const wm = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      Object.fromEntries(wm.map((o) => [o.partition, [o.low, o.high]])),
      Object.fromEntries([0, 1, 2].map((p) => [p, ["0", String(ends[p])]])),
    );

    // The group's committed offsets equal the end offsets once the consumer leaves.
    await c.disconnect();
    const committed = await admin.fetchOffsets({ groupId: "pc-roundtrip-group", topics: [topic] });
    assert.deepEqual(
      Object.fromEntries(committed[0].partitions.map((p) => [p.partition, p.offset])),
      Object.fromEntries([0, 1, 2].map((p) => [p, String(ends[p])])),
    );
  });

  it("gzip batches produce and consume", async () => {
    const topic = "pc-gzip";
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const values = Array.from({ length: 200 }, (_, i) => `gzip-${i}-${"x".repeat(i % 50)}`);
    for (let i = 0; i < values.length; i += 50) {
      const res = await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: values
          .slice(i, i + 50)
          .map((v, j) => ({ key: `k${j}`, value: v, partition: (i / 50) % 2 })),
      });
      assert.equal(res[0].errorCode, 0);
    }
    const { got } = await consume(topic, "pc-gzip-group", true);
    await waitFor(
      () => got.length >= values.length,
      30_000,
      () => `${values.length} messages, got ${got.length}`,
    );
    assert.deepEqual(got.map((g) => g.value).sort(), [...values].sort());
    for (const p of [0, 1]) {
      const offs = got.filter((g) => g.partition === p).map((g) => g.offset);
      assert.deepEqual(offs, [...Array(100).keys()], `partition ${p} offsets`);
    }
  });

  it("a new group with fromBeginning: false only gets messages produced after it started", async () => {
    const topic = "pc-latest";
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 20 }, (_, i) => ({ value: `old-${i}`, partition: i % 2 })),
    });
    const { got, fetches } = await consume(topic, "pc-latest-group", false);
    // Once it has fetched, its position is resolved to the end of the log.
    await waitFor(
      () => fetches() >= 2,
      30_000,
      () => "the consumer to fetch",
    );
    const fresh = Array.from({ length: 10 }, (_, i) => `new-${i}`);
    await producer.send({
      topic,
      acks: -1,
      messages: fresh.map((value, i) => ({ value, partition: i % 2 })),
    });
    await waitFor(
      () => got.length >= fresh.length,
      30_000,
      () => `${fresh.length} messages, got ${got.length}`,
    );
    assert.deepEqual(got.map((g) => g.value).sort(), [...fresh].sort());
    for (const g of got) assert.ok(g.offset >= 10, `offset ${g.offset} is from before the consumer started`);
  });

  it("seek re-reads a partition from the given offset", async () => {
    const topic = "pc-seek";
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `s-${i}` })),
    });
    const { consumer: c, got } = await consume(topic, "pc-seek-group", true);
    await waitFor(
      () => got.length >= 10,
      30_000,
      () => `10 messages, got ${got.length}`,
    );
    assert.deepEqual(
      got.map((g) => g.offset),
      [...Array(10).keys()],
    );
    c.seek({ topic, partition: 0, offset: "6" });
    await waitFor(
      () => got.length >= 14,
      30_000,
      () => `4 more messages after seek, got ${got.length}`,
    );
    assert.deepEqual(
      got.slice(10).map((g) => [g.offset, g.value]),
      [6, 7, 8, 9].map((o) => [o, `s-${o}`]),
    );
  });

  it("deleteTopicRecords moves the low watermark; a new group starts there", async () => {
    const topic = "pc-delete-records";
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 20 }, (_, i) => ({
        value: `d-${i % 2}-${Math.floor(i / 2)}`,
        partition: i % 2,
      })),
    });
    // kafkajs looks partition leaders up in its metadata cache, so load the topic into it first.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "7" }] });
    const wm = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(Object.fromEntries(wm.map((o) => [o.partition, [o.low, o.high]])), {
      0: ["7", "10"],
      1: ["0", "10"],
    });
    const { got } = await consume(topic, "pc-delete-records-group", true);
    await waitFor(
      () => got.length >= 13,
      30_000,
      () => `13 messages, got ${got.length}`,
    );
    assert.deepEqual(
      got.filter((g) => g.partition === 0).map((g) => [g.offset, g.value]),
      [7, 8, 9].map((o) => [o, `d-0-${o}`]),
    );
    assert.deepEqual(
      got.filter((g) => g.partition === 1).map((g) => g.offset),
      [...Array(10).keys()],
    );
    assert.equal(got.length, 13);
  });
});
