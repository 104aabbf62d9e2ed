/**
 * Idempotent producer under network faults: a kafkajs idempotent producer sends thousands of
 * unique values through the fault proxy, which cuts connections mid-request (the request is
 * lost, truncated or processed) and mid-response (the server wrote the batch, the client never
 * heard). kafkajs resends the identical batch each time; the broker must answer duplicates with
 * the original offsets. Afterwards, read straight from the server: per partition, the values are
 * exactly the sent ones in send order (no duplicate, no loss, no reorder) at the acked offsets.
 *
 * kafkajs 2.2.4 does not refuse `maxInFlightRequests > 1` with `idempotent: true`; it serialises
 * produce requests per broker with its own lock, so both settings are valid with sequential
 * sends. Concurrent send() calls are not used: on a failed request kafkajs rolls its sequence
 * back while another send may already hold the next slot, which can reuse sequence numbers for
 * different records (a client limitation, not something a broker can repair).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type { ISocketFactory, Kafka, RecordMetadata } from "kafkajs";
import { NetProxy, seededRng } from "../src/verify/net-proxy.js";
import { kafkaClient } from "./helpers/kafka.js";
import { TestServer } from "./helpers/server.js";

const PARTITIONS = 2;
/** Bound for every wait in this file. */
const DEADLINE_MS = 90_000;

let server: TestServer;

/** A kafkajs socket factory that sends every connection to the proxy, whatever was advertised. */
function viaProxy(port: number): ISocketFactory {
  return ({ onConnect }) => {
    const s = net.connect({ host: "127.0.0.1", port }, onConnect);
    s.setKeepAlive(true, 60_000);
    return s;
  };
}

interface Read {
  /** partition -> records in offset order */
  byPartition: Map<number, { offset: number; value: string }[]>;
}

/**
 * Reads a topic from the beginning with a fresh group until every partition's position reaches
 * `ends` (positions count control records, which eachMessage never sees).
 */
