/** Kafka helpers for scenarios: topic creation, and running a load process against a server with CPU metering. */
import { Kafka, logLevel } from "kafkajs";
import type { ClientProducerConfig, ClientProducerResult } from "../load/client-producer.js";
import type { FillConfig, FillResult } from "../load/kafka-fill.js";
import type { PreencodedConfig, PreencodedResult } from "../load/kafka-preencoded.js";
import { type LoadMessage, LoadProcess, runMeteredPid } from "./child.js";
import type { OnceServer } from "./server.js";

export interface TopicInfo {
  partitions: number;
  createMs: number;
  how: string;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, rej) => {
        t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * Creates `topic` with `partitions` through kafkajs admin createTopics; if that fails, falls back to
 * auto-create through Metadata and reports how many partitions the topic actually has.
 */
export async function createTopic(
  broker: string,
  topic: string,
  partitions: number,
  timeoutMs = 120_000,
  configs: Record<string, string> = {},
): Promise<TopicInfo> {
  const kafka = new Kafka({
    clientId: "oncedb-bench-admin",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  const t0 = performance.now();
  let how = "admin createTopics";
  try {
    await withTimeout(admin.connect(), 15_000, "admin connect");
    try {
      await withTimeout(
        admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: partitions,
              replicationFactor: 1,
              configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
            },
          ],
          waitForLeaders: true,
          timeout: timeoutMs,
        }),
        timeoutMs,
        "createTopics",
      );
    } catch (e) {
      how = `metadata auto-create (createTopics failed: ${e instanceof Error ? e.message : String(e)})`;
    }
    const createMs = performance.now() - t0;
    const md = await withTimeout(admin.fetchTopicMetadata({ topics: [topic] }), 60_000, "fetchTopicMetadata");
    const n = md.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    return { partitions: n, createMs, how };
  } finally {
    await withTimeout(admin.disconnect(), 5000, "admin disconnect").catch(() => undefined);
  }
}

/** Sum of the high watermarks of `topic`'s partitions (records stored, when it started empty). */
export async function highWatermarkSum(broker: string, topic: string): Promise<number> {
  const kafka = new Kafka({
    clientId: "oncedb-bench-admin",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect(), 15_000, "admin connect");
    const offs = await withTimeout(admin.fetchTopicOffsets(topic), 30_000, "fetchTopicOffsets");
    return offs.reduce((a, o) => a + Number(o.high), 0);
  } finally {
    await withTimeout(admin.disconnect(), 5000, "admin disconnect").catch(() => undefined);
  }
}

export interface Metered<R> {
  result: R;
  /** Server CPU in cores over the load's measurement window. */
  serverCpu: number;
  serverRssMB: number;
  loadPid: number;
}

/** Runs a load script against `server`, sampling the server's CPU at the load's window-start/window-end. */
export async function runMetered<R>(
  server: OnceServer,
  script: string,
  config: unknown,
  timeoutMs: number,
  onMessage?: (m: LoadMessage) => void,
): Promise<Metered<R>> {
  const m = await runMeteredPid<R>(server.pid, script, config, timeoutMs, onMessage);
  return { ...m, serverRssMB: server.rssBytes() / 2 ** 20 };
}

export function preencodedConfig(
  server: OnceServer,
  o: Partial<PreencodedConfig> & { topic: string },
): PreencodedConfig {
  return {
    host: server.kafkaHost,
    port: server.kafkaPort,
    partitionCount: 1,
    partitionsPerRequest: 1,
    recordsPerBatch: 1000,
    valueBytes: 100,
    connections: 1,
    inflight: 8,
    warmupMs: 1000,
    durationMs: 5000,
    bucketMs: 250,
    acks: -1,
    ...o,
  };
}

export function runPreencoded(server: OnceServer, cfg: PreencodedConfig): Promise<Metered<PreencodedResult>> {
  return runMetered<PreencodedResult>(
    server,
    "kafka-preencoded",
    cfg,
    cfg.warmupMs + cfg.durationMs + 90_000,
  );
}

export function clientProducerConfig(
  server: OnceServer,
  o: Partial<ClientProducerConfig> & { topic: string },
): ClientProducerConfig {
  return {
    client: "kafkajs",
    broker: server.kafkaAddress,
    producers: 1,
    concurrency: 4,
    messagesPerSend: 1000,
    valueBytes: 100,
    warmupMs: 1000,
    durationMs: 5000,
    bucketMs: 250,
    acks: -1,
    ...o,
  };
}

export function runClientProducer(
  server: OnceServer,
  cfg: ClientProducerConfig,
): Promise<Metered<ClientProducerResult>> {
  return runMetered<ClientProducerResult>(
    server,
    "client-producer",
    cfg,
    cfg.warmupMs + cfg.durationMs + 90_000,
  );
}

/**
 * Fills `topic` with exactly `batchesPerPartition` pre-encoded batches per partition (acks=-1) in
 * its own process; `timestamp` is the CreateTime of every record (default: now).
 */
export async function fillTopic(
  server: OnceServer,
  o: Partial<FillConfig> & { topic: string; partitions: number; batchesPerPartition: number },
  onProgress?: (acked: number, total: number) => void,
): Promise<FillResult> {
  const cfg: FillConfig = {
    host: server.kafkaHost,
    port: server.kafkaPort,
    recordsPerBatch: 1000,
    valueBytes: 100,
    timestamp: Date.now(),
    connections: 2,
    inflight: 4,
    maxMs: 20 * 60_000,
    ...o,
  };
  const p = new LoadProcess("kafka-fill", cfg);
  if (onProgress)
    p.onEvery((m) => {
      if (m.type === "progress") onProgress(Number(m.acked), Number(m.total));
    });
  return p.result<FillResult>(cfg.maxMs + 30_000);
}
