/**
 * Fetch answers travel from the read workers through a shared arena (src/util/region-allocator.ts)
 * whose regions are reused as soon as the socket is done with them. Here an embedded OnceDB
 * serves consumers that hang up in the middle of multi-MiB answers, before them, and after
 * reading part of them; each of those answers' regions must come back (or later answers would
 * fall back to the slower transferred buffers, and a leak would grow without bound), and a
 * kafkajs consumer afterwards must still read every value intact, through the arena.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { OnceDB } from "../src/index.js";
import { Fetch } from "../src/protocol/kafka/generated/messages.js";
import { fetchBody } from "./helpers/fetch-request.js";
import { kafkaClient } from "./helpers/kafka.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { waitFor } from "./helpers/wait.js";

const RECORDS = 1_200;
const VALUE_BYTES = 10_000; // 12 MB in all: a dozen leaked answers would far outgrow both workers' 40 MiB arenas
const HANG_UPS = 12;

describe("fetch answers through the read arena", { timeout: 120_000 }, () => {
  let db: OnceDB;
  let dataDir: string;
  const topic = "arena";
  const sent: string[] = [];

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-arena-"));
    db = await OnceDB.start({ dataDir, kafka: { host: "127.0.0.1", port: 0 } });
    const producer = kafkaClient(db.addresses.kafka!).producer({ allowAutoTopicCreation: true });
    await producer.connect();
    for (let i = 0; i < RECORDS; i++) sent.push(randomBytes(VALUE_BYTES / 2).toString("hex"));
    for (let i = 0; i < RECORDS; i += 100) {
      await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 100).map((value) => ({ value })) });
    }
    await producer.disconnect();
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("gives back the memory of answers whose consumer hung up, and keeps later answers intact", async () => {
    const before = db.engine.readStats();
    const request = (c: RawKafka) =>
      c.encodeRequest(1, 11, Fetch.request, fetchBody(topic, 0, 0, { maxBytes: 16 * 1024 * 1024 }));
    for (let i = 0; i < HANG_UPS; i++) {
      const c = await RawKafka.connect(db.addresses.kafka!);
      c.sendRaw(request(c));
      if (i % 3 === 1) {
        // Hang up once part of the answer has arrived.
        await c.nextFrame(2000).catch(() => null);
      } else if (i % 3 === 2) {
        // Hang up once the server has the answer, before reading any of it.
        await waitFor(
          () =>
            db.engine.readStats().arenaAnswers + db.engine.readStats().transferredAnswers >
            before.arenaAnswers + i,
          10_000,
          () => "the server never read the answer",
        );
      }
      // i % 3 === 0: hang up at once, likely before the read is done.
      c.close();
    }
    await waitFor(
      () => db.engine.readStats().unreleasedArenaBytes === 0,
      10_000,
      () => `arena bytes never released: ${JSON.stringify(db.engine.readStats())}`,
    );

    const consumer = kafkaClient(db.addresses.kafka!).consumer({
      groupId: "arena-reader",
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value!.toString());
      },
    });
    await waitFor(
      () => got.length >= RECORDS,
      60_000,
      () => `consumed ${got.length} of ${RECORDS}`,
    );
    await consumer.disconnect();
    assert.equal(got.length, RECORDS);
    for (let i = 0; i < RECORDS; i++) assert.equal(got[i], sent[i], `record ${i} intact`);

    const stats = db.engine.readStats();
    assert.equal(stats.transferredAnswers, before.transferredAnswers, "every answer fit the arena");
    assert.ok(stats.arenaAnswers >= before.arenaAnswers + HANG_UPS, "the hung-up answers were read");
    assert.equal(stats.unreleasedArenaBytes, 0);
  });
});
