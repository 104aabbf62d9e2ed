/**
 * Bad input over the Kafka protocol: each rule of the foundation issue, against a real server.
 * After every case the server must still answer a well-formed request on a new connection.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { encodeBatch } from "../src/log/records.js";
import { ErrorCode } from "../src/protocol/kafka/generated/error-codes.js";
import {
  ApiVersions,
  CreateTopics,
  Fetch,
  ListOffsets,
  Metadata,
  Produce,
  type ProduceRequest,
} from "../src/protocol/kafka/generated/messages.js";
import { fetchBody } from "./helpers/fetch-request.js";
import { produceBody } from "./helpers/produce-request.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

async function assertAlive(): Promise<void> {
  const c = await RawKafka.connect(server.kafkaAddress);
  try {
    const r = await c.request(ApiVersions, 0, { clientSoftwareName: "", clientSoftwareVersion: "" });
    assert.equal(r.body.errorCode, 0);
  } finally {
    c.close();
  }
}

async function produce(c: RawKafka, body: ProduceRequest, version = 7) {
  const r = await c.request(Produce, version, body);
  return r.body.responses![0]!.partitionResponses![0]!;
}

const batch = (n = 3) =>
  encodeBatch({
    records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`value-${i}`) })),
  });

describe("Kafka bad input", { timeout: 60_000 }, () => {
  before(async () => {
    server = await startServer({ args: ["--frame-max-bytes", String(1024 * 1024)] });
    const c = await RawKafka.connect(server.kafkaAddress);
    const r = await c.request(CreateTopics, 3, {
      topics: [
        {
          name: "bad-input",
          numPartitions: 2,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: "max.message.bytes", value: "2000" }],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(r.body.topics![0]!.errorCode, 0);
    c.close();
  });
  after(async () => {
    await server.dispose();
  });

  it("closes the connection on a frame larger than the limit, before reading it", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const header = Buffer.alloc(4);
    header.writeInt32BE(1024 * 1024 + 1);
    c.sendRaw(header); // only the length: the server must not wait for 1 MiB to decide
    assert.equal(await c.waitClosed(), true);
    await assertAlive();
  });

  it("closes the connection on negative and too-small lengths", async () => {
    for (const len of [-1, -2147483648, 0, 3]) {
      const c = await RawKafka.connect(server.kafkaAddress);
      const b = Buffer.alloc(12);
      b.writeInt32BE(len);
      c.sendRaw(b);
      assert.equal(await c.waitClosed(), true, `length ${len}`);
    }
    await assertAlive();
  });

  it("closes the connection on an unknown API key", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const f = Buffer.alloc(4 + 10);
    f.writeInt32BE(10);
    f.writeInt16BE(9999, 4);
    f.writeInt16BE(0, 6);
    f.writeInt32BE(7, 8);
    f.writeInt16BE(-1, 12);
    c.sendRaw(f);
    assert.equal(await c.waitClosed(), true);
    await assertAlive();
  });

  it("answers an unsupported ApiVersions version with error 35 and a v0 body listing our ranges", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    // ApiVersions v99: header v2 (flexible), whose body we must not need to parse.
    const f = Buffer.from([0, 0, 0, 12, 0, 18, 0, 99, 0, 0, 0, 42, 0xff, 0xff, 0, 0]);
    c.sendRaw(f);
    const frame = await c.nextFrame();
    assert.ok(frame);
    assert.equal(frame.readInt32BE(0), 42); // correlation id, response header v0
    assert.equal(frame.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION);
    const count = frame.readInt32BE(6);
    const ranges = new Map<number, [number, number]>();
    for (let i = 0; i < count; i++) {
      const o = 10 + i * 6;
      ranges.set(frame.readInt16BE(o), [frame.readInt16BE(o + 2), frame.readInt16BE(o + 4)]);
    }
    assert.equal(frame.length, 10 + count * 6, "a v0 body has nothing after the array");
    assert.deepEqual(ranges.get(18), [0, 3]);
    assert.deepEqual(ranges.get(0), [0, 8]);
    assert.deepEqual(ranges.get(1), [4, 13]);
    c.close();
  });

  it("closes the connection on an unsupported version of another API", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    c.sendRaw(c.encodeRequest(0, 9, Produce.request, produceBody("bad-input", 0, batch())));
    assert.equal(await c.waitClosed(), true);
    await assertAlive();
  });

  it("closes the connection on truncated and garbled requests, and never writes a half batch", async () => {
    const c0 = await RawKafka.connect(server.kafkaAddress);
    const full = c0.encodeRequest(0, 7, Produce.request, produceBody("bad-input", 1, batch(5)));
    c0.close();
    const before = await highWatermark("bad-input", 1);
    // Cut the body at many points but keep the frame length consistent with what is sent.
    for (const keep of [10, 14, 20, 30, full.length - 40, full.length - 1]) {
      const c = await RawKafka.connect(server.kafkaAddress);
      const body = Buffer.from(full.subarray(4, keep));
      const frame = Buffer.alloc(4 + body.length);
      frame.writeInt32BE(body.length);
      body.copy(frame, 4);
      c.sendRaw(frame);
      const res = await Promise.race([
        c.waitClosed(3000).then((closed) => (closed ? "closed" : "open")),
        c.nextFrame(3000).then(() => "answered"),
      ]);
      assert.ok(res === "closed" || res === "answered", `cut at ${keep}: ${res}`);
      c.close();
    }
    // Huge array counts: topics count 2^31-1 in a Metadata v1 request.
    const c = await RawKafka.connect(server.kafkaAddress);
    const m = Buffer.from([0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    c.sendRaw(m);
    assert.equal(await c.waitClosed(), true);
    assert.equal(await highWatermark("bad-input", 1), before, "no partial batch was appended");
    await assertAlive();
  });

  it("rejects a batch with a bad CRC with CORRUPT_MESSAGE and appends nothing", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const b = batch();
    b[b.length - 1]! ^= 0xff;
    const before = await highWatermark("bad-input", 0);
    const r = await produce(c, produceBody("bad-input", 0, b));
    assert.equal(r.errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal(await highWatermark("bad-input", 0), before);
    // A batch whose length field disagrees with the bytes sent is corrupt too.
    const b2 = batch();
    b2.writeInt32BE(b2.readInt32BE(8) + 100, 8);
    assert.equal((await produce(c, produceBody("bad-input", 0, b2))).errorCode, ErrorCode.CORRUPT_MESSAGE);
    c.close();
  });

  it("rejects a batch above max.message.bytes with MESSAGE_TOO_LARGE", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const big = encodeBatch({ records: [{ key: null, value: Buffer.alloc(3000, 1) }] });
    const r = await produce(c, produceBody("bad-input", 0, big));
    assert.equal(r.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    c.close();
  });

  it("rejects old magic, control batches and two batches in one partition", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const old = batch();
    old.writeInt8(1, 16);
    assert.equal(
      (await produce(c, produceBody("bad-input", 0, old))).errorCode,
      ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    );
    // Produce v2 with a magic-1 message set (offset, size, crc, magic 1, attributes, timestamp, key, value).
    const v1 = Buffer.alloc(8 + 4 + 4 + 1 + 1 + 8 + 4 + 4 + 1);
    v1.writeInt32BE(v1.length - 12, 8);
    v1.writeInt8(1, 16);
    v1.writeInt32BE(-1, 26);
    v1.writeInt32BE(1, 30);
    assert.equal(
      (await produce(c, produceBody("bad-input", 0, v1), 2)).errorCode,
      ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    );
    const control = encodeBatch({
      records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(6) }],
      attributes: 0x20,
    });
    assert.equal(
      (await produce(c, produceBody("bad-input", 0, control))).errorCode,
      ErrorCode.INVALID_RECORD,
    );
    const two = Buffer.concat([batch(), batch()]);
    assert.equal((await produce(c, produceBody("bad-input", 0, two))).errorCode, ErrorCode.INVALID_RECORD);
    // Record count that disagrees with lastOffsetDelta, with the CRC fixed up so only the count is wrong.
    const lying = batch(3);
    lying.writeInt32BE(1000, 57);
    lying.writeUInt32BE(crc32c(lying.subarray(21)), 17);
    assert.equal((await produce(c, produceBody("bad-input", 0, lying))).errorCode, ErrorCode.INVALID_RECORD);
    c.close();
  });

  it("answers INVALID_TOPIC_EXCEPTION for invalid topic names", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    for (const name of ["bad topic", "..", "x".repeat(250), "ümlaut"]) {
      const r = await c.request(Metadata, 4, {
        topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name }],
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(r.body.topics![0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, name);
      const ct = await c.request(CreateTopics, 3, {
        topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 1000,
        validateOnly: false,
      });
      assert.equal(ct.body.topics![0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, name);
    }
    c.close();
  });

  it("answers UNKNOWN_TOPIC_OR_PARTITION for unknown partitions in Produce and Fetch", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    assert.equal(
      (await produce(c, produceBody("bad-input", 7, batch()))).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    const f = await c.request(Fetch, 11, fetchBody("bad-input", 9, 0, { minBytes: 1 }));
    assert.equal(f.body.responses![0]!.partitions![0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    c.close();
  });

  it("closes on a bad length prefix pipelined behind a request it is still handling", async () => {
    // Regression (found by oncedb fuzz): while a non-Produce request is handled the connection
    // is muted; the absurd length behind it must still be seen and close the connection.
    const c = await RawKafka.connect(server.kafkaAddress);
    const metadata = c.encodeRequest(3, 4, Metadata.request, {
      topics: null,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const bad = Buffer.from([0x66, 0x6b, 0x55, 0x0a, 1, 2, 3, 4]);
    c.sendRaw(Buffer.concat([metadata, bad]));
    // The hostile frame is seen while the Metadata request is handled: the connection closes
    // (whether the Metadata answer made it out first does not matter).
    assert.equal(await c.waitClosed(), true);
    await assertAlive();
  });

  it("closes at once on a bad length prefix behind a parked long poll", async () => {
    // Regression (found by oncedb fuzz): a request that waits (a 20 s Fetch long poll here,
    // a JoinGroup in the fuzzer) must not delay the rejection of a hostile frame behind it.
    const c = await RawKafka.connect(server.kafkaAddress);
    const offset = await highWatermark("bad-input", 0);
    const poll = c.encodeRequest(
      1,
      11,
      Fetch.request,
      fetchBody("bad-input", 0, offset, { maxWaitMs: 20_000, minBytes: 1 << 30 }),
    );
    // In one write, as a pipelining client sends them: a muted connection stops reading its
    // socket (as Kafka's does), so only frames already received can be checked early.
    c.sendRaw(Buffer.concat([poll, Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])]));
    assert.equal(await c.waitClosed(3000), true, "closed well before the 20 s poll ends");
    await assertAlive();
  });

  it("answers ListOffsets by timestamp over a batch whose records do not parse", async () => {
    // Regression (found by oncedb fuzz): batches are stored after header and CRC checks only;
    // looking inside one with a lying record length once looped without bound.
    const c = await RawKafka.connect(server.kafkaAddress);
    const b = encodeBatch({
      records: [{ key: null, value: Buffer.from("x"), timestampMs: 5000 }],
      nowMs: 5000,
    });
    b.writeInt8(1, 61); // record length varint: -1
    b.writeUInt32BE(crc32c(b.subarray(21)), 17);
    const r = await produce(c, produceBody("bad-input", 1, b));
    assert.equal(r.errorCode, 0);
    const lo = await c.request(ListOffsets, 4, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: "bad-input",
          partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 4000, maxNumOffsets: 1 }],
        },
      ],
      timeoutMs: 1000,
    });
    const p = lo.body.topics![0]!.partitions![0]!;
    assert.equal(p.errorCode, 0);
    assert.equal(Number(p.offset), Number(r.baseOffset), "falls back to the batch's first offset");
    c.close();
  });

  it("answers OFFSET_OUT_OF_RANGE for a fetch beyond the high watermark", async () => {
    const c = await RawKafka.connect(server.kafkaAddress);
    const hw = await highWatermark("bad-input", 0);
    const f = await fetchOnce(c, "bad-input", 0, hw + 10);
    assert.equal(f.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    c.close();
  });
});

async function fetchOnce(c: RawKafka, topic: string, partition: number, offset: number) {
  const f = await c.request(Fetch, 11, fetchBody(topic, partition, offset));
  return f.body.responses![0]!.partitions![0]!;
}

async function highWatermark(topic: string, partition: number): Promise<number> {
  const c = await RawKafka.connect(server.kafkaAddress);
  try {
    return Number((await fetchOnce(c, topic, partition, 0)).highWatermark);
  } finally {
    c.close();
  }
}
