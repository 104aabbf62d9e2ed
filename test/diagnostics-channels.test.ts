/**
 * The diagnostics channels (src/util/diagnostics.ts) seen from a subscriber in the same process
 * as an embedded OnceDB, with a real kafkajs producer over a real socket: every acks=-1 Produce
 * is reported, its timings are in order, and its answer came after the durable commit that
 * holds it (the acknowledgement rule, checked from outside the engine).
 */
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Producer } from "kafkajs";
import { OnceDB } from "../src/index.js";
import type { CommitEvent, KafkaRequestEvent } from "../src/util/diagnostics.js";
import { kafkaClient } from "./helpers/kafka.js";

/** Times from two threads are compared on the same wall clock; allow for its rounding. */
const CROSS_THREAD_SLACK_MS = 1;
const PRODUCE = 0;

describe("diagnostics channels", { timeout: 60_000 }, () => {
  let db: OnceDB;
  let dataDir: string;
  let producer: Producer;
  const commits: CommitEvent[] = [];
  const requests: KafkaRequestEvent[] = [];
  const onCommit = (m: unknown) => commits.push(m as CommitEvent);
  const onRequest = (m: unknown) => requests.push(m as KafkaRequestEvent);

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-diag-"));
    diagnostics.subscribe("oncedb:storage:commit", onCommit);
    diagnostics.subscribe("oncedb:kafka:request", onRequest);
    db = await OnceDB.start({ dataDir, kafka: { host: "127.0.0.1", port: 0 } });
    producer = kafkaClient(db.addresses.kafka!).producer({ allowAutoTopicCreation: true });
    await producer.connect();
  });

  after(async () => {
    diagnostics.unsubscribe("oncedb:storage:commit", onCommit);
    diagnostics.unsubscribe("oncedb:kafka:request", onRequest);
    await producer?.disconnect();
    await db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("reports each Produce after the durable commit that holds it", async () => {
    const sends = 20;
    for (let i = 0; i < sends; i++) {
      await producer.send({ topic: "diag", acks: -1, messages: [{ value: `v${i}` }] });
    }
    const produces = requests.filter((r) => r.apiKey === PRODUCE);
    assert.equal(produces.length, sends, "one event per Produce request");
    assert.ok(
      requests.some((r) => r.apiKey === 3),
      "Metadata requests are reported too",
    );
    for (const c of commits) {
      assert.ok(c.ops > 0);
      assert.ok(c.submittedAt <= c.sentAt, "submitted before sent");
      assert.ok(c.sentAt <= c.startedAt + CROSS_THREAD_SLACK_MS, "sent before the writer began");
      assert.ok(c.startedAt <= c.endedAt, "began before it ended");
      assert.ok(c.endedAt <= c.doneAt + CROSS_THREAD_SLACK_MS, "ended before the main thread heard");
    }
    for (const p of produces) {
      assert.ok(p.receivedAt <= p.answeredAt && p.answeredAt <= p.writtenAt, "timings in order");
      assert.ok(p.responseBytes > 0);
      // The commit holding the batch was handed to the writer after the request arrived.
      const durable = commits.find((c) => c.sentAt >= p.receivedAt && c.doneAt <= p.answeredAt);
      assert.ok(
        durable,
        `a commit sent after the request and durable before its answer (${JSON.stringify(p)})`,
      );
    }
  });

  it("publishes nothing once nobody listens", async () => {
    diagnostics.unsubscribe("oncedb:storage:commit", onCommit);
    diagnostics.unsubscribe("oncedb:kafka:request", onRequest);
    const before = { commits: commits.length, requests: requests.length };
    await producer.send({ topic: "diag", acks: -1, messages: [{ value: "quiet" }] });
    assert.deepEqual({ commits: commits.length, requests: requests.length }, before);
  });
});
