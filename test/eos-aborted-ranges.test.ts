/**
 * read_committed with overlapping aborted transactions, through stock kafkajs 2.2.4.
 *
 * kafkajs applies at most one aborted range per record, so a fetch that starts inside aborted
 * transaction B while an older aborted transaction A still overlaps the fetched range would let
 * B's records through if the broker listed A's raw range. OnceDB lists each aborted range from
 * its producer's first data batch in the response (equivalent for a protocol-following client),
 * so the stock consumer filters correctly. Found by `oncedb verify`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let kafka: Kafka;

async function readCommitted(groupId: string, topic: string, settleMs: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => void seen.push(`${message.offset}:${message.value}`),
  });
  await new Promise((r) => setTimeout(r, settleMs));
  await consumer.disconnect();
  return seen;
}

describe("aborted ranges in read_committed fetches", { timeout: 60_000 }, () => {
  before(async () => {
    server = await startServer();
    kafka = kafkaClient(server.kafkaAddress);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "overlap", numPartitions: 1 }] });
    await admin.disconnect();
  });
  after(async () => {
    await server.dispose();
  });

  it("a fetch starting inside an aborted transaction hides it even while an older abort overlaps", async () => {
    const a = kafka.producer({ transactionalId: "overlap-a", idempotent: true, maxInFlightRequests: 1 });
    const b = kafka.producer({ transactionalId: "overlap-b", idempotent: true, maxInFlightRequests: 1 });
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await Promise.all([a.connect(), b.connect(), plain.connect()]);
    const ta = await a.transaction();
    const tb = await b.transaction();
    await ta.send({ topic: "overlap", messages: [{ value: "a0", partition: 0 }] }); // offset 0
    await tb.send({ topic: "overlap", messages: [{ value: "b1", partition: 0 }] }); // offset 1
    await ta.abort(); // marker at 2
    await tb.send({ topic: "overlap", messages: [{ value: "b3", partition: 0 }] }); // offset 3
    await tb.abort(); // marker at 4
    await plain.send({ topic: "overlap", messages: [{ value: "c5", partition: 0 }] }); // offset 5
    await Promise.all([a.disconnect(), b.disconnect(), plain.disconnect()]);

    // From the beginning: both aborted transactions are hidden.
    assert.deepEqual(await readCommitted("from-start", "overlap", 1500), ["5:c5"]);

    // From offset 1, inside B, while A's range [0, 2] overlaps the fetch.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: "from-inside",
      topic: "overlap",
      partitions: [{ partition: 0, offset: "1" }],
    });
    await admin.disconnect();
    assert.deepEqual(await readCommitted("from-inside", "overlap", 1500), ["5:c5"]);
  });
});
