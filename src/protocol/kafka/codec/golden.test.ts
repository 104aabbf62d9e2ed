// Golden bytes computed by hand from the Kafka specs (field order, widths, compact/tagged
// encoding), independent of the codec. Hex strings are spaced per field for reading.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FetchResponse, JoinGroupRequest } from "../generated/messages.js";
import {
  ApiVersionsRequestSchema,
  ApiVersionsResponseSchema,
  FetchResponseSchema,
  JoinGroupRequestSchema,
  MetadataRequestSchema,
  OffsetCommitRequestSchema,
  ProduceRequestSchema,
} from "../generated/messages.js";
import { decodeFromBuffer, encodeToBuffer } from "./codec.js";
import {
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  frameBody,
} from "./frame.js";
import { Writer, ZERO_COPY_MIN_BYTES } from "./writer.js";

/** Hex with single spaces between fields; two or more spaces start a comment up to the line end. */
function hex(annotated: string): Buffer {
  const digits = annotated
    .split("\n")
    .map((line) =>
      line
        .trim()
        .split(/\s{2,}/)[0]
        .replace(/\s+/g, ""),
    )
    .join("");
  if (!/^([0-9a-f]{2})*$/.test(digits)) throw new Error(`bad golden hex: ${digits}`);
  return Buffer.from(digits, "hex");
}

function concat(chunks: readonly Buffer[]): Buffer {
  return Buffer.concat(chunks);
}

