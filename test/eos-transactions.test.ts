/**
 * Transactions with kafkajs: commit/abort visibility for read_committed and read_uncommitted
 * consumers across topics and partitions, control markers in the end offsets, the last stable
 * offset held back by an open transaction, the broker's transaction timeout (abort + fence),
 * the transaction timeout limit, and offsets sent in a transaction (visible only on commit).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka, Producer } from "kafkajs";
import { committedOffsets, errorType, kafkaClient } from "./helpers/kafka.js";
import { listOffsetsPartitions } from "./helpers/offsets.js";
import { TestServer } from "./helpers/server.js";
import { readAll, TopicReader } from "./helpers/topic-reader.js";

/** Bound for every wait in this file. */
const WAIT_MS = 30_000;

let server: TestServer;
let kafka: Kafka;

// ---------------------------------------------------------------- helpers

/** Last stable offsets: kafkajs's admin lists offsets read_committed. */
async function lastStableOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermarks (read_uncommitted ListOffsets, which kafkajs's admin cannot send). */
async function highWatermarks(topic: string, partitions: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const p of await listOffsetsPartitions(server.kafkaAddress, topic, partitions, 0)) {
    assert.equal(p.errorCode, 0);
    out.set(p.partitionIndex!, Number(p.offset));
  }
  return out;
}

async function createTopics(topics: { topic: string; numPartitions: number }[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

function txProducer(transactionalId: string, transactionTimeout?: number): Producer {
  return kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(transactionTimeout !== undefined ? { transactionTimeout } : {}),
  });
}

