/**
 * Crash safety: a kafkajs producer (acks -1, not idempotent, retrying) sends 50,000 unique
 * records to a 3-partition topic while the server is killed with SIGKILL and restarted
 * twice. Everything acknowledged must be readable afterwards at the offset its ack reported,
 * and every partition's offsets must be dense. Records whose send failed or was retried may
 * appear more than once (at-least-once), so duplicates are only checked among acked offsets.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { kafkaClient } from "./helpers/kafka.js";
import { TestServer } from "./helpers/server.js";

const TOTAL = 50_000;
const PER_SEND = 250;
const CONCURRENT_SENDS = 4;
const PARTITIONS = 3;
const KILL_AT = [15_000, 35_000];
const DEADLINE_MS = 150_000;

describe("SIGKILL during produce", { timeout: 200_000 }, () => {
  const server = new TestServer();

  after(async () => {
    await server.dispose();
  });

  it("keeps every acknowledged record at its acknowledged offset across two kill -9 restarts", async (t) => {
    await server.start();
    const topic = "crash-kill9";
    const deadline = Date.now() + DEADLINE_MS;
    const setupAdmin = kafkaClient(server.kafkaAddress).admin();
    await setupAdmin.connect();
    await setupAdmin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
    await setupAdmin.disconnect();

    const kafka = kafkaClient(server.kafkaAddress, {
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 50 },
      connectionTimeout: 2000,
    });
    const producer = kafka.producer({
      idempotent: false,
      maxInFlightRequests: CONCURRENT_SENDS,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 50 },
    });
    await producer.connect();

    /** partition -> offset -> value, from acks. */
    const acked = new Map<number, Map<number, string>>();
    for (let p = 0; p < PARTITIONS; p++) acked.set(p, new Map());
    let ackedCount = 0;
    let failedSends = 0;
    let nextSend = 0;
    const sendCount = TOTAL / PER_SEND;

    async function sendOne(index: number): Promise<void> {
      const values = Array.from({ length: PER_SEND }, (_, i) => `v-${index * PER_SEND + i}`);
      const messages = values.map((value, i) => ({ value, partition: (index * PER_SEND + i) % PARTITIONS }));
      for (;;) {
        assert.ok(Date.now() < deadline, `send ${index} still failing at the deadline`);
        try {
          const res = await producer.send({ topic, acks: -1, messages });
          const results = new Map(res.map((r) => [r.partition, r]));
          for (let p = 0; p < PARTITIONS; p++) {
            const mine = messages.filter((m) => m.partition === p);
            if (mine.length === 0) continue;
            const r = results.get(p);
            assert.ok(r, `no ack for partition ${p} of send ${index}`);
            assert.equal(r.errorCode, 0);
            const base = Number(r.baseOffset);
            const offsets = acked.get(p)!;
            mine.forEach((m, i) => {
              const prev = offsets.get(base + i);
              assert.equal(prev, undefined, `offset ${p}/${base + i} acked for ${m.value} and ${prev}`);
              offsets.set(base + i, m.value);
            });
          }
          ackedCount += values.length;
          return;
        } catch (err) {
          if ((err as { code?: string }).code === "ERR_ASSERTION") throw err;
          // At-least-once: the whole send is retried; some of it may already be in the log.
          failedSends++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }

    async function worker(): Promise<void> {
      while (nextSend < sendCount) await sendOne(nextSend++);
    }

    let kills = 0;
    let producing = true;
    async function chaos(): Promise<void> {
      for (const threshold of KILL_AT) {
        while (producing && ackedCount < threshold) {
          assert.ok(Date.now() < deadline, `stuck at ${ackedCount} acked records`);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (!producing) return;
        await server.kill();
        kills++;
        await server.start();
      }
    }

    const chaosDone = chaos();
    try {
      await Promise.all(Array.from({ length: CONCURRENT_SENDS }, () => worker()));
    } finally {
      producing = false;
      await chaosDone;
      await producer.disconnect().catch(() => {});
    }
    assert.equal(kills, KILL_AT.length, "the server was not killed as often as planned");
    assert.equal(ackedCount, TOTAL);

    // Read everything back.
    const reader = kafkaClient(server.kafkaAddress);
    const admin = reader.admin();
    await admin.connect();
    const wm = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const high = new Map(wm.map((o) => [o.partition, Number(o.high)]));
    for (const o of wm) assert.equal(o.low, "0");

    const log = new Map<number, { offset: number; value: string }[]>();
    for (let p = 0; p < PARTITIONS; p++) log.set(p, []);
    const consumer = reader.consumer({ groupId: "crash-kill9-reader", maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const into = log.get(batch.partition)!;
          for (const m of batch.messages) into.push({ offset: Number(m.offset), value: m.value!.toString() });
        },
      });
      const done = () => [...log].every(([p, msgs]) => msgs.length >= high.get(p)!);
      while (!done()) {
        const counts = [...log].map(([p, m]) => `${p}: ${m.length}/${high.get(p)}`).join(", ");
        assert.ok(Date.now() < deadline + 30_000, `reading back timed out: ${counts}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await consumer.disconnect();
    }

    const present = new Set<string>();
    for (let p = 0; p < PARTITIONS; p++) {
      const msgs = log.get(p)!;
      // Dense and increasing: exactly offsets 0..hw-1, in order.
      assert.equal(
        msgs.length,
        high.get(p),
        `partition ${p}: read ${msgs.length}, high watermark ${high.get(p)}`,
      );
      msgs.forEach((m, i) => {
        if (m.offset !== i) assert.fail(`partition ${p}: position ${i} holds offset ${m.offset}`);
      });
      // Every acked record sits at the offset its ack reported.
      for (const [offset, value] of acked.get(p)!) {
        const at = msgs[offset];
        if (at?.value !== value)
          assert.fail(`partition ${p} offset ${offset}: acked ${value}, found ${at?.value}`);
      }
      for (const m of msgs) present.add(m.value);
    }
    for (let i = 0; i < TOTAL; i++) {
      if (!present.has(`v-${i}`)) assert.fail(`acked value v-${i} is missing`);
    }
    // Nothing appears that was never sent.
    for (const v of present) assert.match(v, /^v-\d+$/);
    const stored = [...high.values()].reduce((a, b) => a + b, 0);
    assert.ok(stored >= TOTAL, `stored ${stored} < ${TOTAL}`);
    t.diagnostic(`kills=${kills} failedSends=${failedSends} stored=${stored} duplicates=${stored - TOTAL}`);
  });
});
