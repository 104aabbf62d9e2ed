/**
 * An open transaction survives a broker SIGKILL: a kafkajs transactional producer has added two
 * partitions and written to them when the broker is killed and restarted on the same port.
 * After the restart the transaction is still Ongoing (DescribeTransactions), still holds the
 * last stable offset back (read_committed consumers see nothing of it), and the same kafkajs
 * producer, reconnecting, can commit it (each record visible exactly once), keep writing to it
 * (sequence state survived), or abort it (nothing visible).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka, Producer } from "kafkajs";
import { KafkaClient } from "../src/protocol/kafka/client.js";
import { DescribeTransactions } from "../src/protocol/kafka/generated/messages.js";
import { kafkaClient } from "./helpers/kafka.js";
import { listOffsets as listOffsetsAt } from "./helpers/offsets.js";
import { TestServer } from "./helpers/server.js";
import { readAll, TopicReader } from "./helpers/topic-reader.js";

const PARTS = 2;

let server: TestServer;
let kafka: Kafka;

async function raw<T>(f: (c: KafkaClient) => Promise<T>): Promise<T> {
  const c = await KafkaClient.connect(server.kafkaAddress);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

function listOffsets(topic: string, isolationLevel: 0 | 1): Promise<Map<number, number>> {
  return listOffsetsAt(server.kafkaAddress, topic, PARTS, isolationLevel);
}

function describeTxn(transactionalId: string) {
  return raw(async (c) => {
    const res = await c.request(DescribeTransactions, 0, { transactionalIds: [transactionalId] });
    const s = res.transactionStates![0]!;
    assert.equal(s.errorCode, 0);
    return {
      state: s.transactionState,
      partitions: (s.topics ?? []).flatMap((t) => (t.partitions ?? []).map((p) => `${t.topic}-${p}`)).sort(),
    };
  });
}

const uniform = (n: number) => new Map(Array.from({ length: PARTS }, (_, i) => [i, n]));
const vals = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i}`);

/** A consumer of one topic from the beginning; positions count control records. */
describe("an open transaction across a broker kill -9", { timeout: 180_000 }, () => {
  const producers: Producer[] = [];

  before(async () => {
    server = new TestServer();
    await server.start();
    kafka = kafkaClient(server.kafkaAddress, {
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30 },
    });
  });
  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await server?.dispose();
  });

  /**
   * Writes 3 plain records and then 5 transactional ones to each partition of a new topic,
   * kills and restarts the broker, and checks the transaction is still open and invisible.
   */
  async function openTxnThenKill(topic: string, transactionalId: string) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTS }] });
    await admin.disconnect();
    const plain = kafka.producer({ allowAutoTopicCreation: false });
    producers.push(plain);
    await plain.connect();
    for (let p = 0; p < PARTS; p++) {
      await plain.send({
        topic,
        acks: -1,
        messages: vals(`plain-p${p}`, 3).map((value) => ({ value, partition: p })),
      });
    }
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    producers.push(producer);
    await producer.connect();
    const txn = await producer.transaction();
    for (let p = 0; p < PARTS; p++) {
      await txn.send({ topic, messages: vals(`txn-p${p}`, 5).map((value) => ({ value, partition: p })) });
    }
    assert.deepEqual(await listOffsets(topic, 0), uniform(8));
    assert.deepEqual(await listOffsets(topic, 1), uniform(3));

    await server.kill();
    await server.start();

    // Still open after the restart: its partitions, its records, the held-back LSO.
    assert.deepEqual(await describeTxn(transactionalId), {
      state: "Ongoing",
      partitions: Array.from({ length: PARTS }, (_, p) => `${topic}-${p}`),
    });
    assert.deepEqual(await listOffsets(topic, 0), uniform(8));
    assert.deepEqual(await listOffsets(topic, 1), uniform(3));
    const rc = await new TopicReader(kafka, topic, false).start();
    await rc.waitForEnds(uniform(3));
    await rc.waitForFetches(3);
    for (let p = 0; p < PARTS; p++) assert.deepEqual(rc.values(p), vals(`plain-p${p}`, 3));
    return { txn, rc };
  }

  it("the reconnecting producer commits: every record visible exactly once", async () => {
    const topic = "bk-commit";
    const { txn, rc } = await openTxnThenKill(topic, "bk-commit");
    try {
      await txn.commit();
      // 3 plain + 5 transactional + commit marker; the waiting consumer now sees them all.
      assert.deepEqual(await listOffsets(topic, 1), uniform(9));
      await rc.waitForEnds(uniform(9));
      for (let p = 0; p < PARTS; p++) {
        assert.deepEqual(rc.values(p), [...vals(`plain-p${p}`, 3), ...vals(`txn-p${p}`, 5)]);
      }
    } finally {
      await rc.stop();
    }
    assert.equal((await describeTxn("bk-commit")).state, "CompleteCommit");
    const again = await readAll(kafka, topic, uniform(9), false);
    for (let p = 0; p < PARTS; p++) {
      assert.deepEqual(again.values(p), [...vals(`plain-p${p}`, 3), ...vals(`txn-p${p}`, 5)]);
    }
  });

  it("the reconnecting producer keeps writing to the transaction, then commits", async () => {
    const topic = "bk-more";
    const { txn, rc } = await openTxnThenKill(topic, "bk-more");
    await rc.stop();
    // The producer's sequence numbers continue where they were before the kill.
    for (let p = 0; p < PARTS; p++) {
      await txn.send({ topic, messages: vals(`more-p${p}`, 4).map((value) => ({ value, partition: p })) });
    }
    await txn.commit();
    assert.deepEqual(await listOffsets(topic, 1), uniform(13));
    const got = await readAll(kafka, topic, uniform(13), false);
    for (let p = 0; p < PARTS; p++) {
      assert.deepEqual(got.values(p), [
        ...vals(`plain-p${p}`, 3),
        ...vals(`txn-p${p}`, 5),
        ...vals(`more-p${p}`, 4),
      ]);
    }
  });

  it("the reconnecting producer aborts: nothing of the transaction is visible", async () => {
    const topic = "bk-abort";
    const { txn, rc } = await openTxnThenKill(topic, "bk-abort");
    try {
      await txn.abort();
      assert.deepEqual(await listOffsets(topic, 1), uniform(9));
      await rc.waitForEnds(uniform(9));
      for (let p = 0; p < PARTS; p++) assert.deepEqual(rc.values(p), vals(`plain-p${p}`, 3));
    } finally {
      await rc.stop();
    }
    assert.equal((await describeTxn("bk-abort")).state, "CompleteAbort");
    const all = await readAll(kafka, topic, uniform(9), true);
    for (let p = 0; p < PARTS; p++) {
      assert.deepEqual(all.values(p), [...vals(`plain-p${p}`, 3), ...vals(`txn-p${p}`, 5)]);
    }
  });
});
