/**
 * Consumer byte-rate quota (`oncedb serve --consumer-byte-rate`), against a real server: a Fetch
 * over the quota is answered with throttle_time_ms, its bytes are paced at the rate, the
 * connection reads nothing more until the throttle time has passed (KIP-219), the debt belongs to the client id across connections, and a kafkajs
 * consumer under a quota still receives every record intact. `--client-consumer-byte-rate`
 * limits the client ids it names, at their own rates, and nobody else.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka } from "kafkajs";
import { encodeBatch } from "../src/log/records.js";
import { PACE_CREDIT_MS, WRITE_TURN_BYTES } from "../src/protocol/kafka/connection.js";
import { ApiVersions, Fetch, Produce } from "../src/protocol/kafka/generated/messages.js";
import { PACE_SPREAD_MS_MAX } from "../src/protocol/kafka/handlers/fetch.js";
import { fetchBody } from "./helpers/fetch-request.js";
import { kafkaClient } from "./helpers/kafka.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

const RATE = 1_000_000;
const TOPIC = "quota";
const MESSAGES = 25;
const VALUE_BYTES = 100_000;
/** Timer granularity and scheduling on a busy machine. */
const SLACK_MS = 60;

function value(i: number): Buffer {
  return Buffer.alloc(VALUE_BYTES, 97 + (i % 26));
}

async function fill(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    for (let i = 0; i < MESSAGES; i++) {
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: String(i), value: value(i) }] });
    }
  } finally {
    await producer.disconnect();
  }
}

async function fetchAll(c: RawKafka) {
  const r = await c.request(Fetch, 11, fetchBody(TOPIC, 0, 0, { maxBytes: 8 << 20 }));
  const p = r.body.responses![0]!.partitions![0]!;
  assert.equal(p.errorCode, 0);
  return { throttleTimeMs: r.body.throttleTimeMs ?? 0, bytes: (p.records as Buffer | null)?.length ?? 0 };
}

/** Reads the topic from the start with a kafkajs group until MESSAGES distinct keys arrived. */
async function readByKey(kafka: Kafka, topic: string, groupId: string) {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const got = new Map<number, Buffer>();
  let count = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        count++;
        got.set(Number(message.key!.toString()), message.value!);
      },
    });
    await waitFor(
      () => got.size === MESSAGES,
      60_000,
      () => `${got.size}/${MESSAGES} records`,
    );
  } finally {
    await consumer.disconnect();
  }
  return { got, count };
}

