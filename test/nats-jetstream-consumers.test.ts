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

  it("takes an ack for a message delivered before a restart, and never delivers it again", async () => {
    await jsm.consumers.add("JOBS", { durable_name: "late", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("JOBS", "late");
    const subjects: string[] = [];
    assert.equal(
      (
        await fetchAll(
          c,
          3,
          (m) =>
            void subjects.push(
              `$JS.ACK.${m.info.stream}.${m.info.consumer}.${m.info.deliveryCount}.${m.info.streamSequence}.${m.info.deliverySequence}.${m.info.timestampNanos}.${m.info.pending}`,
            ),
        )
      ).length,
      3,
    );
    await nc.close();
    await server.kill();
    await server.start();
    await reconnect();
    // Double-ack seq 2 through its old ack subject: confirmed, so it must not come back.
    assert.match(subjects[1] ?? "", /^\$JS\.ACK\.JOBS\.late\.1\.2\./);
    await nc.request(subjects[1]!, "+ACK", { timeout: 5000 });
    const again = await js.consumers.get("JOBS", "late");
    const seqs = (await fetchAll(again, 3)).map((g) => Number(g.split(":")[0]));
    assert.deepEqual(seqs, [1, 3, 4]);
  });

  it("keeps Kafka records it cannot carry whole (binary headers) and skips aborted transactions", async () => {
    await jsm.streams.add({ name: "MIXED", subjects: ["mixed.>"] });
    await js.publish("mixed.a", "first");
    const kafka = kafkaClient(server.kafkaAddress);
    const producer = kafka.producer();
    await producer.connect();
    const tx = kafka.producer({ transactionalId: "mixed-tx", idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    try {
      await producer.send({
        topic: "MIXED",
        acks: -1,
        messages: [
          {
            key: "mixed.k",
            value: "binary header",
            headers: { "schema-id": Buffer.from([0, 10, 13, 1]), ok: "yes" },
          },
        ],
      });
      const t = await tx.transaction();
      await t.send({
        topic: "MIXED",
        messages: [
          { key: "mixed.x", value: "aborted-1" },
          { key: "mixed.x", value: "aborted-2" },
        ],
      });
      await t.abort();
    } finally {
      await tx.disconnect();
      await producer.disconnect();
    }
    await js.publish("mixed.b", "last");
    await jsm.consumers.add("MIXED", { durable_name: "r", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("MIXED", "r");
    const got: string[] = [];
    for await (const m of await c.fetch({ max_messages: 10, expires: 1000 })) {
      got.push(
        `${m.subject}:${m.string()}:${m.headers?.get("ok") ?? ""}:${m.headers?.get("schema-id") ?? ""}`,
      );
      m.ack();
    }
    // The record with a CR in a header value arrives without that header; nothing aborted arrives.
    assert.deepEqual(got, ["mixed.a:first::", "mixed.k:binary header:yes:", "mixed.b:last::"]);
  });

  it("stops after max_deliver, takes one NAK per delivery, and serves ordered and unnamed consumers", async () => {
    await jsm.streams.add({ name: "RETRY", subjects: ["retry.>"] });
    for (let i = 1; i <= 3; i++) await js.publish("retry.x", `r${i}`);
    await jsm.consumers.add("RETRY", {
      durable_name: "md",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 2,
      ack_wait: 500e6,
    });
    const c = await js.consumers.get("RETRY", "md");
    assert.deepEqual(await fetchAll(c, 1, (m) => m.nak()), ["1:retry.x:r1:1"]);
    assert.deepEqual(await fetchAll(c, 1, () => {}), ["1:retry.x:r1:2"]);
    await new Promise((r) => setTimeout(r, 800));
    // Two deliveries were all it may have: it is done, and the next messages flow.
    assert.deepEqual(await fetchAll(c, 2), ["2:retry.x:r2:1", "3:retry.x:r3:1"]);
    assert.equal((await c.info()).num_ack_pending, 0);
    // Several NAKs of one delivery queue it once.
    await jsm.consumers.add("RETRY", { durable_name: "nak", ack_policy: AckPolicy.Explicit });
    const n = await js.consumers.get("RETRY", "nak");
    assert.deepEqual(
      await fetchAll(n, 1, (m) => {
        for (let i = 0; i < 5; i++) m.nak();
      }),
      ["1:retry.x:r1:1"],
    );
    assert.deepEqual(await fetchAll(n, 3), ["1:retry.x:r1:2", "2:retry.x:r2:1", "3:retry.x:r3:1"]);
    // An ordered consumer (ephemeral, no name given) reads the stream in order.
    const ordered = await js.consumers.get("RETRY");
    assert.deepEqual(
      (await fetchAll(ordered, 3, () => {})).map((g) => g.split(":")[2]),
      ["r1", "r2", "r3"],
    );
    const unnamed = await jsm.consumers.add("RETRY", { ack_policy: AckPolicy.Explicit });
    assert.match(unnamed.name, /^[A-Za-z0-9_-]+$/);
    // Pulling from a consumer that does not exist fails at once (no responders), not after expiry.
    await jsm.consumers.delete("RETRY", "nak");
    const t0 = Date.now();
    await assert.rejects(fetchAll(n, 1, () => {}, 5000));
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  it("push consumers deliver to their subject while something listens, one queue member each", async () => {
    await jsm.streams.add({ name: "PUSH", subjects: ["push.>"] });
    for (let i = 1; i <= 6; i++) await js.publish("push.x", `p${i}`);
    await jsm.consumers.add("PUSH", {
      durable_name: "pd",
      deliver_subject: "deliver.pd",
      deliver_group: "workers",
      ack_policy: AckPolicy.Explicit,
      ack_wait: 60e9,
    });
    const got: string[] = [];
    const members = [0, 1].map((i) =>
      nc.subscribe("deliver.pd", {
        queue: "workers",
        callback: (_e, m) => {
          got.push(`${i}:${m.subject}:${m.string()}`);
          m.respond("+ACK");
        },
      }),
    );
    await nc.flush();
    const deadline = Date.now() + 5000;
    while (got.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Each message once, to one member, under its own subject.
    assert.deepEqual(
      got.map((g) => g.split(":").slice(1).join(":")).sort(),
      ["p1", "p2", "p3", "p4", "p5", "p6"].map((v) => `push.x:${v}`),
    );
    // New messages keep coming while they listen.
    await js.publish("push.x", "p7");
    while (got.length < 7 && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 7);
    for (const m of members) m.unsubscribe();
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    const info = await jsm.consumers.info("PUSH", "pd");
    assert.deepEqual([info.ack_floor.stream_seq, info.num_ack_pending], [7, 0]);
    // A pull on a push consumer is refused (409), as nats-server does.
    const refused = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PUSH.pd", JSON.stringify({ batch: 1 }), {
      timeout: 2000,
    });
    assert.deepEqual([refused.headers?.code, refused.headers?.description], [409, "Consumer is push based"]);
    await jsm.streams.delete("PUSH");
  });

  it("refuses what it does not offer and unknown consumers clearly; deleting a stream deletes its consumers", async () => {
    await assert.rejects(
      jsm.consumers.add("JOBS", { durable_name: "fc", flow_control: true, ack_policy: AckPolicy.Explicit }),
      /flow control is for push consumers/,
    );
    await assert.rejects(jsm.consumers.info("JOBS", "nope"), /consumer not found/);
    assert.equal(await jsm.consumers.delete("JOBS", "slow"), true);
    await assert.rejects(jsm.consumers.info("JOBS", "slow"), /consumer not found/);
    await jsm.streams.delete("JOBS");
    await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
    assert.deepEqual(await jsm.consumers.list("JOBS").next(), []);
  });
});
