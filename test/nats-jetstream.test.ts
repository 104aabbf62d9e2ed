/**
 * JetStream streams on the log, through @nats-io/jetstream and kafkajs against a real server:
 * the stream API, publishes acknowledged with their sequence, Nats-Msg-Id dedupe (also across a
 * SIGKILL), one log read from both sides (a NATS publish is a Kafka record with the subject as
 * key and the headers as record headers; a Kafka record is a stream message), purge and delete
 * from either side, and the refusals for what a log does not offer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JetStreamApiError, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import type { Kafka } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

interface KafkaRec {
  offset: number;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** The first `count` records of partition 0 of `topic`, read with a fresh kafkajs group. */
async function readKafka(kafka: Kafka, topic: string, count: number): Promise<KafkaRec[]> {
  const consumer = kafka.consumer({
    groupId: `js-${Math.random().toString(36).slice(2)}`,
    maxWaitTimeInMs: 100,
  });
  const out: KafkaRec[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${out.length} of ${count} from ${topic}`)),
        20_000,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            out.push({
              offset: Number(message.offset),
              key: String(message.key),
              value: String(message.value),
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
              ),
            });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe("JetStream streams on the log", { timeout: 120_000 }, () => {
  let server: TestServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let kafka: Kafka;

  const reconnect = async () => {
    nc = await connect({ servers: server.natsAddress, maxReconnectAttempts: 0 });
    jsm = await jetstreamManager(nc);
  };

  before(async () => {
    server = await startServer({ nats: true });
    kafka = kafkaClient(server.kafkaAddress);
    await reconnect();
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await server?.dispose();
  });

  it("creates, lists, describes and refuses conflicting streams", async () => {
    const si = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    assert.equal(si.config.name, "ORDERS");
    assert.deepEqual(si.config.subjects, ["orders.>"]);
    assert.equal(si.config.duplicate_window, 120e9);
    assert.deepEqual([si.state.messages, si.state.first_seq, si.state.last_seq], [0, 0, 0]);
    // The same config again is not an error; a different one under the name is.
    assert.equal((await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] })).config.name, "ORDERS");
    await assert.rejects(jsm.streams.add({ name: "ORDERS", subjects: ["other.>"] }), (e: Error) => {
      assert.ok(e instanceof JetStreamApiError && e.code === 10058, e.message);
      return true;
    });
    await assert.rejects(jsm.streams.add({ name: "EU", subjects: ["orders.eu.*"] }), /subjects overlap/);
    assert.deepEqual(await jsm.streams.names().next(), ["ORDERS"]);
    assert.deepEqual(
      (await jsm.streams.list().next()).map((s) => s.config.name),
      ["ORDERS"],
    );
    // A stream is a Kafka topic of the same name.
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.ok((await admin.listTopics()).includes("ORDERS"));
    } finally {
      await admin.disconnect();
    }
  });

  it("refuses what a log does not offer, saying what", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ storage: "memory" }, /memory storage/],
      [{ max_msgs: 10 }, /max_msgs/],
      [{ retention: "workqueue" }, /retention/],
      [{ discard: "new" }, /discard/],
      [{ num_replicas: 3 }, /replicas/],
      [{ subjects: ["$JS.API.>"] }, /JetStream's API/],
      [{ name: "bad*" }, /stream name/],
    ];
    for (const [extra, why] of cases) {
      const cfg = { name: "REFUSED", subjects: ["refused.>"], ...extra };
      await assert.rejects(
        nc.request(`$JS.API.STREAM.CREATE.${cfg.name}`, JSON.stringify(cfg)).then((m) => {
          const r = m.json<{ error?: { description: string } }>();
          if (r.error) throw new Error(r.error.description);
        }),
        why,
        JSON.stringify(extra),
      );
    }
  });

  it("acknowledges publishes with their sequence and stores a message id once", async () => {
    const js = jetstream(nc);
    const a = await js.publish("orders.eu.1", "one", { msgID: "m-1" });
    const b = await js.publish("orders.us.2", "two", { msgID: "m-2" });
    const again = await js.publish("orders.eu.1", "one, resent", { msgID: "m-1" });
    assert.deepEqual([a.seq, a.duplicate, b.seq, b.duplicate], [1, false, 2, false]);
    assert.deepEqual([again.seq, again.duplicate, again.stream], [1, true, "ORDERS"]);
    // Concurrent publishes of one new id: one stored, all answered with its sequence.
    const racing = await Promise.all(
      Array.from({ length: 20 }, () => js.publish("orders.eu.3", "three", { msgID: "m-3" })),
    );
    assert.deepEqual(new Set(racing.map((r) => r.seq)), new Set([3]));
    assert.equal(racing.filter((r) => !r.duplicate).length, 1);
    // A core NATS publish (no reply subject) to a stream subject is stored too.
    nc.publish("orders.eu.4", "four");
    await nc.flush();
    const c = await js.publish("orders.eu.5", "five");
    assert.equal(c.seq, 5);
    const info = await jsm.streams.info("ORDERS");
    assert.deepEqual([info.state.messages, info.state.first_seq, info.state.last_seq], [5, 1, 5]);
    const m = (await jsm.streams.getMessage("ORDERS", { seq: 2 }))!;
    assert.deepEqual([m.subject, m.string(), m.header?.get("Nats-Msg-Id")], ["orders.us.2", "two", "m-2"]);
  });

  it("checks Nats-Expected-Stream and Nats-Expected-Last-Sequence", async () => {
    const js = jetstream(nc);
    await assert.rejects(js.publish("orders.x", "x", { expect: { streamName: "OTHER" } }), /expected stream/);
    await assert.rejects(
      js.publish("orders.x", "x", { expect: { lastSequence: 2 } }),
      /wrong last sequence: 5/,
    );
    const ok = await js.publish("orders.x", "x", { expect: { streamName: "ORDERS", lastSequence: 5 } });
    assert.equal(ok.seq, 6);
  });

  it("is one log: Kafka reads NATS publishes (subject as key, headers kept) and NATS sees Kafka records", async () => {
    const recs = await readKafka(kafka, "ORDERS", 6);
    assert.deepEqual(
      recs.map((r) => [r.offset, r.key, r.value, r.headers["Nats-Msg-Id"] ?? null]),
      [
        [0, "orders.eu.1", "one", "m-1"],
        [1, "orders.us.2", "two", "m-2"],
        [2, "orders.eu.3", "three", "m-3"],
        [3, "orders.eu.4", "four", null],
        [4, "orders.eu.5", "five", null],
        [5, "orders.x", "x", null],
      ],
    );
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: "ORDERS",
        acks: -1,
        messages: [{ key: "orders.kafka", value: "from kafka" }],
      });
    } finally {
      await producer.disconnect();
    }
    const m = (await jsm.streams.getMessage("ORDERS", { seq: 7 }))!;
    assert.deepEqual([m.subject, m.string()], ["orders.kafka", "from kafka"]);
    const next = await jetstream(nc).publish("orders.eu.8", "eight");
    assert.equal(next.seq, 8);
  });

  it("answers a retried publish as a duplicate whatever it expects, and treats an empty id as none", async () => {
    const js = jetstream(nc);
    const first = await js.publish("orders.retry", "r", { msgID: "m-retry", expect: { lastSequence: 8 } });
    assert.equal(first.seq, 9);
    // The retry of a stored publish: its expectation is stale now, but it is a duplicate.
    const retry = await js.publish("orders.retry", "r", { msgID: "m-retry", expect: { lastSequence: 8 } });
    assert.deepEqual([retry.seq, retry.duplicate], [9, true]);
    const h1 = headers();
    h1.set("Nats-Msg-Id", "");
    const h2 = headers();
    h2.set("Nats-Msg-Id", "");
    const e1 = await js.publish("orders.empty", "e1", { headers: h1 });
    const e2 = await js.publish("orders.empty", "e2", { headers: h2 });
    assert.deepEqual([e1.seq, e2.seq, e2.duplicate], [10, 11, false]);
  });

  it("keeps a stream's topic as the stream shapes it, and serializes racing changes", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await assert.rejects(
        admin.createPartitions({ topicPartitions: [{ topic: "ORDERS", count: 3 }] }),
        /policy/i,
      );
      await assert.rejects(
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: 2, name: "ORDERS", configEntries: [{ name: "retention.ms", value: "1000" }] }],
        }),
        /policy/i,
      );
    } finally {
      await admin.disconnect();
    }
    // A purge with a fractional sequence is refused, and Kafka still reads the topic.
    const r = await nc.request("$JS.API.STREAM.PURGE.ORDERS", JSON.stringify({ seq: 2.5 }));
    assert.match(r.json<{ error: { description: string } }>().error.description, /integer/);
    const producerReads = await readKafka(kafka, "ORDERS", 1);
    assert.equal(producerReads[0]!.offset, 0);
    // An update and a create claiming the same new subjects, racing: exactly one wins.
    await jsm.streams.add({ name: "RACE_A", subjects: ["race.a.>"] });
    const results = await Promise.allSettled([
      jsm.streams.update("RACE_A", { subjects: ["race.a.>", "race.x.>"] }),
      jsm.streams.add({ name: "RACE_B", subjects: ["race.x.*"] }),
    ]);
    assert.equal(results.filter((x) => x.status === "fulfilled").length, 1, JSON.stringify(results));
    const raced = await jetstream(nc).publish("race.x.1", "once");
    assert.ok(["RACE_A", "RACE_B"].includes(raced.stream));
    const a = (await jsm.streams.info("RACE_A")).state.messages;
    const b = await jsm.streams.info("RACE_B").then(
      (i) => i.state.messages,
      () => 0,
    );
    assert.equal(a + b, 1);
    // An update racing a delete: the stream ends up deleted, not half there.
    await Promise.allSettled([
      jsm.streams.update("RACE_A", { subjects: ["race.a.>", "race.y.>"] }),
      jsm.streams.delete("RACE_A"),
    ]);
    await assert.rejects(jsm.streams.info("RACE_A"), /stream not found/);
    await jsm.streams.delete("RACE_B").catch(() => undefined);
    // Without a window of its own, a short-lived stream keeps ids for its max_age.
    const short = await jsm.streams.add({ name: "SHORT", subjects: ["short.>"], max_age: 1e9 });
    assert.equal(short.config.duplicate_window, 1e9);
    await jsm.streams.delete("SHORT");
  });

  it("keeps acknowledged messages and the dedupe window across a SIGKILL", async () => {
    const js = jetstream(nc);
    const acked = await js.publish("orders.eu.9", "nine", { msgID: "m-9" });
    assert.equal(acked.seq, 12);
    await nc.close();
    await server.kill();
    await server.start();
    await reconnect();
    const again = await jetstream(nc).publish("orders.eu.9", "nine, resent", { msgID: "m-9" });
    assert.deepEqual([again.seq, again.duplicate], [12, true]);
    const m1 = await jetstream(nc).publish("orders.eu.1", "one, resent after restart", { msgID: "m-1" });
    assert.deepEqual([m1.seq, m1.duplicate], [1, true]);
    const info = await jsm.streams.info("ORDERS");
    assert.deepEqual([info.state.messages, info.state.last_seq], [12, 12]);
    const m = (await jsm.streams.getMessage("ORDERS", { seq: 12 }))!;
    assert.equal(m.string(), "nine");
  });

  it("purges a prefix, and deletes from either side", async () => {
    const purged = await jsm.streams.purge("ORDERS", { seq: 4 });
    assert.deepEqual([purged.success, purged.purged], [true, 3]);
    const info = await jsm.streams.info("ORDERS");
    assert.deepEqual([info.state.messages, info.state.first_seq, info.state.last_seq], [9, 4, 12]);
    // Not found (err_code 10037): the client answers null.
    assert.equal(await jsm.streams.getMessage("ORDERS", { seq: 2 }), null);
    assert.equal(await jsm.streams.delete("ORDERS"), true);
    await assert.rejects(jsm.streams.info("ORDERS"), /stream not found/);
    // Published now, nothing captures it: no responders, which nats.js reports as JetStream off.
    const h = headers();
    h.set("Nats-Msg-Id", "late");
    await assert.rejects(
      jetstream(nc).publish("orders.eu.10", "ten", { headers: h, timeout: 1000 }),
      /no responders|jetstream is not enabled/i,
    );
    // Deleting the topic through Kafka deletes the stream.
    await jsm.streams.add({ name: "LOGS", subjects: ["logs.*"] });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: ["LOGS"] });
    } finally {
      await admin.disconnect();
    }
    await assert.rejects(jsm.streams.info("LOGS"), /stream not found/);
    assert.deepEqual(await jsm.streams.names().next(), []);
  });
});
