/**
 * kafkajs admin against a real server: topic creation with partitions and configs,
 * listing, growing partitions, deletion (and auto-creation of a fresh topic afterwards),
 * and the errors for duplicate and invalid names.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const { ConfigResourceTypes } = kafkajs;

/** The error types of an error kafkajs threw, however it wrapped them. */
function errorTypes(err: unknown): string[] {
  const e = err as { type?: string; errors?: unknown[]; cause?: unknown };
  const out: string[] = [];
  if (e.type) out.push(e.type);
  for (const inner of e.errors ?? []) out.push(...errorTypes(inner));
  if (e.cause) out.push(...errorTypes(e.cause));
  return out;
}

describe("kafkajs admin: topics", { timeout: 60_000 }, () => {
  let server: TestServer;
  let admin: Admin;

  before(async () => {
    server = await startServer();
    admin = kafkaClient(server.kafkaAddress).admin();
    await admin.connect();
  });

  after(async () => {
    await admin?.disconnect();
    await server?.dispose();
  });

  it("creates topics with several partitions and lists them", async () => {
    const created = await admin.createTopics({
      topics: [
        { topic: "topics-a", numPartitions: 3 },
        { topic: "topics-b", numPartitions: 5 },
      ],
    });
    assert.equal(created, true);
    const md = await admin.fetchTopicMetadata({ topics: ["topics-a", "topics-b"] });
    const counts = Object.fromEntries(md.topics.map((t) => [t.name, t.partitions.length]));
    assert.deepEqual(counts, { "topics-a": 3, "topics-b": 5 });
    for (const t of md.topics) {
      const ids = t.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
      assert.deepEqual(ids, [...Array(t.partitions.length).keys()]);
      for (const p of t.partitions) assert.equal(p.partitionErrorCode, 0);
    }
    const list = await admin.listTopics();
    assert.ok(list.includes("topics-a"), `listTopics: ${list}`);
    assert.ok(list.includes("topics-b"), `listTopics: ${list}`);
  });

  it("createPartitions increases the partition count", async () => {
    await admin.createTopics({ topics: [{ topic: "topics-grow", numPartitions: 2 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: "topics-grow", count: 6 }] });
    const md = await admin.fetchTopicMetadata({ topics: ["topics-grow"] });
    assert.equal(md.topics[0].partitions.length, 6);
    // The new partitions are usable: produce to the last one and read its offsets.
    const producer = kafkaClient(server.kafkaAddress).producer();
    await producer.connect();
    try {
      const res = await producer.send({
        topic: "topics-grow",
        acks: -1,
        messages: [{ partition: 5, value: "x" }],
      });
      assert.equal(res[0].partition, 5);
      assert.equal(res[0].baseOffset, "0");
    } finally {
      await producer.disconnect();
    }
    const offsets = await admin.fetchTopicOffsets("topics-grow");
    const high = Object.fromEntries(offsets.map((o) => [o.partition, o.high]));
    assert.deepEqual(high, { 0: "0", 1: "0", 2: "0", 3: "0", 4: "0", 5: "1" });
  });

  it("deleteTopics removes a topic; producing to it again auto-creates a fresh one", async () => {
    const topic = "topics-delete";
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    const p1 = kafkaClient(server.kafkaAddress).producer();
    await p1.connect();
    await p1.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ partition: 3, value: `old-${i}` })),
    });
    await p1.disconnect();
    assert.equal((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 3)?.high, "10");

    await admin.deleteTopics({ topics: [topic] });
    assert.ok(!(await admin.listTopics()).includes(topic), "deleted topic still listed");

    const p2 = kafkaClient(server.kafkaAddress).producer({ allowAutoTopicCreation: true });
    await p2.connect();
    try {
      const res = await p2.send({ topic, acks: -1, messages: [{ value: "new-0" }, { value: "new-1" }] });
      assert.equal(res.length, 1);
      assert.equal(res[0].partition, 0);
      assert.equal(res[0].baseOffset, "0");
    } finally {
      await p2.disconnect();
    }
    assert.ok((await admin.listTopics()).includes(topic));
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(md.topics[0].partitions.length, 1);
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })),
      [{ partition: 0, low: "0", high: "2" }],
    );
  });

  it("describeConfigs reports a retention.ms override set at creation", async () => {
    const topic = "topics-config";
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: "retention.ms", value: "3600000" }] }],
    });
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["retention.ms"] }],
    });
    assert.equal(res.resources.length, 1);
    const r = res.resources[0];
    assert.equal(r.errorCode, 0);
    assert.equal(r.resourceName, topic);
    const entry = r.configEntries.find((e) => e.configName === "retention.ms");
    assert.ok(entry, `no retention.ms in ${JSON.stringify(r.configEntries)}`);
    assert.equal(entry.configValue, "3600000");
    assert.equal(entry.isDefault, false);

    // Without configNames every config is described, the override among them.
    const all = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    const e2 = all.resources[0].configEntries.find((e) => e.configName === "retention.ms");
    assert.equal(e2?.configValue, "3600000");
  });

  it("creating an existing topic fails with TOPIC_ALREADY_EXISTS", async () => {
    const topic = "topics-dup";
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }), true);
    // kafkajs turns an all-TOPIC_ALREADY_EXISTS failure into `false` rather than throwing.
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }), false);
    // Mixed with another failure, kafkajs throws and each topic's error keeps its type.
    await assert.rejects(
      admin.createTopics({ topics: [{ topic }, { topic: "topics-dup-invalid name!" }] }),
      (err) => {
        const types = errorTypes(err);
        assert.ok(types.includes("TOPIC_ALREADY_EXISTS"), `types: ${types}`);
        return true;
      },
    );
    // The original topic is untouched.
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(md.topics[0].partitions.length, 2);
  });

  it("an invalid topic name fails with INVALID_TOPIC_EXCEPTION", async () => {
    await assert.rejects(admin.createTopics({ topics: [{ topic: "bad topic!" }] }), (err) => {
      const types = errorTypes(err);
      assert.ok(types.includes("INVALID_TOPIC_EXCEPTION"), `types: ${types}`);
      return true;
    });
    assert.ok(!(await admin.listTopics()).includes("bad topic!"));
  });
});