const vals = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i}`);

// ---------------------------------------------------------------- tests

describe("transactions with kafkajs", { timeout: 180_000 }, () => {
  const producers: Producer[] = [];
  const track = (p: Producer) => {
    producers.push(p);
    return p;
  };

  before(async () => {
    server = new TestServer();
    await server.start();
    kafka = kafkaClient(server.kafkaAddress);
  });
  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await server?.dispose();
  });

  it("read_committed sees committed transactions only, read_uncommitted sees all, markers count", async () => {
    const A = { topic: "tx-a", parts: 3 };
    const B = { topic: "tx-b", parts: 2 };
    await createTopics([
      { topic: A.topic, numPartitions: A.parts },
      { topic: B.topic, numPartitions: B.parts },
    ]);
    const p = track(txProducer("tx-abc"));
    await p.connect();
    /** topic -> partition -> values, per outcome */
    const committed = new Map<string, Map<number, string[]>>();
    const everything = new Map<string, Map<number, string[]>>();
    for (const { topic, parts } of [A, B]) {
      committed.set(topic, new Map(Array.from({ length: parts }, (_, i) => [i, []])));
      everything.set(topic, new Map(Array.from({ length: parts }, (_, i) => [i, []])));
    }
    for (const [n, outcome] of [
      [1, "commit"],
      [2, "abort"],
      [3, "commit"],
    ] as const) {
      const txn = await p.transaction();
      for (const { topic, parts } of [A, B]) {
        for (let part = 0; part < parts; part++) {
          // Two sends per partition: one transaction, several produce requests.
          for (const half of [0, 1]) {
            const values = vals(`${topic}-t${n}-p${part}-h${half}`, 10);
            await txn.send({ topic, messages: values.map((value) => ({ value, partition: part })) });
            everything
              .get(topic)!
              .get(part)!
              .push(...values);
            if (outcome === "commit")
              committed
                .get(topic)!
                .get(part)!
                .push(...values);
          }
        }
      }
      if (outcome === "commit") await txn.commit();
      else await txn.abort();
    }
    for (const { topic, parts } of [A, B]) {
      const lso = await lastStableOffsets(topic);
      const hw = await highWatermarks(topic, parts);
      for (let part = 0; part < parts; part++) {
        // 60 records and 3 control markers (commit, abort, commit); nothing open.
        assert.equal(hw.get(part), 63, `${topic}/${part} high watermark`);
        assert.equal(lso.get(part), 63, `${topic}/${part} last stable offset`);
      }
      const rc = await readAll(kafka, topic, hw, false);
      const ru = await readAll(kafka, topic, hw, true);
      for (let part = 0; part < parts; part++) {
        assert.deepEqual(rc.values(part), committed.get(topic)!.get(part), `read_committed ${topic}/${part}`);
        assert.deepEqual(
          ru.values(part),
          everything.get(topic)!.get(part),
          `read_uncommitted ${topic}/${part}`,
        );
        // Record offsets skip exactly the markers: t1 at 0-19, marker 20, t2 at 21-40, ...
        assert.deepEqual(
          ru.records.get(part)!.map((r) => r.offset),
          [
            ...Array.from({ length: 20 }, (_, i) => i),
            ...Array.from({ length: 20 }, (_, i) => 21 + i),
            ...Array.from({ length: 20 }, (_, i) => 42 + i),
          ],
        );
      }
    }
  });

  it("an open transaction holds back read_committed consumers (LSO) until it ends", async () => {
    const topic = "tx-lso";
    await createTopics([{ topic, numPartitions: 1 }]);
    const plain = track(kafka.producer({ allowAutoTopicCreation: false }));
    await plain.connect();
    const send = (values: string[]) =>
      plain.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) });
    await send(vals("pre", 5)); // offsets 0-4

    const open = track(txProducer("lso-open"));
    await open.connect();
    const openTxn = await open.transaction();
    await openTxn.send({ topic, messages: vals("open", 5).map((value) => ({ value, partition: 0 })) }); // 5-9

    const later = track(txProducer("lso-later"));
    await later.connect();
    const laterTxn = await later.transaction();
    await laterTxn.send({ topic, messages: vals("later", 5).map((value) => ({ value, partition: 0 })) }); // 10-14
    await laterTxn.commit(); // marker 15
    await send(vals("plain", 3)); // 16-18

    assert.deepEqual(await lastStableOffsets(topic), new Map([[0, 5]]), "LSO = first offset of the open txn");
    assert.deepEqual(await highWatermarks(topic, 1), new Map([[0, 19]]));

    const ru = await readAll(kafka, topic, new Map([[0, 19]]), true);
    assert.deepEqual(ru.values(0), [
      ...vals("pre", 5),
      ...vals("open", 5),
      ...vals("later", 5),
      ...vals("plain", 3),
    ]);

    const rc = await new TopicReader(kafka, topic, false).start();
    try {
      await rc.waitForEnds(new Map([[0, 5]]));
      await rc.waitForFetches(3);
      // Neither the open transaction's values nor anything committed after it are visible.
      assert.deepEqual(rc.values(0), vals("pre", 5));
      assert.equal(rc.position.get(0), 5);

      await openTxn.commit(); // marker 19
      await rc.waitForEnds(new Map([[0, 20]]));
      assert.deepEqual(rc.values(0), [
        ...vals("pre", 5),
        ...vals("open", 5),
        ...vals("later", 5),
        ...vals("plain", 3),
      ]);
    } finally {
      await rc.stop();
    }
    assert.deepEqual(await lastStableOffsets(topic), new Map([[0, 20]]));
  });

  it("the broker aborts a transaction past its timeout and fences its producer", async () => {
    const topic = "tx-timeout";
    await createTopics([{ topic, numPartitions: 1 }]);
    const doomed = track(txProducer("to-1", 2000));
    await doomed.connect();
    const txn = await doomed.transaction();
    await txn.send({ topic, messages: vals("doomed", 5).map((value) => ({ value, partition: 0 })) }); // 0-4
    const plain = track(kafka.producer({ allowAutoTopicCreation: false }));
    await plain.connect();
    await plain.send({
      topic,
      acks: -1,
      messages: vals("after", 3).map((value) => ({ value, partition: 0 })),
    }); // 5-7
    assert.equal((await lastStableOffsets(topic)).get(0), 0, "held back while the transaction is open");

    // The timeout sweep aborts it (marker at 8): the LSO catches up with the high watermark.
    const deadline = Date.now() + WAIT_MS;
    while ((await lastStableOffsets(topic)).get(0) !== 9) {
      assert.ok(Date.now() < deadline, "the timed-out transaction was never aborted");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(await highWatermarks(topic, 1), new Map([[0, 9]]));
    const rc = await readAll(kafka, topic, new Map([[0, 9]]), false);
    assert.deepEqual(rc.values(0), vals("after", 3));

    // The producer was fenced: it can neither add to nor commit its transaction.
    await assert.rejects(
      txn.send({ topic, messages: [{ value: "late", partition: 0 }] }),
      (err) => errorType(err) === "INVALID_PRODUCER_EPOCH",
    );
    await assert.rejects(txn.commit(), (err) => errorType(err) === "INVALID_PRODUCER_EPOCH");
    assert.deepEqual(await highWatermarks(topic, 1), new Map([[0, 9]]), "nothing written after fencing");
    const ru = await readAll(kafka, topic, new Map([[0, 9]]), true);
    assert.deepEqual(ru.values(0), [...vals("doomed", 5), ...vals("after", 3)]);
  });

  it("refuses a transaction timeout above 15 minutes", async () => {
    const tooLong = track(txProducer("to-big", 15 * 60 * 1000 + 1));
    await assert.rejects(
      (async () => {
        await tooLong.connect();
        await tooLong.transaction();
      })(),
      (err) => errorType(err) === "INVALID_TRANSACTION_TIMEOUT",
    );
    const max = track(txProducer("to-max", 15 * 60 * 1000));
    await max.connect();
    const txn = await max.transaction();
    await txn.send({ topic: "tx-timeout", messages: [{ value: "max-ok", partition: 0 }] });
    await txn.commit();
  });

  it("offsets sent in a transaction become visible on commit only and vanish on abort", async () => {
    const input = "tx-off-in";
    const output = "tx-off-out";
    const group = "tx-offsets-g";
    await createTopics([
      { topic: input, numPartitions: 2 },
      { topic: output, numPartitions: 1 },
    ]);
    const p = track(txProducer("tx-off"));
    await p.connect();
    const none = new Map([
      [0, "-1"],
      [1, "-1"],
    ]);

    const t1 = await p.transaction();
    await t1.send({ topic: output, messages: [{ value: "o1", partition: 0 }] });
    await t1.sendOffsets({
      consumerGroupId: group,
      topics: [
        {
          topic: input,
          partitions: [
            { partition: 0, offset: "5" },
            { partition: 1, offset: "7" },
          ],
        },
      ],
    });
    assert.deepEqual(
      await committedOffsets(kafka, group, input),
      none,
      "pending offsets are not committed yet",
    );
    await t1.commit();
    const first = new Map([
      [0, "5"],
      [1, "7"],
    ]);
    assert.deepEqual(await committedOffsets(kafka, group, input), first);

    const t2 = await p.transaction();
    await t2.send({ topic: output, messages: [{ value: "o2", partition: 0 }] });
    await t2.sendOffsets({
      consumerGroupId: group,
      topics: [
        {
          topic: input,
          partitions: [
            { partition: 0, offset: "9" },
            { partition: 1, offset: "11" },
          ],
        },
      ],
    });
    await t2.abort();
    assert.deepEqual(await committedOffsets(kafka, group, input), first, "aborted offsets are discarded");

    // Offsets only, no records: still a transaction that commits them.
    const t3 = await p.transaction();
    await t3.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [{ partition: 1, offset: "12" }] }],
    });
    await t3.commit();
    assert.deepEqual(
      await committedOffsets(kafka, group, input),
      new Map([
        [0, "5"],
        [1, "12"],
      ]),
    );
    const rc = await readAll(kafka, output, await highWatermarks(output, 1), false);
    assert.deepEqual(rc.values(0), ["o1"]);
  });
});
