/**
 * Topic ids (KIP-516) over the raw protocol: CreateTopics v7 returns them (with the topic's
 * configs, v5+), Metadata v10+ reports them and v12 looks topics up by them, Fetch v13 reads
 * by them, DeleteTopics v6 deletes by them. Unknown ids answer UNKNOWN_TOPIC_ID, and requests
 * that name a topic both ways or neither way are refused, as Kafka does.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ErrorCode } from "../src/protocol/kafka/generated/error-codes.js";
import {
  CreateTopics,
  type CreateTopicsResponseCreatableTopicResult,
  DeleteTopics,
  Fetch,
  Metadata,
} from "../src/protocol/kafka/generated/messages.js";
import { fetchBody } from "./helpers/fetch-request.js";
import { kafkaClient } from "./helpers/kafka.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const ZERO = "AAAAAAAAAAAAAAAAAAAAAA";
/** Well-formed ids no topic has. */
const STRANGER = "c3RyYW5nZXItdG9waWMtMQ";
const BOTH = "Ym90aC1uYW1lLWFuZC1pZA";

describe("topic ids (KIP-516)", { timeout: 60_000 }, () => {
  let server: TestServer;
  let c: RawKafka;

  before(async () => {
    server = await startServer();
    c = await RawKafka.connect(server.kafkaAddress);
  });
  after(async () => {
    c?.close();
    await server?.stop();
  });

  async function create(
    name: string,
    validateOnly = false,
  ): Promise<CreateTopicsResponseCreatableTopicResult> {
    const r = await c.request(CreateTopics, 7, {
      topics: [
        {
          name,
          numPartitions: 2,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: "retention.ms", value: "3600000" }],
        },
      ],
      timeoutMs: 5000,
      validateOnly,
    });
    return r.body.topics![0]!;
  }

  function metadata(version: number, topics: { name: string | null; topicId: string }[]) {
    return c.request(Metadata, version, {
      topics,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  }

  it("CreateTopics v7 returns the id, the partition count and the effective configs", async () => {
    const t = await create("ids-created");
    assert.equal(t.errorCode, ErrorCode.NONE);
    assert.notEqual(t.topicId, ZERO);
    assert.equal(t.numPartitions, 2);
    assert.equal(t.replicationFactor, 1);
    const byName = new Map(t.configs!.map((x) => [x.name, x]));
    assert.equal(byName.get("retention.ms")?.value, "3600000");
    assert.equal(byName.get("retention.ms")?.configSource, 1, "a topic override");
    assert.equal(byName.get("retention.bytes")?.value, "-1");
    assert.equal(byName.get("retention.bytes")?.configSource, 5, "a default");

    // validate_only describes the topic but makes nothing, so there is no id.
    const dry = await create("ids-dry-run", true);
    assert.equal(dry.errorCode, ErrorCode.NONE);
    assert.equal(dry.topicId, ZERO);
    assert.equal(dry.numPartitions, 2);
    const m = await metadata(12, [{ name: "ids-dry-run", topicId: ZERO }]);
    assert.equal(m.body.topics![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    const dup = await create("ids-created");
    assert.equal(dup.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    assert.equal(dup.topicId, ZERO);
  });

  it("Metadata reports the id from v10 and looks topics up by id in v12", async () => {
    const t = await create("ids-meta");
    const byName = await metadata(10, [{ name: "ids-meta", topicId: ZERO }]);
    assert.equal(byName.body.topics![0]!.topicId, t.topicId);

    const byId = await metadata(12, [
      { name: null, topicId: t.topicId! },
      { name: null, topicId: STRANGER },
    ]);
    const [found, unknown] = byId.body.topics!;
    assert.equal(found!.errorCode, ErrorCode.NONE);
    assert.equal(found!.name, "ids-meta");
    assert.equal(found!.topicId, t.topicId);
    assert.equal(found!.partitions!.length, 2);
    assert.equal(unknown!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
    assert.equal(unknown!.name, null);
    assert.equal(unknown!.topicId, STRANGER);

    // Before v12 a topic must be named by name.
    const early = await metadata(11, [{ name: null, topicId: t.topicId! }]);
    assert.equal(early.body.topics![0]!.errorCode, ErrorCode.INVALID_REQUEST);
  });

  it("Fetch v13 reads a topic by its id; an unknown id answers UNKNOWN_TOPIC_ID", async () => {
    const t = await create("ids-fetch");
    const producer = kafkaClient(server.kafkaAddress).producer();
    await producer.connect();
    await producer.send({ topic: "ids-fetch", messages: [{ value: "one", partition: 1 }] });
    await producer.disconnect();

    const r = await c.request(Fetch, 13, fetchBody("", 1, 0, { topicId: t.topicId! }));
    const topic = r.body.responses![0]!;
    assert.equal(topic.topicId, t.topicId);
    const p = topic.partitions![0]!;
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.equal(Number(p.highWatermark), 1);
    const records = Buffer.concat([p.records as Buffer].flat());
    assert.ok(records.includes(Buffer.from("one")), "the record comes back");

    const u = await c.request(Fetch, 13, fetchBody("", 0, 0, { topicId: STRANGER }));
    assert.equal(u.body.responses![0]!.partitions![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });

  it("DeleteTopics v6 deletes by id or by name, and refuses both, neither and unknown ids", async () => {
    const a = await create("ids-del-a");
    const b = await create("ids-del-b");
    const r = await c.request(DeleteTopics, 6, {
      topics: [
        { name: null, topicId: a.topicId! },
        { name: "ids-del-b", topicId: ZERO },
        { name: null, topicId: STRANGER },
        { name: "ids-meta", topicId: BOTH },
        { name: null, topicId: ZERO },
      ],
      topicNames: [],
      timeoutMs: 5000,
    });
    const [byId, byName, unknown, both, neither] = r.body.responses!;
    assert.equal(byId!.errorCode, ErrorCode.NONE);
    assert.equal(byId!.name, "ids-del-a");
    assert.equal(byName!.errorCode, ErrorCode.NONE);
    assert.equal(byName!.topicId, b.topicId, "deleting by name reports the id");
    assert.equal(unknown!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
    assert.equal(both!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(neither!.errorCode, ErrorCode.INVALID_REQUEST);

    const m = await metadata(12, [
      { name: "ids-del-a", topicId: ZERO },
      { name: "ids-del-b", topicId: ZERO },
      { name: "ids-meta", topicId: ZERO },
    ]);
    assert.deepEqual(
      m.body.topics!.map((t) => t.errorCode),
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NONE],
    );
  });

  it("Metadata answers a topic named twice once, and takes ids only from v12", async () => {
    const t = await create("ids-twice");
    const twice = await metadata(12, [
      { name: "ids-twice", topicId: ZERO },
      { name: "ids-twice", topicId: ZERO },
      { name: null, topicId: t.topicId! },
      { name: null, topicId: t.topicId! },
    ]);
    assert.equal(twice.body.topics!.length, 2, "once by name, once by id");
    const v11 = await metadata(11, [{ name: "ids-twice", topicId: t.topicId! }]);
    assert.equal(v11.body.topics![0]!.errorCode, ErrorCode.INVALID_REQUEST);
  });

  it("a stale id never reaches a topic recreated under the same name, and ids survive a restart", async () => {
    const old = await create("ids-reborn");
    const del = await c.request(DeleteTopics, 6, {
      topics: [{ name: "ids-reborn", topicId: ZERO }],
      topicNames: [],
      timeoutMs: 5000,
    });
    assert.equal(del.body.responses![0]!.errorCode, ErrorCode.NONE);
    const reborn = await create("ids-reborn");
    assert.notEqual(reborn.topicId, old.topicId);

    // v12: an id with a name is looked up by the id, and nothing is auto-created for it.
    const m = await metadata(12, [
      { name: null, topicId: old.topicId! },
      { name: "ids-never-made", topicId: old.topicId! },
    ]);
    assert.deepEqual(
      m.body.topics!.map((x) => x.errorCode),
      [ErrorCode.UNKNOWN_TOPIC_ID],
      "both entries name the same id: answered once",
    );
    const never = await metadata(12, [{ name: "ids-never-made", topicId: ZERO }]);
    assert.equal(never.body.topics![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const f = await c.request(Fetch, 13, fetchBody("", 0, 0, { topicId: old.topicId! }));
    assert.equal(f.body.responses![0]!.partitions![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
    const d = await c.request(DeleteTopics, 6, {
      topics: [{ name: null, topicId: old.topicId! }],
      topicNames: [],
      timeoutMs: 5000,
    });
    assert.equal(d.body.responses![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);

    // After a restart the id is the same, by name and by id.
    c.close();
    await server.stop();
    await server.start();
    c = await RawKafka.connect(server.kafkaAddress);
    const after = await metadata(12, [{ name: null, topicId: reborn.topicId! }]);
    assert.equal(after.body.topics![0]!.name, "ids-reborn");
    const byName = await metadata(12, [{ name: "ids-reborn", topicId: ZERO }]);
    assert.equal(byName.body.topics![0]!.topicId, reborn.topicId);
  });

  it("DeleteTopics v6 refuses a topic named twice in one request", async () => {
    const t = await create("ids-del-twice");
    const r = await c.request(DeleteTopics, 6, {
      topics: [
        { name: "ids-del-twice", topicId: ZERO },
        { name: "ids-del-twice", topicId: ZERO },
        { name: null, topicId: t.topicId! },
      ],
      topicNames: [],
      timeoutMs: 5000,
    });
    assert.deepEqual(
      r.body.responses!.map((x) => x.errorCode),
      [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.NONE],
    );
  });
});
