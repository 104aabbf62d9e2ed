// Cross-checks against kafkajs, a client whose encoders were written by hand
// from the protocol docs: requests it encodes must decode here and re-encode byte for byte, and
// responses encoded here must decode in kafkajs. kafkajs is a dependency of the package (oncedb verify runs it), so it is always there.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import {
  API_BY_KEY,
  ApiVersionsResponseSchema,
  FetchResponseSchema,
  FindCoordinatorResponseSchema,
  JoinGroupResponseSchema,
  ListOffsetsResponseSchema,
  MetadataResponseSchema,
  OffsetFetchResponseSchema,
  ProduceResponseSchema,
  SyncGroupResponseSchema,
} from "../generated/messages.js";
import { decodeFromBuffer, encodeToBuffer } from "./codec.js";
import {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "./consumer-protocol.js";
import { decodeRequestFrame, encodeRequestFrame } from "./frame.js";
import type { MessageSchema } from "./schema.js";

const require = createRequire(import.meta.url);

// kafkajs has no types; these are the few shapes used here.
interface KjsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
type KjsRequestFactory = (args: unknown) => KjsRequest;
interface KjsResponse {
  decode(raw: Buffer): Promise<Record<string, unknown>>;
  parse(data: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function kjs<T>(path: string): T {
  return require(`kafkajs/src/${path}`) as T;
}

async function kjsRequest(path: string, args: unknown): Promise<KjsRequest & { body: Buffer }> {
  const req = kjs<KjsRequestFactory>(`protocol/requests/${path}/request.js`)(args);
  return { ...req, body: (await req.encode()).buffer };
}

async function kjsDecodeResponse(path: string, raw: Buffer): Promise<Record<string, unknown>> {
  const response = kjs<KjsResponse>(`protocol/requests/${path}/response.js`);
  return response.parse(await response.decode(raw));
}

async function recordBatch(values: string[]): Promise<Buffer> {
  const RecordBatch = kjs<{ RecordBatch: (a: unknown) => Promise<{ buffer: Buffer }> }>(
    "protocol/recordBatch/v0/index.js",
  ).RecordBatch;
  const Record = kjs<(a: unknown) => unknown>("protocol/recordBatch/record/v0/index.js");
  const records = values.map((value, i) => Record({ offsetDelta: i, key: `k${i}`, value }));
  return (
    await RecordBatch({
      records,
      firstTimestamp: 1700000000000,
      maxTimestamp: 1700000000000,
      lastOffsetDelta: values.length - 1,
    })
  ).buffer;
}

const MEMBER_METADATA = Buffer.from("0000000000010001740000000000", "hex");

const REQUESTS: Array<[path: string, args: unknown, check?: (v: Record<string, unknown>) => void]> = [
  ["apiVersions/v2", {}],
  [
    "metadata/v4",
    { topics: ["a", "b"], allowAutoTopicCreation: false },
    (v) => {
      assert.deepStrictEqual(
        (v.topics as Array<{ name: string }>).map((t) => t.name),
        ["a", "b"],
      );
      assert.equal(v.allowAutoTopicCreation, false);
    },
  ],
  [
    "produce/v3",
    {
      acks: -1,
      timeout: 30000,
      transactionalId: "tx",
      topicData: [{ topic: "t", partitions: [{ partition: 2, messages: [{ key: "k", value: "v" }] }] }],
    },
    (v) => {
      assert.equal(v.transactionalId, "tx");
      const p = (v.topicData as Array<{ partitionData: Array<{ index: number; records: Buffer }> }>)[0]
        .partitionData[0];
      assert.equal(p.index, 2);
      assert.equal(p.records[16], 2, "record batch magic byte");
    },
  ],
  [
    "fetch/v11",
    {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 1048576,
      topics: [{ topic: "t", partitions: [{ partition: 0, fetchOffset: "12", maxBytes: 1000 }] }],
      rackId: "r",
    },
    (v) => {
      const p = (v.topics as Array<{ partitions: Array<{ fetchOffset: number }> }>)[0].partitions[0];
      assert.equal(p.fetchOffset, 12);
      assert.equal(v.rackId, "r");
    },
  ],
  [
    "listOffsets/v3",
    {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ topic: "t", partitions: [{ partition: 0, timestamp: -1 }] }],
    },
  ],
  [
    "joinGroup/v5",
    {
      groupId: "g",
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: "",
      protocolType: "consumer",
      groupProtocols: [{ name: "RoundRobinAssigner", metadata: MEMBER_METADATA }],
    },
    (v) => assert.deepStrictEqual((v.protocols as Array<{ metadata: Buffer }>)[0].metadata, MEMBER_METADATA),
  ],
  [
    "syncGroup/v3",
    {
      groupId: "g",
      generationId: 1,
      memberId: "m",
      groupAssignment: [{ memberId: "m", memberAssignment: Buffer.from("x") }],
    },
  ],
  ["heartbeat/v3", { groupId: "g", groupGenerationId: 1, memberId: "m", groupInstanceId: null }],
  [
    "offsetCommit/v5",
    {
      groupId: "g",
      groupGenerationId: 1,
      memberId: "m",
      topics: [{ topic: "t", partitions: [{ partition: 0, offset: "5" }] }],
    },
  ],
  ["offsetFetch/v4", { groupId: "g", topics: [{ topic: "t", partitions: [{ partition: 0 }] }] }],
  ["findCoordinator/v2", { coordinatorKey: "g", coordinatorType: 0 }],
  ["leaveGroup/v3", { groupId: "g", members: [{ memberId: "m" }] }],
  ["describeGroups/v2", { groupIds: ["g"] }],
  ["listGroups/v2", {}],
  ["deleteGroups/v1", ["g"]],
  [
    "createTopics/v3",
    {
      topics: [
        {
          topic: "t",
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
      validateOnly: false,
      timeout: 5000,
    },
  ],
  ["deleteTopics/v1", { topics: ["t"], timeout: 5000 }],
  [
    "createPartitions/v1",
    { topicPartitions: [{ topic: "t", count: 5 }], validateOnly: false, timeout: 5000 },
  ],
  [
    "describeConfigs/v2",
    { resources: [{ type: 2, name: "t", configNames: ["retention.ms"] }], includeSynonyms: false },
  ],
  [
    "deleteRecords/v1",
    { topics: [{ topic: "t", partitions: [{ partition: 0, offset: "7" }] }], timeout: 5000 },
  ],
  ["initProducerId/v1", { transactionalId: "tx", transactionTimeout: 60000 }],
  [
    "addPartitionsToTxn/v1",
    {
      transactionalId: "tx",
      producerId: "1000",
      producerEpoch: 0,
      topics: [{ topic: "t", partitions: [0, 1] }],
    },
  ],
  ["addOffsetsToTxn/v1", { transactionalId: "tx", producerId: "1000", producerEpoch: 0, groupId: "g" }],
  ["endTxn/v1", { transactionalId: "tx", producerId: "1000", producerEpoch: 0, transactionResult: true }],
  [
    "txnOffsetCommit/v1",
    {
      transactionalId: "tx",
      groupId: "g",
      producerId: "1000",
      producerEpoch: 0,
      topics: [{ topic: "t", partitions: [{ partition: 0, offset: "3", metadata: null }] }],
    },
  ],
  ["saslHandshake/v1", { mechanism: "PLAIN" }],
  // kafkajs' SASL mechanisms hand over auth bytes already length-prefixed.
  ["saslAuthenticate/v1", { authBytes: Buffer.from("0000000a00757365720070617373", "hex") }],
];

describe("kafkajs cross-check", () => {
  for (const [path, args, check] of REQUESTS) {
    it(`decodes and re-encodes the kafkajs ${path} request byte for byte`, async () => {
      const req = await kjsRequest(path, args);
      const schema = API_BY_KEY.get(req.apiKey)?.request as MessageSchema<Record<string, unknown>>;
      assert.ok(schema, `apiKey ${req.apiKey} generated`);
      const value = decodeFromBuffer(schema, req.apiVersion, req.body);
      assert.deepStrictEqual(encodeToBuffer(schema, req.apiVersion, value), req.body);
      check?.(value);
      // The whole frame, header included.
      const encodeFrame = kjs<(a: unknown) => Promise<{ buffer: Buffer }>>("protocol/request.js");
      const frame = (
        await encodeFrame({ correlationId: 99, clientId: "kjs", request: kjsRequestFrom(path, args) })
      ).buffer;
      const decoded = decodeRequestFrame(schema, frame.subarray(4));
      assert.deepStrictEqual(decoded.header, {
        apiKey: req.apiKey,
        apiVersion: req.apiVersion,
        correlationId: 99,
        clientId: "kjs",
      });
      assert.deepStrictEqual(
        Buffer.concat(encodeRequestFrame(schema, req.apiVersion, 99, "kjs", decoded.body)),
        frame,
      );
    });
  }

  it("ApiVersions v2 response", async () => {
    const raw = encodeToBuffer(ApiVersionsResponseSchema, 2, {
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 3,
    });
    const got = await kjsDecodeResponse("apiVersions/v2", raw);
    assert.deepStrictEqual(got.apiVersions, [{ apiKey: 18, minVersion: 0, maxVersion: 4 }]);
    assert.equal(got.clientSideThrottleTime, 3);
  });

  it("Metadata v4 response", async () => {
    const raw = encodeToBuffer(MetadataResponseSchema, 4, {
      brokers: [{ nodeId: 1, host: "localhost", port: 9092, rack: null }],
      clusterId: "c",
      controllerId: 1,
      topics: [
        {
          name: "t",
          partitions: [{ partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1] }],
        },
      ],
    });
    const got = await kjsDecodeResponse("metadata/v4", raw);
    assert.deepStrictEqual(got.brokers, [{ nodeId: 1, host: "localhost", port: 9092, rack: null }]);
    assert.equal(got.clusterId, "c");
    const topic = (got.topicMetadata as Array<Record<string, unknown>>)[0];
    assert.equal(topic.topic, "t");
    assert.deepStrictEqual(topic.partitionMetadata, [
      { partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1], isr: [1] },
    ]);
  });

  it("Produce v3 response", async () => {
    const raw = encodeToBuffer(ProduceResponseSchema, 3, {
      responses: [{ name: "t", partitionResponses: [{ index: 0, baseOffset: 41n, logAppendTimeMs: -1 }] }],
    });
    const got = await kjsDecodeResponse("produce/v3", raw);
    assert.deepStrictEqual(got.topics, [
      { topicName: "t", partitions: [{ partition: 0, errorCode: 0, baseOffset: "41", logAppendTime: "-1" }] },
    ]);
  });

  it("Fetch v11 response carrying kafkajs record batches by reference", async () => {
    const batch = await recordBatch(["hello", "world"]);
    const raw = encodeToBuffer(FetchResponseSchema, 11, {
      responses: [
        {
          topic: "t",
          partitions: [{ partitionIndex: 0, highWatermark: 2, lastStableOffset: 2, records: [batch] }],
        },
      ],
    });
    const got = await kjsDecodeResponse("fetch/v11", raw);
    const p = (got.responses as Array<{ partitions: Array<Record<string, unknown>> }>)[0].partitions[0];
    assert.equal(p.highWatermark, "2");
    const messages = p.messages as Array<{ key: Buffer; value: Buffer; offset: string }>;
    assert.deepStrictEqual(
      messages.map((m) => [m.offset, m.key.toString(), m.value.toString()]),
      [
        ["0", "k0", "hello"],
        ["1", "k1", "world"],
      ],
    );
  });

  it("JoinGroup v5, SyncGroup v3, FindCoordinator v2, OffsetFetch v4, ListOffsets v3 responses", async () => {
    const join = await kjsDecodeResponse(
      "joinGroup/v5",
      encodeToBuffer(JoinGroupResponseSchema, 5, {
        generationId: 3,
        protocolName: "RoundRobinAssigner",
        leader: "m1",
        memberId: "m1",
        members: [{ memberId: "m1", groupInstanceId: null, metadata: MEMBER_METADATA }],
      }),
    );
    assert.equal(join.generationId, 3);
    assert.equal(join.groupProtocol, "RoundRobinAssigner");
    assert.deepStrictEqual(join.members, [
      { memberId: "m1", groupInstanceId: null, memberMetadata: MEMBER_METADATA },
    ]);

    const sync = await kjsDecodeResponse(
      "syncGroup/v3",
      encodeToBuffer(SyncGroupResponseSchema, 3, { assignment: Buffer.from("abc") }),
    );
    assert.deepStrictEqual(sync.memberAssignment, Buffer.from("abc"));

    const coord = await kjsDecodeResponse(
      "findCoordinator/v2",
      encodeToBuffer(FindCoordinatorResponseSchema, 2, {
        errorMessage: null,
        nodeId: 1,
        host: "h",
        port: 9092,
      }),
    );
    assert.deepStrictEqual(coord.coordinator, { nodeId: 1, host: "h", port: 9092 });

    const fetched = await kjsDecodeResponse(
      "offsetFetch/v4",
      encodeToBuffer(OffsetFetchResponseSchema, 4, {
        topics: [{ name: "t", partitions: [{ partitionIndex: 0, committedOffset: 5, metadata: "" }] }],
      }),
    );
    assert.deepStrictEqual(fetched.responses, [
      { topic: "t", partitions: [{ partition: 0, offset: "5", metadata: "", errorCode: 0 }] },
    ]);

    const offsets = await kjsDecodeResponse(
      "listOffsets/v3",
      encodeToBuffer(ListOffsetsResponseSchema, 3, {
        topics: [{ name: "t", partitions: [{ partitionIndex: 0, timestamp: -1, offset: 10 }] }],
      }),
    );
    assert.deepStrictEqual(offsets.responses, [
      { topic: "t", partitions: [{ partition: 0, errorCode: 0, timestamp: "-1", offset: "10" }] },
    ]);
  });

  it("consumer protocol payloads match kafkajs MemberMetadata/MemberAssignment (v0)", () => {
    const { MemberMetadata, MemberAssignment } = kjs<{
      MemberMetadata: { encode(a: unknown): Buffer; decode(b: Buffer): unknown };
      MemberAssignment: { encode(a: unknown): Buffer; decode(b: Buffer): unknown };
    }>("consumer/assignerProtocol.js");
    const userData = Buffer.from("ud");
    const sub = MemberMetadata.encode({ version: 0, topics: ["a", "b"], userData });
    const decodedSub = decodeConsumerSubscription(sub);
    assert.equal(decodedSub.version, 0);
    assert.deepStrictEqual(decodedSub.value.topics, ["a", "b"]);
    assert.deepStrictEqual(decodedSub.value.userData, userData);
    assert.deepStrictEqual(encodeConsumerSubscription(decodedSub.value, 0), sub);

    const asg = MemberAssignment.encode({ version: 0, assignment: { a: [0, 2] }, userData });
    const decodedAsg = decodeConsumerAssignment(asg);
    assert.deepStrictEqual(decodedAsg.value.assignedPartitions, [{ topic: "a", partitions: [0, 2] }]);
    assert.deepStrictEqual(encodeConsumerAssignment(decodedAsg.value, 0), asg);
    assert.deepStrictEqual(MemberAssignment.decode(encodeConsumerAssignment(decodedAsg.value, 0)), {
      version: 0,
      assignment: { a: [0, 2] },
      userData,
    });
  });
});

function kjsRequestFrom(path: string, args: unknown): KjsRequest {
  return kjs<KjsRequestFactory>(`protocol/requests/${path}/request.js`)(args);
}
