/**
 * Committed group offsets survive a server restart, graceful (SIGTERM) or not (SIGKILL):
 * a group consumes the first half of a topic and commits; after the restart on the same
 * port and data directory a new member of the group gets exactly the second half.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Kafka } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

interface Got {
  partition: number;
  offset: number;
  value: string;
}

/** Consumes with a group until `n` messages arrived, then leaves (committing its offsets). */
async function consumeN(kafka: Kafka, topic: string, groupId: string, n: number): Promise<Got[]> {
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  const got: Got[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    await waitFor(
      () => got.length >= n,
      30_000,
      () => `${n} messages, got ${got.length}`,
    );
  } finally {
    await consumer.disconnect();
  }
  return got;
}

async function produce(kafka: Kafka, topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const res = await producer.send({
      topic,
      acks: -1,
      messages: values.map((value, i) => ({ value, partition: i % 2 })),
    });
    for (const r of res) assert.equal(r.errorCode, 0);
  } finally {
    await producer.disconnect();
  }
}

async function scenario(server: TestServer, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  const topic = `restart-${signal.toLowerCase()}`;
  const groupId = `${topic}-group`;
  const first = Array.from({ length: 50 }, (_, i) => `first-${i}`);
  const second = Array.from({ length: 50 }, (_, i) => `second-${i}`);

  let kafka = kafkaClient(server.kafkaAddress);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  await produce(kafka, topic, first);
  const got1 = await consumeN(kafka, topic, groupId, first.length);
  assert.deepEqual(got1.map((g) => g.value).sort(), [...first].sort());
  await produce(kafka, topic, second);
  // The group's commit is in place before the restart.
  const before = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.deepEqual(Object.fromEntries(before[0].partitions.map((p) => [p.partition, p.offset])), {
    0: "25",
    1: "25",
  });
  await admin.disconnect();

  const code = await server.stop(signal);
  if (signal === "SIGTERM") assert.equal(code, 0);
  await server.start();

  kafka = kafkaClient(server.kafkaAddress);
  const admin2 = kafka.admin();
  await admin2.connect();
  try {
    const offsets = await admin2.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(Object.fromEntries(offsets[0].partitions.map((p) => [p.partition, p.offset])), {
      0: "25",
      1: "25",
    });
    const wm = await admin2.fetchTopicOffsets(topic);
    assert.deepEqual(Object.fromEntries(wm.map((o) => [o.partition, o.high])), { 0: "50", 1: "50" });
  } finally {
    await admin2.disconnect();
  }
  // A new member resumes at the committed offsets: the second half only, in offset order.
  const got2 = await consumeN(kafka, topic, groupId, second.length);
  assert.deepEqual(got2.map((g) => g.value).sort(), [...second].sort());
  for (const p of [0, 1]) {
    assert.deepEqual(
      got2.filter((g) => g.partition === p).map((g) => g.offset),
      Array.from({ length: 25 }, (_, i) => 25 + i),
    );
  }
}

describe("committed offsets survive a restart", { timeout: 120_000 }, () => {
  const server = new TestServer();

  after(async () => {
    await server.dispose();
  });

  it("after SIGTERM", async () => {
    await server.start();
    await scenario(server, "SIGTERM");
  });

  it("after SIGKILL", async () => {
    await scenario(server, "SIGKILL");
  });
});
