/**
 * Produce requests that arrive in several socket reads are joined in the writer's staging arena
 * (src/storage/staging-arena.ts) and their batches are written from there in place; the
 * request's region is released once it is answered, or once the connection that sent it is
 * gone. Here an embedded OnceDB takes big batches from kafkajs and from raw connections that
 * hang up mid-request, right after a request, or send a garbled one; every region must come
 * back (a leak would push later requests onto the slower path for good) and every acknowledged
 * record must read back intact.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { OnceDB } from "../src/index.js";
import { encodeBatch } from "../src/log/records.js";
import { Produce } from "../src/protocol/kafka/generated/messages.js";
import { readValues } from "./helpers/consume.js";
import { kafkaClient } from "./helpers/kafka.js";
import { produceBody } from "./helpers/produce-request.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { waitFor } from "./helpers/wait.js";

const SENDS = 20;
const RECORDS_PER_SEND = 50;
const VALUE_BYTES = 4_000; // ~200 KB per request: several socket reads each

describe("produce requests through the staging arena", { timeout: 120_000 }, () => {
  let db: OnceDB;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-staging-"));
    db = await OnceDB.start({ dataDir, kafka: { host: "127.0.0.1", port: 0 } });
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const released = () =>
    waitFor(
      () => db.engine.stagingStats().liveBytes === 0,
      10_000,
      () => `staging regions never released: ${JSON.stringify(db.engine.stagingStats())}`,
    );

  it("writes kafkajs's big batches in place, and they read back intact", async () => {
    const topic = "staged";
    const before = db.engine.stagingStats();
    const kafka = kafkaClient(db.addresses.kafka!);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const sent: string[] = [];
    for (let i = 0; i < SENDS; i++) {
      const values = Array.from({ length: RECORDS_PER_SEND }, () =>
        randomBytes(VALUE_BYTES / 2).toString("hex"),
      );
      sent.push(...values);
      await producer.send({ topic, acks: -1, messages: values.map((value, j) => ({ key: `k${j}`, value })) });
    }
    await producer.disconnect();
    const stats = db.engine.stagingStats();
    assert.ok(
      stats.batchesWrittenInPlace - before.batchesWrittenInPlace >= SENDS,
      `every big request written in place: ${JSON.stringify(stats)}`,
    );
    assert.equal(stats.refused, before.refused, "every request fit the arena");
    await released();

    const { all: got } = await readValues(kafka, topic, new Map([[0, sent.length]]), false, {
      timeoutMs: 60_000,
      pollMs: 50,
    });
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.equal(got[i], sent[i], `record ${i} intact`);
  });

  it("releases the regions of requests whose connection went away or that were refused", async () => {
    const topic = "staged-raw";
    await db.engine.createTopic(topic, 1);
    const value = randomBytes(150_000);
    const frameOf = (c: RawKafka) =>
      c.encodeRequest(
        Produce.apiKey,
        7,
        Produce.request,
        produceBody(topic, 0, encodeBatch({ records: [{ key: null, value }] })),
      );
    const before = db.engine.stagingStats();

    // 1. A request sent whole, the connection closed before its answer: the batch is written
    //    (the server read all of it) and its region comes back.
    for (let i = 0; i < 5; i++) {
      const c = await RawKafka.connect(db.addresses.kafka!);
      c.sendRaw(frameOf(c));
      c.close();
    }
    // 2. Half a request, then a hang-up: nothing is written.
    for (let i = 0; i < 3; i++) {
      const c = await RawKafka.connect(db.addresses.kafka!);
      const f = frameOf(c);
      c.sendRaw(f.subarray(0, f.length >> 1));
      await new Promise((r) => setTimeout(r, 20));
      c.close();
    }
    // 3. A whole request whose body is garbage after the header: refused, connection closed.
    {
      const c = await RawKafka.connect(db.addresses.kafka!);
      const f = frameOf(c);
      const header = 4 + 2 + 2 + 4; // length, api key, version, correlation id
      f.fill(0xff, header + 20);
      c.sendRaw(f);
      assert.equal(await c.waitClosed(), true, "a garbled Produce request closes the connection");
    }
    await waitFor(
      () => db.engine.partition(topic, 0)!.highWatermark === 5,
      10_000,
      () => `high watermark ${db.engine.partition(topic, 0)!.highWatermark}, not 5`,
    );
    await released();
    const stats = db.engine.stagingStats();
    assert.ok(stats.staged - before.staged >= 6, `the whole requests were staged: ${JSON.stringify(stats)}`);
    assert.equal(stats.batchesWrittenInPlace - before.batchesWrittenInPlace, 5);

    // The arena is whole again: a last request is staged and written in place.
    const c = await RawKafka.connect(db.addresses.kafka!);
    const r = await c.request(
      Produce,
      7,
      produceBody(topic, 0, encodeBatch({ records: [{ key: null, value }] })),
    );
    c.close();
    assert.equal(r.body.responses![0]!.partitionResponses![0]!.errorCode, 0);
    assert.equal(r.body.responses![0]!.partitionResponses![0]!.baseOffset, 5);
    assert.equal(db.engine.stagingStats().batchesWrittenInPlace - before.batchesWrittenInPlace, 6);
    await released();
    const batches = db.engine.fetch(topic, 0, 0, 1 << 30, "read_uncommitted").batches;
    assert.equal(batches.length, 6);
    for (const b of batches) assert.ok(b.includes(value), "each written batch holds the value sent");
  });
});
