/**
 * JetStream pull consumers on the log, through @nats-io/jetstream against a real server: batches
 * in order with their ack subjects, double acks confirmed after the acks are durable, redelivery
 * after ack_wait and after a NAK, filters, expiring pulls, Kafka records delivered to NATS
 * consumers, and (the point of acks) across a SIGKILL an acknowledged message is never delivered
 * again while an unacknowledged one is.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

/** One fetch: every message it yields (acked by `onMsg`), as "seq:subject:data:deliveries". */
async function fetchAll(
  c: Consumer,
  max: number,
  onMsg: (m: JsMsg) => Promise<void> | void = (m) => m.ack(),
  expires = 1000,
): Promise<string[]> {
  const out: string[] = [];
  for await (const m of await c.fetch({ max_messages: max, expires })) {
    out.push(`${m.seq}:${m.subject}:${m.string()}:${m.info.deliveryCount}`);
    await onMsg(m);
  }
  return out;
}

describe("JetStream pull consumers on the log", { timeout: 120_000 }, () => {
  let server: TestServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  const reconnect = async () => {
    nc = await connect({ servers: server.natsAddress, maxReconnectAttempts: 0 });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  };

  before(async () => {
    server = await startServer({ nats: true });
    await reconnect();
    await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
    for (let i = 1; i <= 30; i++) await js.publish(`jobs.${i % 2 ? "odd" : "even"}`, `j${i}`);
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await server?.dispose();
  });

  it("delivers batches in order with ack subjects, and double acks are confirmed", async () => {
    await jsm.consumers.add("JOBS", {
      durable_name: "all",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const c = await js.consumers.get("JOBS", "all");
    const first = await fetchAll(c, 10, (m) => m.ackAck().then((ok) => assert.equal(ok, true)));
    assert.deepEqual(
      first,
      Array.from({ length: 10 }, (_, i) => `${i + 1}:jobs.${(i + 1) % 2 ? "odd" : "even"}:j${i + 1}:1`),
    );
    const info = await c.info();
    assert.deepEqual([info.ack_floor.stream_seq, info.num_ack_pending, info.num_pending], [10, 0, 20]);
    assert.equal(info.delivered.stream_seq, 10);
    assert.equal((await jsm.streams.info("JOBS")).state.consumer_count, 1);
  });

  it("filters by subject and ends a pull that expires with what it found", async () => {
    await jsm.consumers.add("JOBS", {
      durable_name: "odd",
      filter_subject: "jobs.odd",
      ack_policy: AckPolicy.Explicit,
    });
    const c = await js.consumers.get("JOBS", "odd");
    const got = await fetchAll(c, 100);
    assert.deepEqual(
      got.map((g) => g.split(":")[2]),
      Array.from({ length: 15 }, (_, i) => `j${2 * i + 1}`),
    );
    const t0 = Date.now();
    assert.deepEqual(await fetchAll(c, 5), []);
    assert.ok(Date.now() - t0 < 5000, "an expired pull ends");
  });

  it("delivers again after ack_wait and after a NAK, counting deliveries", async () => {
    await jsm.consumers.add("JOBS", {
      durable_name: "slow",
      ack_policy: AckPolicy.Explicit,
      ack_wait: 1e9,
      filter_subject: "jobs.even",
    });
    const c = await js.consumers.get("JOBS", "slow");
    // Take two, ack neither: after ack_wait (1 s) they come again, marked redelivered.
    assert.deepEqual(await fetchAll(c, 2, () => {}), ["2:jobs.even:j2:1", "4:jobs.even:j4:1"]);
    await new Promise((r) => setTimeout(r, 1300));
    assert.deepEqual(await fetchAll(c, 2, (m) => m.nak()), ["2:jobs.even:j2:2", "4:jobs.even:j4:2"]);
    // NAKed: delivered again at once.
    assert.deepEqual(await fetchAll(c, 2), ["2:jobs.even:j2:3", "4:jobs.even:j4:3"]);
    assert.deepEqual((await fetchAll(c, 1))[0], "6:jobs.even:j6:1");
  });

  it("delivers records a Kafka producer wrote into the stream", async () => {
    const producer = kafkaClient(server.kafkaAddress).producer();
    await producer.connect();
    try {
      await producer.send({ topic: "JOBS", acks: -1, messages: [{ key: "jobs.odd", value: "from kafka" }] });
    } finally {
      await producer.disconnect();
    }
    const c = await js.consumers.get("JOBS", "odd");
    assert.deepEqual(await fetchAll(c, 1), ["31:jobs.odd:from kafka:1"]);
  });

  it("across a SIGKILL: acknowledged messages are not delivered again, unacknowledged ones are", async () => {
    await jsm.consumers.add("JOBS", { durable_name: "crash", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("JOBS", "crash");
    // Double-ack the odd sequences of the first 10; leave the even ones unacknowledged.
    const first = await fetchAll(c, 10, async (m) => {
      if (m.seq % 2 === 1) assert.equal(await m.ackAck(), true);
    });
    assert.equal(first.length, 10);
    await nc.close();
    await server.kill();
    await server.start();
    await reconnect();
    const again = await js.consumers.get("JOBS", "crash");
    const seqs = (await fetchAll(again, 30)).map((g) => Number(g.split(":")[0]));
    assert.deepEqual(seqs, [2, 4, 6, 8, 10, ...Array.from({ length: 21 }, (_, i) => 11 + i)]);
    const info = await again.info();
    assert.deepEqual([info.ack_floor.stream_seq, info.num_ack_pending], [31, 0]);
    // The other durable consumers survived the restart too.
    assert.deepEqual((await jsm.consumers.list("JOBS").next()).map((x) => x.name).sort(), [
      "all",
      "crash",
      "odd",
      "slow",
    ]);
  });

  it("refuses push consumers and unknown consumers clearly; deleting a stream deletes its consumers", async () => {
    await assert.rejects(
      jsm.consumers.add("JOBS", {
        durable_name: "push",
        deliver_subject: "out.x",
        ack_policy: AckPolicy.Explicit,
      }),
      /push consumers are not offered/,
    );
    await assert.rejects(jsm.consumers.info("JOBS", "nope"), /consumer not found/);
    assert.equal(await jsm.consumers.delete("JOBS", "slow"), true);
    await assert.rejects(jsm.consumers.info("JOBS", "slow"), /consumer not found/);
    await jsm.streams.delete("JOBS");
    await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
    assert.deepEqual(await jsm.consumers.list("JOBS").next(), []);
  });
});