describe("consumer byte-rate quota", { timeout: 120_000 }, () => {
  let limited: TestServer;
  let perClient: TestServer;
  let unlimited: TestServer;
  /** RawKafka's client id (src/protocol/kafka/client.ts). */
  const RAW_CLIENT = "oncedb-cli";

  before(async () => {
    [limited, perClient, unlimited] = await Promise.all([
      startServer({ args: ["--consumer-byte-rate", String(RATE)] }),
      startServer({
        args: [
          "--client-consumer-byte-rate",
          `${RAW_CLIENT}=${RATE / 2}`,
          "--client-consumer-byte-rate",
          "other=1",
        ],
      }),
      startServer({ args: ["--client-consumer-byte-rate", "someone-else=1"] }),
    ]);
    await Promise.all([limited, perClient, unlimited].map((s) => fill(kafkaClient(s.kafkaAddress))));
  });

  after(async () => {
    await Promise.all([limited?.stop(), perClient?.stop(), unlimited?.stop()]);
  });

  it("answers a Fetch over the quota with throttle_time_ms, paces it, then reads nothing for that long", async () => {
    const c = await RawKafka.connect(limited.kafkaAddress);
    try {
      const sentAt = performance.now();
      const f = await fetchAll(c);
      const answerMs = performance.now() - sentAt;
      assert.ok(f.bytes > 2 * RATE, `the whole backlog came in one answer (${f.bytes} bytes)`);
      // A full bucket (one second's worth) pays for RATE bytes; the rest is debt at RATE bytes/s.
      const expected = Math.ceil(((f.bytes - RATE) * 1000) / RATE);
      assert.ok(
        Math.abs(f.throttleTimeMs - expected) <= SLACK_MS,
        `throttle_time_ms ${f.throttleTimeMs}, expected about ${expected}`,
      );
      // Paced: spread over up to PACE_SPREAD_MS_MAX instead of sent at once (a few ms here).
      const paceMs = ((f.bytes - WRITE_TURN_BYTES) * PACE_SPREAD_MS_MAX) / f.bytes - PACE_CREDIT_MS;
      assert.ok(answerMs >= paceMs - SLACK_MS, `answer took ${answerMs} ms, pacing needs ${paceMs}`);
      assert.ok(answerMs < f.throttleTimeMs - 300, "the answer was not held for the throttle time");
      const v = await c.request(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
      assert.equal(v.body.errorCode, 0);
      const held = performance.now() - sentAt;
      assert.ok(
        held >= f.throttleTimeMs - SLACK_MS,
        `next request held ${held} ms, throttle ${f.throttleTimeMs}`,
      );
    } finally {
      c.close();
    }
  });

  it("charges the client id, whatever the connection", async () => {
    // RawKafka connections all present client id "oncedb-cli": the debt follows it.
    const a = await RawKafka.connect(limited.kafkaAddress);
    const b = await RawKafka.connect(limited.kafkaAddress);
    try {
      const first = await fetchAll(a);
      assert.ok(first.throttleTimeMs > 0);
      const second = await c2(b);
      assert.ok(
        second > first.throttleTimeMs,
        `a new connection inherits the debt (${second} ms after ${first.throttleTimeMs} ms)`,
      );
    } finally {
      a.close();
      b.close();
    }
    async function c2(c: RawKafka) {
      return (await fetchAll(c)).throttleTimeMs;
    }
  });

  it("lets a kafkajs consumer under the quota read every record intact", async () => {
    const kafka = kafkaClient(limited.kafkaAddress, { clientId: "quota-consumer" });
    const { got } = await readByKey(kafka, TOPIC, "quota-group");
    for (let i = 0; i < MESSAGES; i++) assert.ok(got.get(i)?.equals(value(i)), `record ${i} intact`);
  });

  it("limits a client id named by --client-consumer-byte-rate at its own rate", async () => {
    const c = await RawKafka.connect(perClient.kafkaAddress);
    try {
      const f = await fetchAll(c);
      const rate = RATE / 2;
      const expected = Math.ceil(((f.bytes - rate) * 1000) / rate);
      assert.ok(
        Math.abs(f.throttleTimeMs - expected) <= SLACK_MS,
        `throttle_time_ms ${f.throttleTimeMs}, expected about ${expected}`,
      );
    } finally {
      c.close();
    }
  });

  it("throttles nobody the flags do not name", async () => {
    const c = await RawKafka.connect(unlimited.kafkaAddress);
    try {
      for (let i = 0; i < 3; i++) {
        const f = await fetchAll(c);
        assert.ok(f.bytes > 2 * RATE);
        assert.equal(f.throttleTimeMs, 0);
      }
    } finally {
      c.close();
    }
  });
});

describe("producer byte-rate quota", { timeout: 120_000 }, () => {
  let server: TestServer;
  const BATCH_VALUE_BYTES = 900_000;

  before(async () => {
    server = await startServer({ args: ["--producer-byte-rate", String(RATE)] });
  });

  after(async () => {
    await server?.stop();
  });

  async function produce(c: RawKafka, batch: Buffer) {
    const r = await c.request(Produce, 8, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: "produce-quota", partitionData: [{ index: 0, records: batch }] }],
    });
    assert.equal(r.body.responses![0]!.partitionResponses![0]!.errorCode, 0);
    return r.body.throttleTimeMs ?? 0;
  }

  it("answers a Produce over the quota with throttle_time_ms and reads nothing more for that long", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    try {
      const batch = encodeBatch({ records: [{ key: null, value: Buffer.alloc(BATCH_VALUE_BYTES, 7) }] });
      const firstAt = performance.now();
      assert.equal(await produce(c, batch), 0, "the first batch fits in the one-second burst");
      const secondAt = performance.now();
      const throttle = await produce(c, batch);
      // The bucket refills between the two charges (the first commit, the second's transfer):
      // at most the time both requests took comes off the throttle.
      const refillMs = performance.now() - firstAt;
      const expected = Math.ceil(((2 * batch.length - RATE) * 1000) / RATE);
      assert.ok(
        throttle <= expected && throttle >= expected - refillMs,
        `throttle_time_ms ${throttle}, expected ${expected} less up to ${refillMs} ms of refill`,
      );
      await c.request(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
      const held = performance.now() - secondAt;
      assert.ok(held >= throttle - SLACK_MS, `next request held ${held} ms, throttle ${throttle}`);
    } finally {
      c.close();
    }
  });

  it("lets a kafkajs producer under the quota write every record once", async () => {
    const kafka = kafkaClient(server.kafkaAddress, { clientId: "quota-producer" });
    const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true });
    await producer.connect();
    try {
      for (let i = 0; i < MESSAGES; i += 5) {
        await producer.send({
          topic: "produce-quota-kafkajs",
          acks: -1,
          messages: Array.from({ length: 5 }, (_, k) => ({ key: String(i + k), value: value(i + k) })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    const { got, count } = await readByKey(kafka, "produce-quota-kafkajs", "produce-quota-check");
    assert.equal(count, MESSAGES, "each record once");
    for (let i = 0; i < MESSAGES; i++) assert.ok(got.get(i)?.equals(value(i)), `record ${i} intact`);
  });
});
