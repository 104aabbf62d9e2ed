/**
 * Fetch answers far larger than one socket write turn (WRITE_TURN_BYTES, 1 MiB), read by several
 * consumers at once. Each answer is one buffer from a read worker, written to the socket in
 * slices over several event-loop turns and then handed back to the worker for the next read.
 * If a buffer went back before its last slice was written, or a slice were dropped or
 * reordered, some consumer would receive bytes of another answer: every value is checked.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const PARTITIONS = 2;
const RECORDS_PER_PARTITION = 900;
const VALUE_BYTES = 10_000; // 9 MB per partition
const READERS = 3;

describe("large fetch answers", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it("several consumers reading multi-MiB answers at once each get every byte intact", async () => {
    const kafka = kafkaClient(server.kafkaAddress);
    const topic = "large-fetch";
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
    await admin.disconnect();

    const sent = new Map<number, string[]>();
    const producer = kafka.producer();
    await producer.connect();
    for (let p = 0; p < PARTITIONS; p++) {
      const values = Array.from({ length: RECORDS_PER_PARTITION }, () =>
        randomBytes(VALUE_BYTES / 2).toString("hex"),
      );
      sent.set(p, values);
      for (let i = 0; i < values.length; i += 50) {
        await producer.send({
          topic,
          acks: -1,
          messages: values.slice(i, i + 50).map((value) => ({ partition: p, value })),
        });
      }
    }
    await producer.disconnect();

    const readAll = async (reader: number) => {
      const got = new Map<number, string[]>(Array.from({ length: PARTITIONS }, (_, p) => [p, []]));
      let biggestBatch = 0;
      const consumer = kafka.consumer({
        groupId: `large-fetch-${reader}`,
        maxBytesPerPartition: 8 * 1024 * 1024,
        maxBytes: 16 * 1024 * 1024,
        maxWaitTimeInMs: 100,
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachBatch: async ({ batch }) => {
            let bytes = 0;
            for (const m of batch.messages) {
              got.get(batch.partition)!.push(String(m.value));
              bytes += m.value?.length ?? 0;
            }
            biggestBatch = Math.max(biggestBatch, bytes);
          },
        });
        const deadline = Date.now() + 60_000;
        while ([...got.values()].some((v) => v.length < RECORDS_PER_PARTITION)) {
          assert.ok(
            Date.now() < deadline,
            `reader ${reader} stuck at ${[...got.values()].map((v) => v.length)}`,
          );
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await consumer.disconnect();
      }
      return { got, biggestBatch };
    };

    const results = await Promise.all(Array.from({ length: READERS }, (_, r) => readAll(r)));
    for (const [r, { got, biggestBatch }] of results.entries()) {
      // The answers really were several write turns long.
      assert.ok(biggestBatch > 2 * 1024 * 1024, `reader ${r}: largest batch only ${biggestBatch} bytes`);
      for (let p = 0; p < PARTITIONS; p++) {
        const want = sent.get(p)!;
        const have = got.get(p)!;
        assert.equal(have.length, want.length, `reader ${r} partition ${p}: record count`);
        const firstBad = have.findIndex((v, i) => v !== want[i]);
        assert.equal(firstBad, -1, `reader ${r} partition ${p}: record ${firstBad} differs`);
      }
    }
  });
});