describe("golden bytes", () => {
  it("ApiVersions v0 response frame (header v0)", () => {
    const golden = hex(`
      00000016            frame length 22
      00000007            correlation id
      0000                error code
      00000002            api keys count
      0012 0000 0004      ApiVersions 0-4
      0003 0000 000c      Metadata 0-12`);
    const body = {
      errorCode: 0,
      apiKeys: [
        { apiKey: 18, minVersion: 0, maxVersion: 4 },
        { apiKey: 3, minVersion: 0, maxVersion: 12 },
      ],
    };
    assert.deepStrictEqual(concat(encodeResponseFrame(ApiVersionsResponseSchema, 0, 7, body)), golden);
    const decoded = decodeResponseFrame(ApiVersionsResponseSchema, 0, golden.subarray(4));
    assert.equal(decoded.correlationId, 7);
    assert.deepStrictEqual(decoded.body.apiKeys, body.apiKeys);
  });

  it("ApiVersions v3 request frame with flexible header v2 (classic clientId)", () => {
    const golden = hex(`
      00000019            frame length 25
      0012 0003           apiKey 18, version 3
      00000001            correlation id
      0002 6331           clientId "c1": int16 length even in header v2
      00                  header tagged fields
      07 6f6e63656462     clientSoftwareName "oncedb" (compact: length + 1)
      04 312e30           clientSoftwareVersion "1.0"
      00                  body tagged fields`);
    const body = { clientSoftwareName: "oncedb", clientSoftwareVersion: "1.0" };
    assert.deepStrictEqual(concat(encodeRequestFrame(ApiVersionsRequestSchema, 3, 1, "c1", body)), golden);
    const decoded = decodeRequestFrame(ApiVersionsRequestSchema, golden.subarray(4));
    assert.deepStrictEqual(decoded.header, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: "c1" });
    assert.deepStrictEqual(decoded.body, body);
  });

  it("ApiVersions v3 response keeps header v0 and writes tagged fields only when not default", () => {
    const golden = hex(`
      00000013            frame length 19
      00000001            correlation id (header v0: no tagged fields)
      0000                error code
      02                  compact array of 1
      0012 0000 0004 00   ApiVersions 0-4, element tagged fields
      00000000            throttle time
      00                  no tagged fields (all at defaults)`);
    const body = { apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], finalizedFeaturesEpoch: -1 };
    assert.deepStrictEqual(concat(encodeResponseFrame(ApiVersionsResponseSchema, 3, 1, body)), golden);
    const withEpoch = hex(`
      0000 02 0012 0000 0004 00 00000000
      01                  one tagged field
      01 08               tag 1 (FinalizedFeaturesEpoch), size 8
      0000000000000005`);
    assert.deepStrictEqual(
      encodeToBuffer(ApiVersionsResponseSchema, 3, { ...body, finalizedFeaturesEpoch: 5n }),
      withEpoch,
    );
    assert.equal(decodeFromBuffer(ApiVersionsResponseSchema, 3, withEpoch).finalizedFeaturesEpoch, 5);
  });

  it("Metadata v1 request: topic list and null (all topics)", () => {
    const golden = hex(`
      00000013            frame length 19
      0003 0001 0000000a  Metadata v1, correlation id 10
      0001 6b             clientId "k"
      00000001 0002 7431  topics ["t1"]`);
    const body = { topics: [{ name: "t1" }] } as never;
    assert.deepStrictEqual(concat(encodeRequestFrame(MetadataRequestSchema, 1, 10, "k", body)), golden);
    const decoded = decodeRequestFrame(MetadataRequestSchema, golden.subarray(4)).body;
    assert.deepStrictEqual(decoded.topics, [{ name: "t1", topicId: "AAAAAAAAAAAAAAAAAAAAAA" }]);
    assert.equal(decoded.allowAutoTopicCreation, true, "v4+ field absent in v1 takes the spec default");
    assert.deepStrictEqual(
      encodeToBuffer(MetadataRequestSchema, 1, { ...decoded, topics: null }),
      hex("ffffffff"),
    );
  });

  it("Produce v3 request frame with a records field", () => {
    const records = hex("00010203040506070809");
    const golden = hex(`
      00000030            frame length 48
      0000 0003 0000002a  Produce v3, correlation id 42
      0001 70             clientId "p"
      ffff                transactionalId null
      ffff                acks -1
      00007530            timeout 30000
      00000001 0001 74    topic "t"
      00000001 00000000   partition 0
      0000000a 00010203040506070809`);
    const body = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records }] }],
    };
    assert.deepStrictEqual(concat(encodeRequestFrame(ProduceRequestSchema, 3, 42, "p", body)), golden);
    const frame = golden.subarray(4);
    const decoded = decodeRequestFrame(ProduceRequestSchema, frame);
    assert.deepStrictEqual(decoded.body, body);
    const got = decoded.body.topicData[0].partitionData[0].records as Buffer;
    frame[frame.length - 1] = 0xff;
    assert.equal(got[got.length - 1], 0xff, "records decode as a view of the request");
  });

  it("Fetch v11 response with one partition and a records buffer", () => {
    const records = hex("aabbccddeeff00112233445566");
    const golden = hex(`
      00000000            throttle time
      0000                error code
      00000011            session id 17
      00000001 0001 74    topic "t"
      00000001            one partition
      00000000 0000       partition 0, error 0
      000000000000000a    high watermark 10
      0000000000000009    last stable offset 9
      0000000000000000    log start offset 0
      00000000            aborted transactions: empty
      ffffffff            preferred read replica -1 (default)
      0000000d aabbccddeeff00112233445566`);
    const body: FetchResponse = {
      sessionId: 17,
      responses: [
        {
          topic: "t",
          partitions: [
            { partitionIndex: 0, highWatermark: 10, lastStableOffset: 9, logStartOffset: 0, records },
          ],
        },
      ],
    };
    assert.deepStrictEqual(encodeToBuffer(FetchResponseSchema, 11, body), golden);
    const decoded = decodeFromBuffer(FetchResponseSchema, 11, golden);
    assert.deepStrictEqual(decoded.responses?.[0]?.partitions?.[0]?.records, records);
  });

  it("Fetch v11 response sends large record batches by reference", () => {
    const batchA = Buffer.alloc(ZERO_COPY_MIN_BYTES, 1);
    const batchB = Buffer.alloc(ZERO_COPY_MIN_BYTES + 10, 2);
    const body: FetchResponse = {
      responses: [{ topic: "t", partitions: [{ partitionIndex: 0, records: [batchA, batchB] }] }],
    };
    const chunks = encodeResponseFrame(FetchResponseSchema, 11, 5, body);
    assert.equal(chunks.length, 3, "header+fields, batch A, batch B");
    assert.equal(chunks[1], batchA);
    assert.equal(chunks[2], batchB);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    assert.equal(chunks[0].readInt32BE(0), total - 4, "frame length covers all chunks");
    const head = chunks[0];
    assert.equal(head.readInt32BE(head.length - 4), batchA.length + batchB.length, "records length prefix");
    const decoded = decodeResponseFrame(FetchResponseSchema, 11, frameBody(chunks));
    assert.deepStrictEqual(
      decoded.body.responses?.[0]?.partitions?.[0]?.records,
      Buffer.concat([batchA, batchB]),
    );
  });

  it("Fetch v16 response: tagged struct and top-level tagged array", () => {
    const topicId = Buffer.alloc(16, 0x11).toString("base64url");
    const golden = hex(`
      00000000 0000 00000000        throttle, error, session
      02                            one topic
      11111111111111111111111111111111  topic id
      02                            one partition
      00000000 0006                 partition 0, NOT_LEADER_OR_FOLLOWER
      ffffffffffffffff ffffffffffffffff ffffffffffffffff   hw, lso, log start: -1
      00                            aborted transactions: null
      ffffffff                      preferred read replica -1
      00                            records: null
      01 01 09                      one tagged field: tag 1 (CurrentLeader), 9 bytes
      00000001 00000002 00          leader 1, epoch 2, struct tagged fields
      00                            topic tagged fields
      01 00 0d                      one tagged field: tag 0 (NodeEndpoints), 13 bytes
      02 00000001 0268 00002384 00 00   node 1 "h":9092 rack null`);
    const body: FetchResponse = {
      responses: [
        {
          topicId,
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 6,
              highWatermark: -1,
              lastStableOffset: -1,
              logStartOffset: -1,
              abortedTransactions: null,
              records: null,
              currentLeader: { leaderId: 1, leaderEpoch: 2 },
              divergingEpoch: { epoch: -1, endOffset: -1 },
            },
          ],
        },
      ],
      nodeEndpoints: [{ nodeId: 1, host: "h", port: 9092, rack: null }],
    };
    assert.deepStrictEqual(encodeToBuffer(FetchResponseSchema, 16, body), golden);
    const p = decodeFromBuffer(FetchResponseSchema, 16, golden).responses?.[0]?.partitions?.[0];
    assert.deepStrictEqual(p?.currentLeader, { leaderId: 1, leaderEpoch: 2 });
    assert.deepStrictEqual(
      p?.snapshotId,
      { endOffset: -1, epoch: -1 },
      "absent tagged struct decodes to defaults",
    );
  });

  it("JoinGroup v5 (classic) and v6 (first flexible) requests", () => {
    const body: JoinGroupRequest = {
      groupId: "g",
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: 60000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: hex("010203") }],
      reason: null,
    };
    const v5 = hex(`
      0001 67             group "g"
      00007530 0000ea60   session 30000, rebalance 60000
      0000                member id ""
      ffff                group instance id null
      0008 636f6e73756d6572   "consumer"
      00000001 0005 72616e6765 00000003 010203`);
    const v6 = hex(`
      02 67
      00007530 0000ea60
      01                  member id "" (compact: 0 + 1)
      00                  group instance id null (compact)
      09 636f6e73756d6572
      02 06 72616e6765 04 010203 00   one protocol + its tagged fields
      00`);
    assert.deepStrictEqual(encodeToBuffer(JoinGroupRequestSchema, 5, body), v5);
    assert.deepStrictEqual(encodeToBuffer(JoinGroupRequestSchema, 6, body), v6);
    assert.deepStrictEqual(decodeFromBuffer(JoinGroupRequestSchema, 5, v5), body);
    assert.deepStrictEqual(decodeFromBuffer(JoinGroupRequestSchema, 6, v6), body);
  });

  it("OffsetCommit v8 (first flexible) request", () => {
    const golden = hex(`
      02 67               group "g"
      00000001            generation 1
      02 6d               member "m"
      00                  group instance id null
      02 02 74            one topic "t"
      02                  one partition
      00000000 0000000000000064 ffffffff   partition 0, offset 100, leader epoch -1
      01                  metadata ""
      00 00 00            partition, topic, message tagged fields`);
    const body = {
      groupId: "g",
      generationIdOrMemberEpoch: 1,
      memberId: "m",
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: "t",
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 100,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: "",
            },
          ],
        },
      ],
    };
    assert.deepStrictEqual(encodeToBuffer(OffsetCommitRequestSchema, 8, body), golden);
    assert.deepStrictEqual(decodeFromBuffer(OffsetCommitRequestSchema, 8, golden), body);
  });

  it("int64 accepts numbers and bigints and rejects unsafe numbers", () => {
    const w = new Writer();
    w.int64(-1)
      .int64(2 ** 53 - 1)
      .int64(-(2n ** 63n))
      .int64(0x0102030405060708n);
    assert.deepStrictEqual(
      w.toBuffer(),
      hex("ffffffffffffffff 001fffffffffffff 8000000000000000 0102030405060708"),
    );
    assert.throws(() => new Writer().int64(2 ** 53), { name: "KafkaEncodeError", code: "INVALID_VALUE" });
  });
});
