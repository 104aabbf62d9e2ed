/**
 * Operators' view of transactions: `oncedb transactions list|describe|abort` and
 * `oncedb producers`, against a transaction a kafkajs producer left open.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka, Producer } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { run } from "./helpers/run.js";
import { CLI_PATH, startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let kafka: Kafka;
let producer: Producer;

const cli = (args: string[]) =>
  run(process.execPath, [CLI_PATH, ...args, "--kafka", server.kafkaAddress, "--json"]);

async function readCommitted(topic: string, expected: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `rc-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  const deadline = Date.now() + 10_000;
  while (seen.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300)); // anything beyond `expected` would arrive now
  await consumer.disconnect();
  return seen;
}

describe("transactions operator CLI", { timeout: 120_000 }, () => {
  before(async () => {
    server = await startServer();
    kafka = kafkaClient(server.kafkaAddress);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "ops", numPartitions: 2 }] });
    await admin.disconnect();
    producer = kafka.producer({ transactionalId: "stuck-1", maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
  });
  after(async () => {
    await producer.disconnect().catch(() => {});
    await server.dispose();
  });

  it("lists, describes and aborts a transaction left open, fencing its producer", async () => {
    const txn = await producer.transaction();
    await txn.send({
      topic: "ops",
      messages: [
        { value: "stuck-a", partition: 0 },
        { value: "stuck-b", partition: 1 },
      ],
    });

    const list = await cli(["transactions", "list", "--state", "Ongoing"]);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as {
      transactionalId: string;
      state: string;
      partitions: string[];
    }[];
    assert.deepEqual(
      listed.map((t) => [t.transactionalId, t.state, t.partitions.sort()]),
      [["stuck-1", "Ongoing", ["ops-0", "ops-1"]]],
    );

    const producers = await cli(["producers", "ops", "0", "1"]);
    const rows = JSON.parse(producers.stdout) as { partition: number; txnStartOffset: number }[];
    assert.deepEqual(rows.map((r) => [r.partition, r.txnStartOffset]).sort(), [
      [0, 0],
      [1, 0],
    ]);

    const abort = await cli(["transactions", "abort", "stuck-1"]);
    assert.equal(abort.code, 0, abort.stderr);
    assert.equal((JSON.parse(abort.stdout) as { aborted: boolean }).aborted, true);

    const described = JSON.parse((await cli(["transactions", "describe", "stuck-1"])).stdout) as {
      state: string;
    }[];
    assert.equal(described[0]!.state, "Empty");

    // The stuck producer is fenced: its commit fails and nothing it wrote becomes visible.
    await assert.rejects(txn.commit());
    const other = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await other.connect();
    await other.send({ topic: "ops", messages: [{ value: "after", partition: 0 }] });
    await other.disconnect();
    assert.deepEqual(await readCommitted("ops", 1), ["after"]);

    const again = await cli(["transactions", "abort", "stuck-1"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /"aborted":false/);
    const unknown = await cli(["transactions", "describe", "no-such-id"]);
    assert.equal(unknown.code, 2);
  });
});
