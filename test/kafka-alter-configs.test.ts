/**
 * Changing topic configs at run time, against a real server: kafkajs admin.alterConfigs
 * (AlterConfigs: the given set replaces the overrides), validateOnly, bad values and unknown
 * topics; IncrementalAlterConfigs over the raw protocol (SET / DELETE / APPEND / SUBTRACT);
 * broker resources refused; a lowered retention.ms deleting old records at once; the change
 * surviving a restart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin, type Kafka } from "kafkajs";
import { ErrorCode } from "../src/protocol/kafka/generated/error-codes.js";
import {
  IncrementalAlterConfigs,
  type IncrementalAlterConfigsRequest,
} from "../src/protocol/kafka/generated/messages.js";
import { errorType, kafkaClient } from "./helpers/kafka.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const { ConfigResourceTypes } = kafkajs;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

describe("altering topic configs", { timeout: 120_000 }, () => {
  let server: TestServer;
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    server = await startServer();
    kafka = kafkaClient(server.kafkaAddress);
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    await admin?.disconnect();
    await server?.stop();
  });

  async function overrides(topic: string): Promise<Record<string, string>> {
    const d = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      includeSynonyms: false,
    });
    const out: Record<string, string> = {};
    for (const e of d.resources[0]!.configEntries) if (!e.isDefault) out[e.configName] = e.configValue;
    return out;
  }

  function alter(topic: string, configs: Record<string, string>, validateOnly = false) {
    return admin.alterConfigs({
      validateOnly,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  }

  async function incremental(body: IncrementalAlterConfigsRequest) {
    const c = await RawKafka.connect(server.kafkaAddress);
    try {
      return (await c.request(IncrementalAlterConfigs, 1, body)).body.responses!;
    } finally {
      c.close();
    }
  }

  it("alterConfigs replaces the topic's overrides; DescribeConfigs shows them", async () => {
    await admin.createTopics({
      topics: [
        {
          topic: "alter-a",
          numPartitions: 1,
          configEntries: [{ name: "retention.bytes", value: "1000000" }],
        },
      ],
    });
    assert.deepEqual(await overrides("alter-a"), { "retention.bytes": "1000000" });
    await alter("alter-a", { "retention.ms": "3600000", "max.message.bytes": "2000000" });
    assert.deepEqual(
      await overrides("alter-a"),
      { "max.message.bytes": "2000000", "retention.ms": "3600000" },
      "retention.bytes, not given, went back to its default (Kafka's AlterConfigs)",
    );
  });

  it("validateOnly checks without changing", async () => {
    await alter("alter-a", { "retention.ms": "1000" }, true);
    assert.equal((await overrides("alter-a"))["retention.ms"], "3600000");
  });

  it("refuses bad values, unknown names and unknown topics with Kafka's error codes", async () => {
    await assert.rejects(
      alter("alter-a", { "retention.ms": "soon" }),
      (e) => errorType(e) === "INVALID_CONFIG",
    );
    await assert.rejects(
      alter("alter-a", { "no.such.config": "1" }),
      (e) => errorType(e) === "INVALID_CONFIG",
    );
    await assert.rejects(
      alter("alter-missing", { "retention.ms": "1000" }),
      (e) => errorType(e) === "UNKNOWN_TOPIC_OR_PARTITION",
    );
    assert.equal((await overrides("alter-a"))["retention.ms"], "3600000", "nothing changed");
  });

  it("refuses broker configs: they are command-line flags here", async () => {
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.BROKER,
            name: "0",
            configEntries: [{ name: "log.retention.ms", value: "1" }],
          },
        ],
      }),
      (e) => errorType(e) === "INVALID_REQUEST",
    );
  });

  it("IncrementalAlterConfigs sets and deletes single names and keeps the others", async () => {
    await admin.createTopics({ topics: [{ topic: "alter-b", numPartitions: 1 }] });
    const topic = { resourceType: 2, resourceName: "alter-b" };
    let r = await incremental({
      validateOnly: false,
      resources: [
        {
          ...topic,
          configs: [
            { name: "retention.ms", configOperation: SET, value: "7200000" },
            { name: "retention.bytes", configOperation: SET, value: "5000000" },
          ],
        },
      ],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.NONE, r[0]!.errorMessage ?? "");
    r = await incremental({
      validateOnly: false,
      resources: [{ ...topic, configs: [{ name: "retention.bytes", configOperation: DELETE, value: null }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.NONE);
    assert.deepEqual(await overrides("alter-b"), { "retention.ms": "7200000" });

    // APPEND / SUBTRACT are for list configs only; cleanup.policy must stay "delete" here.
    r = await incremental({
      validateOnly: false,
      resources: [
        { ...topic, configs: [{ name: "cleanup.policy", configOperation: APPEND, value: "delete" }] },
      ],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.NONE, r[0]!.errorMessage ?? "");
    r = await incremental({
      validateOnly: false,
      resources: [
        { ...topic, configs: [{ name: "cleanup.policy", configOperation: APPEND, value: "compact" }] },
      ],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    r = await incremental({
      validateOnly: false,
      resources: [{ ...topic, configs: [{ name: "retention.ms", configOperation: SUBTRACT, value: "1" }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(r[0]!.errorMessage ?? "", /not a list/);
    r = await incremental({
      validateOnly: false,
      resources: [{ ...topic, configs: [{ name: "retention.ms", configOperation: 9, value: "1" }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    r = await incremental({
      validateOnly: false,
      resources: [{ ...topic, configs: [{ name: "retention.ms", configOperation: SET, value: null }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.INVALID_REQUEST, "SET without a value");
    r = await incremental({
      validateOnly: false,
      resources: [{ ...topic, configs: [{ name: "constructor", configOperation: SET, value: "1" }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.INVALID_CONFIG, "a name that only exists on Object.prototype");
    r = await incremental({
      validateOnly: true,
      resources: [{ ...topic, configs: [{ name: "retention.ms", configOperation: SET, value: "1000" }] }],
    });
    assert.equal(r[0]!.errorCode, ErrorCode.NONE, "validate_only accepts a good change...");
    r = await incremental({
      validateOnly: true,
      resources: [{ ...topic, configs: [{ name: "retention.ms", configOperation: SET, value: "later" }] }],
    });
    assert.equal(
      r[0]!.errorCode,
      ErrorCode.INVALID_CONFIG,
      "...and refuses a bad one, changing nothing either way",
    );
    r = await incremental({
      validateOnly: false,
      resources: [
        { ...topic, configs: [{ name: "retention.ms", configOperation: SET, value: "1" }] },
        { ...topic, configs: [{ name: "retention.ms", configOperation: SET, value: "2" }] },
      ],
    });
    assert.deepEqual(
      r.map((x) => x.errorCode),
      [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
      "the same resource twice in one request",
    );
    assert.deepEqual(
      await overrides("alter-b"),
      { "cleanup.policy": "delete", "retention.ms": "7200000" },
      "the APPEND made an override of the same value; the failed requests changed nothing",
    );
  });

  it("concurrent incremental changes to one topic all survive", async () => {
    await admin.createTopics({ topics: [{ topic: "alter-c", numPartitions: 1 }] });
    const names = ["retention.ms", "retention.bytes", "max.message.bytes", "segment.ms"];
    const values = ["3600000", "7000000", "500000", "3600000"];
    const rs = await Promise.all(
      names.map((name, i) =>
        incremental({
          validateOnly: false,
          resources: [
            {
              resourceType: 2,
              resourceName: "alter-c",
              configs: [{ name, configOperation: SET, value: values[i]! }],
            },
          ],
        }),
      ),
    );
    for (const r of rs) assert.equal(r[0]!.errorCode, ErrorCode.NONE, r[0]!.errorMessage ?? "");
    assert.deepEqual(await overrides("alter-c"), Object.fromEntries(names.map((n, i) => [n, values[i]!])));
  });

  it("a lowered retention.ms deletes old records at once, and the change survives a restart", async () => {
    await admin.createTopics({ topics: [{ topic: "alter-ret", numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    const dayAgo = String(Date.now() - 86_400_000);
    await producer.send({
      topic: "alter-ret",
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `old-${i}`, timestamp: dayAgo })),
    });
    await producer.disconnect();
    const low = async () => Number((await admin.fetchTopicOffsets("alter-ret"))[0]!.low);
    assert.equal(await low(), 0, "the default retention (7 days) keeps day-old records");
    await alter("alter-ret", { "retention.ms": "60000" });
    let start = 0;
    // The retention check interval is 5 minutes by default: only the change itself can trigger this.
    for (let i = 0; i < 100 && start < 10; i++) {
      start = await low();
      if (start < 10) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(start, 10, "the log start moved past the expired records");

    await admin.disconnect();
    await server.stop();
    await server.start();
    admin = kafkaClient(server.kafkaAddress).admin();
    await admin.connect();
    assert.equal((await overrides("alter-ret"))["retention.ms"], "60000");
  });
});
