/**
 * Zombie fencing: a second producer with the same transactional id (InitProducerId) bumps the
 * epoch, aborts the first one's open transaction and fences it. The zombie can then neither
 * produce, add partitions, nor commit (INVALID_PRODUCER_EPOCH, as kafkajs knows no
 * PRODUCER_FENCED); none of its records become visible to read_committed consumers, and offsets
 * it sent in its transaction are never committed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka, Producer } from "kafkajs";
import { readValues as readTopic } from "./helpers/consume.js";
import { committedOffsets, errorType, kafkaClient } from "./helpers/kafka.js";
import { listOffsets as listOffsetsAt } from "./helpers/offsets.js";
import { TestServer } from "./helpers/server.js";

const WAIT_MS = 30_000;

let server: TestServer;
let kafka: Kafka;

function listOffsets(topic: string, partitions: number, isolationLevel: 0 | 1) {
  return listOffsetsAt(server.kafkaAddress, topic, partitions, isolationLevel);
}

/** Every value of a topic up to `ends` (per partition, in offset order), read with a fresh group. */
async function readValues(topic: string, ends: Map<number, number>, readUncommitted: boolean) {
  return (await readTopic(kafka, topic, ends, readUncommitted, { timeoutMs: WAIT_MS, pollMs: 20 }))
    .byPartition;
}

const fenced = (err: unknown) => errorType(err) === "INVALID_PRODUCER_EPOCH";
const vals = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i}`);

describe("zombie producers are fenced", { timeout: 120_000 }, () => {
  const producers: Producer[] = [];
  const txProducer = (transactionalId: string) => {
    const p = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    producers.push(p);
    return p;
  };

  before(async () => {
    server = new TestServer();
    await server.start();
    kafka = kafkaClient(server.kafkaAddress);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: "zf", numPartitions: 2 },
        { topic: "zf-other", numPartitions: 1 },
        { topic: "zf-in", numPartitions: 2 },
        { topic: "zf-out", numPartitions: 1 },
      ],
    });
    await admin.disconnect();
  });
  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await server?.dispose();
  });

  it("a new incarnation aborts the zombie's open transaction; the zombie can do nothing more", async () => {
    const a = txProducer("zombie-T");
    await a.connect();
    const txnA = await a.transaction();
    for (const partition of [0, 1]) {
      await txnA.send({
        topic: "zf",
        messages: vals(`a-pre-p${partition}`, 5).map((value) => ({ value, partition })),
      });
    }
    // Open: the zombie's records hold back the last stable offset.
    assert.deepEqual(
      await listOffsets("zf", 2, 1),
      new Map([
        [0, 0],
        [1, 0],
      ]),
    );

    const b = txProducer("zombie-T");
    await b.connect();
    // kafkajs sends InitProducerId with the transactional id on the first transaction(): it
    // bumps the epoch and aborts A's transaction at once (a marker in each partition).
    const txnB = await b.transaction();
    assert.deepEqual(
      await listOffsets("zf", 2, 1),
      new Map([
        [0, 6],
        [1, 6],
      ]),
    );
    for (const partition of [0, 1]) {
      await txnB.send({
        topic: "zf",
        messages: vals(`b-p${partition}`, 3).map((value) => ({ value, partition })),
      });
    }
    await txnB.commit();

    // The zombie: produce to a partition already in its transaction, to a new partition
    // (AddPartitionsToTxn), and commit; all refused.
    await assert.rejects(
      txnA.send({ topic: "zf", messages: [{ value: "a-post-p0", partition: 0 }] }),
      fenced,
    );
    await assert.rejects(
      txnA.send({ topic: "zf-other", messages: [{ value: "a-post-other", partition: 0 }] }),
      fenced,
    );
    await assert.rejects(txnA.commit(), fenced);

    const hw = await listOffsets("zf", 2, 0);
    // 5 aborted + abort marker + 3 committed + commit marker; nothing from the zombie after fencing.
    assert.deepEqual(
      hw,
      new Map([
        [0, 10],
        [1, 10],
      ]),
    );
    assert.deepEqual(await listOffsets("zf", 2, 1), hw);
    assert.deepEqual(await listOffsets("zf-other", 1, 0), new Map([[0, 0]]));
    const rc = await readValues("zf", hw, false);
    assert.deepEqual(rc.get(0), vals("b-p0", 3));
    assert.deepEqual(rc.get(1), vals("b-p1", 3));
    const ru = await readValues("zf", hw, true);
    assert.deepEqual(ru.get(0), [...vals("a-pre-p0", 5), ...vals("b-p0", 3)]);
    assert.ok(![...ru.values()].flat().some((v) => v.startsWith("a-post")));
  });

  it("offsets sent by a fenced zombie never become committed", async () => {
    const group = "zf-group";
    const input = "zf-in";
    const a = txProducer("zombie-offsets");
    await a.connect();
    const txnA = await a.transaction();
    await txnA.send({ topic: "zf-out", messages: [{ value: "a-out", partition: 0 }] });
    await txnA.sendOffsets({
      consumerGroupId: group,
      topics: [
        {
          topic: input,
          partitions: [
            { partition: 0, offset: "10" },
            { partition: 1, offset: "20" },
          ],
        },
      ],
    });

    const b = txProducer("zombie-offsets");
    await b.connect();
    const txnB = await b.transaction(); // fences A
    const none = new Map([
      [0, "-1"],
      [1, "-1"],
    ]);
    assert.deepEqual(await committedOffsets(kafka, group, input), none, "the aborted offsets were discarded");
    // The zombie cannot commit them.
    await assert.rejects(txnA.commit(), fenced);
    assert.deepEqual(await committedOffsets(kafka, group, input), none);

    await txnB.send({ topic: "zf-out", messages: [{ value: "b-out", partition: 0 }] });
    await txnB.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: "4" }] }],
    });
    await txnB.commit();
    assert.deepEqual(
      await committedOffsets(kafka, group, input),
      new Map([
        [0, "4"],
        [1, "-1"],
      ]),
    );

    const hw = await listOffsets("zf-out", 1, 0);
    const rc = await readValues("zf-out", hw, false);
    assert.deepEqual(rc.get(0), ["b-out"]);
  });

  it("a zombie fenced between transactions cannot start a new one", async () => {
    const group = "zf-idle-group";
    const a = txProducer("zombie-idle");
    await a.connect();
    const t1 = await a.transaction();
    await t1.send({ topic: "zf-other", messages: [{ value: "a-1", partition: 0 }] });
    await t1.commit();

    const b = txProducer("zombie-idle");
    await b.connect();
    const tb = await b.transaction(); // fences A, which does not know it yet

    // A still holds the old epoch: AddPartitionsToTxn and AddOffsetsToTxn are refused.
    const t2 = await a.transaction();
    await assert.rejects(t2.send({ topic: "zf-other", messages: [{ value: "a-2", partition: 0 }] }), fenced);
    await assert.rejects(
      t2.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: "zf-in", partitions: [{ partition: 0, offset: "3" }] }],
      }),
      fenced,
    );
    await tb.send({ topic: "zf-other", messages: [{ value: "b-1", partition: 0 }] });
    await tb.commit();
    const hw = await listOffsets("zf-other", 1, 0);
    const rc = await readValues("zf-other", hw, false);
    assert.deepEqual(rc.get(0), ["a-1", "b-1"]);
    assert.deepEqual(
      await committedOffsets(kafka, group, "zf-in"),
      new Map([
        [0, "-1"],
        [1, "-1"],
      ]),
    );
  });
});