async function readAll(
  kafka: Kafka,
  topic: string,
  ends: Map<number, number>,
  readUncommitted: boolean,
): Promise<Read> {
  const consumer = kafka.consumer({
    groupId: `reader-${topic}-${Math.random().toString(36).slice(2)}`,
    readUncommitted,
    maxWaitTimeInMs: 200,
  });
  const byPartition = new Map<number, { offset: number; value: string }[]>();
  const position = new Map<number, number>();
  for (const p of ends.keys()) {
    byPartition.set(p, []);
    position.set(p, 0);
  }
  const done = () => [...ends].every(([p, end]) => (position.get(p) ?? 0) >= end);
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const next = Number(payload.lastOffset) + 1;
    if (next > (position.get(payload.partition) ?? 0)) position.set(payload.partition, next);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        byPartition.get(partition)!.push({ offset: Number(message.offset), value: String(message.value) });
      },
    });
    const deadline = Date.now() + DEADLINE_MS;
    while (!done()) {
      assert.ok(
        Date.now() < deadline,
        `reading ${topic} stuck at ${JSON.stringify([...position])}, ends ${JSON.stringify([...ends])}`,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  return { byPartition };
}

async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

interface RunResult {
  /** partition -> values in the order they were sent */
  sent: Map<number, string[]>;
  /** partition -> (acked base offset, values of that send) */
  acks: Map<number, { baseOffset: number; values: string[] }[]>;
  sends: number;
  /** Sends that failed in kafkajs and were resent by the test with the same messages. */
  appRetries: number;
  lastError: string;
}

/**
 * Sends `total` unique values in sends of 1..maxPerSend messages, each message to a random
 * partition, awaiting each send. Every send must succeed: kafkajs retries through the faults.
 */
async function produceThroughFaults(
  kafka: Kafka,
  topic: string,
  total: number,
  maxPerSend: number,
  seed: number,
  maxInFlightRequests: number,
): Promise<RunResult> {
  const rng = seededRng(seed);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 30 },
  });
  const sent = new Map<number, string[]>();
  const acks = new Map<number, { baseOffset: number; values: string[] }[]>();
  for (let p = 0; p < PARTITIONS; p++) {
    sent.set(p, []);
    acks.set(p, []);
  }
  const deadline = Date.now() + DEADLINE_MS;
  let next = 0;
  let sends = 0;
  let appRetries = 0;
  let lastError = "";
  // connect() itself may be cut; sends connect lazily anyway.
  for (let i = 0; ; i++) {
    try {
      await producer.connect();
      break;
    } catch (err) {
      assert.ok(i < 50 && Date.now() < deadline, `producer cannot connect: ${(err as Error).message}`);
    }
  }
  try {
    while (next < total) {
      assert.ok(Date.now() < deadline, `only ${next} of ${total} values sent before the deadline`);
      const n = Math.min(total - next, 1 + Math.floor(rng() * maxPerSend));
      const messages = Array.from({ length: n }, (_, i) => ({
        value: `${topic}-${next + i}`,
        partition: Math.floor(rng() * PARTITIONS),
      }));
      next += n;
      // kafkajs gives up on some fault patterns (e.g. "Broker not connected" from a broker
      // object whose connection died during its handshake). Its sequence numbers are rolled
      // back when a send fails, so resending the identical messages produces the identical
      // batches: the broker must deduplicate them like kafkajs's own retries.
      let res: RecordMetadata[] | null = null;
      while (res === null) {
        assert.ok(Date.now() < deadline, `send of ${next - n}..${next - 1} still failing at the deadline`);
        try {
          res = await producer.send({ topic, acks: -1, messages });
        } catch (err) {
          appRetries++;
          lastError = (err as Error).message;
        }
      }
      sends++;
      for (let p = 0; p < PARTITIONS; p++) {
        const values = messages.filter((m) => m.partition === p).map((m) => m.value);
        if (values.length === 0) continue;
        const r: RecordMetadata | undefined = res.find((x) => x.partition === p);
        assert.ok(r, `no ack for partition ${p}`);
        assert.equal(r.errorCode, 0);
        sent.get(p)!.push(...values);
        acks.get(p)!.push({ baseOffset: Number(r.baseOffset), values });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return { sent, acks, sends, appRetries, lastError };
}

async function verify(direct: Kafka, topic: string, run: RunResult): Promise<void> {
  const ends = await endOffsets(direct, topic);
  for (let p = 0; p < PARTITIONS; p++) {
    // No control records, no duplicates: the end offset is exactly the number sent.
    assert.equal(ends.get(p), run.sent.get(p)!.length, `end offset of partition ${p}`);
  }
  const read = await readAll(direct, topic, ends, true);
  for (let p = 0; p < PARTITIONS; p++) {
    const got = read.byPartition.get(p)!;
    const values = got.map((r) => r.value);
    assert.equal(new Set(values).size, values.length, `duplicates in partition ${p}`);
    // Exactly the sent values, in send order: no gap, no duplicate, no reorder.
    assert.deepEqual(values, run.sent.get(p), `partition ${p} differs from what was sent`);
    // Dense offsets from 0.
    assert.deepEqual(
      got.map((r) => r.offset),
      got.map((_, i) => i),
    );
    // Every ack (including answers to resent duplicates) names where its records really are.
    for (const a of run.acks.get(p)!) {
      assert.deepEqual(
        values.slice(a.baseOffset, a.baseOffset + a.values.length),
        a.values,
        `ack at ${p}/${a.baseOffset}`,
      );
    }
  }
}

describe("idempotent kafkajs producer through a faulty network", { timeout: 200_000 }, () => {
  let proxy: NetProxy;

  before(async () => {
    server = new TestServer();
    await server.start();
    // Whole response frames only: kafkajs 2.2.4 keeps a partly received response across a
    // reconnect and then misparses every later response (see src/verify/net-proxy.ts).
    proxy = new NetProxy({
      target: { host: "127.0.0.1", port: server.kafkaPort },
      rng: seededRng(20240601),
      responseFraming: "int32",
    });
    await proxy.listen();
  });
  after(async () => {
    await proxy?.close();
    await server?.dispose();
  });

  /**
   * Bootstraps with the server's own address, so that kafkajs's seed broker is the broker that
   * Metadata advertises (one broker object, as in production), but every socket goes to the proxy.
   */
  function faultyClient(): Kafka {
    return kafkaClient(server.kafkaAddress, {
      socketFactory: viaProxy(proxy.port),
      retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 10 },
    });
  }

  async function createTopic(direct: Kafka, topic: string): Promise<void> {
    const admin = direct.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
    await admin.disconnect();
  }

  it("writes each value exactly once, in order, when requests and responses are cut (maxInFlight 1)", async (t) => {
    const topic = "idem-proxy-1";
    const direct = kafkaClient(server.kafkaAddress);
    await createTopic(direct, topic);
    const before = proxy.stats;
    proxy.dropMidRequest(0.08, 0.08);
    const viaFaults = faultyClient();
    const run = await produceThroughFaults(viaFaults, topic, 8000, 40, 1, 1);
    proxy.heal();
    const s = proxy.stats;
    const requests = s.droppedRequests - before.droppedRequests;
    const responses = s.droppedResponses - before.droppedResponses;
    // Otherwise the test proves nothing.
    assert.ok(requests >= 10, `only ${requests} requests were cut`);
    assert.ok(responses >= 10, `only ${responses} responses were cut`);
    assert.ok(run.sends > 200);
    t.diagnostic(`cut ${requests} requests and ${responses} responses; ${run.appRetries} sends resent`);
    await verify(direct, topic, run);
  });

  it("also with maxInFlightRequests 5, when mostly responses are lost (every retry is a duplicate)", async (t) => {
    const topic = "idem-proxy-5";
    const direct = kafkaClient(server.kafkaAddress);
    await createTopic(direct, topic);
    const before = proxy.stats;
    proxy.dropMidRequest(0.02, 0.15);
    const viaFaults = faultyClient();
    const run = await produceThroughFaults(viaFaults, topic, 6000, 60, 2, 5);
    proxy.heal();
    const responses = proxy.stats.droppedResponses - before.droppedResponses;
    assert.ok(responses >= 20, `only ${responses} responses were cut`);
    t.diagnostic(`cut ${responses} responses; ${run.appRetries} sends resent`);
    await verify(direct, topic, run);
  });
});
