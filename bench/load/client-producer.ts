/**
 * Load generator: a real Node Kafka client's producers (kafkajs, or @platformatic/kafka), acks=-1,
 * `send` with ~1,000 messages, several sends in flight. The same loop and measurement for both,
 * so their figures compare the clients, not two harnesses.
 */
import { randomFillSync } from "node:crypto";
import { Producer as PlatformaticProducer } from "@platformatic/kafka";
import { Kafka, logLevel } from "kafkajs";
import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import { Buckets, loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export type ProducerClient = "kafkajs" | "platformatic";

/** One producer of either client: sends the prepared ~1,000 values and resolves when acknowledged. */
interface ClientProducer {
  send(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClientProducerConfig {
  client: ProducerClient;
  broker: string;
  topic: string;
  producers: number;
  /** Concurrent `send` calls per producer. */
  concurrency: number;
  messagesPerSend: number;
  valueBytes: number;
  warmupMs: number;
  durationMs: number;
  bucketMs: number;
  acks: number;
}

export interface ClientProducerResult {
  records: number;
  /** Records acknowledged over the whole run, including the metadata-priming send. */
  ackedTotal: number;
  sends: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  sendLatencyMs: Percentiles;
  errors: number;
  firstError: string;
  clientCpu: number;
  series: [number, number][];
}

async function openProducer(cfg: ClientProducerConfig, values: readonly Buffer[]): Promise<ClientProducer> {
  if (cfg.client === "kafkajs") {
    const kafka = new Kafka({
      clientId: "oncedb-bench-kafkajs",
      brokers: [cfg.broker],
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, initialRetryTime: 100 },
    });
    const messages = values.map((value) => ({ value }));
    const p = kafka.producer({ allowAutoTopicCreation: true, idempotent: false });
    await p.connect();
    return {
      send: async (count) => {
        await p.send({ topic: cfg.topic, acks: cfg.acks, messages: messages.slice(0, count) });
      },
      close: () => p.disconnect(),
    };
  }
  const p = new PlatformaticProducer({
    clientId: "oncedb-bench-platformatic",
    bootstrapBrokers: [cfg.broker],
    acks: cfg.acks,
    retries: 2,
  });
  const messages = values.map((value) => ({ topic: cfg.topic, value }));
  return {
    send: async (count) => {
      await p.send({ messages: messages.slice(0, count) });
    },
    close: () => p.close(),
  };
}

async function main(): Promise<ClientProducerResult> {
  const cfg = loadConfig<ClientProducerConfig>();
  const pool = randomFillSync(Buffer.alloc(cfg.valueBytes * cfg.messagesPerSend));
  const values: Buffer[] = [];
  for (let i = 0; i < cfg.messagesPerSend; i++)
    values.push(pool.subarray(i * cfg.valueBytes, (i + 1) * cfg.valueBytes));

  const producers: ClientProducer[] = [];
  for (let i = 0; i < cfg.producers; i++) producers.push(await openProducer(cfg, values));
  // one send before timing so metadata is loaded
  await producers[0]!.send(1);

  const latency = new Samples(200_000);
  const cpu = new SelfCpu();
  const t0 = performance.now();
  const windowStart = t0 + cfg.warmupMs;
  const windowEnd = windowStart + cfg.durationMs;
  const buckets = new Buckets(t0, cfg.bucketMs);
  let records = 0;
  let ackedTotal = 1;
  let sends = 0;
  let errors = 0;
  let firstError = "";
  let clientCpu = Number.NaN;
  setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, cfg.warmupMs);
  setTimeout(() => {
    clientCpu = cpu.stop();
    send({ type: "window-end" });
  }, cfg.warmupMs + cfg.durationMs);

  const loop = async (p: ClientProducer) => {
    for (let i = 0; i < 10_000_000 && performance.now() < windowEnd; i++) {
      const a = performance.now();
      try {
        await p.send(values.length);
      } catch (e) {
        errors++;
        if (!firstError) firstError = e instanceof Error ? e.message : String(e);
        if (errors > 100) return;
        continue;
      }
      const b = performance.now();
      buckets.add(values.length, b);
      ackedTotal += values.length;
      if (b >= windowStart && b < windowEnd) {
        records += values.length;
        sends++;
        latency.add(b - a);
      }
    }
  };
  const loops: Promise<void>[] = [];
  for (const p of producers) for (let c = 0; c < cfg.concurrency; c++) loops.push(loop(p));
  await Promise.race([
    Promise.all(loops),
    new Promise((r) => setTimeout(r, cfg.warmupMs + cfg.durationMs + 30_000)),
  ]);
  await Promise.race([Promise.all(producers.map((p) => p.close())), new Promise((r) => setTimeout(r, 5000))]);
  const seconds = cfg.durationMs / 1000;
  return {
    records,
    ackedTotal,
    sends,
    seconds,
    recordsPerSec: records / seconds,
    mbPerSec: (records * cfg.valueBytes) / 1e6 / seconds,
    sendLatencyMs: latency.percentiles(),
    errors,
    firstError,
    clientCpu,
    series: buckets.rates(cfg.warmupMs + cfg.durationMs),
  };
}

runMain(main);
