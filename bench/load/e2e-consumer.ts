/** Load generator: a kafkajs consumer that records produce-to-receipt latency from the time in each value. */
import { Kafka, logLevel } from "kafkajs";
import type { Percentiles } from "../harness/stats.js";
import { percentiles, Samples } from "../harness/stats.js";
import { loadConfig, nextMessage, runMain, SelfCpu, send } from "./ipc.js";

export interface E2eConsumerConfig {
  broker: string;
  topic: string;
  groupId: string;
  maxWaitTimeInMs: number;
  /** Deadline to join the group. */
  joinTimeoutMs: number;
  /** After "stop", wait at most this long for the expected count. */
  drainTimeoutMs: number;
  /** Deadline for the whole process. */
  maxMs: number;
}

export interface E2eConsumerResult {
  received: number;
  measured: number;
  latencyMs: Percentiles;
  joinMs: number;
  clientCpu: number;
  /** [seconds since first measured receipt, p99 ms of that second] */
  p99Series: [number, number][];
}

const wallNow = () => performance.timeOrigin + performance.now();

async function main(): Promise<E2eConsumerResult> {
  const cfg = loadConfig<E2eConsumerConfig>();
  const deadline = setTimeout(() => {
    send({ type: "error", message: "e2e consumer exceeded its deadline" });
    setTimeout(() => process.exit(2), 100);
  }, cfg.maxMs);
  deadline.unref();
  const kafka = new Kafka({
    clientId: "oncedb-bench-e2e-c",
    brokers: [cfg.broker],
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: cfg.groupId,
    minBytes: 1,
    maxWaitTimeInMs: cfg.maxWaitTimeInMs,
    allowAutoTopicCreation: true,
  });
  const lat = new Samples(2_000_000);
  const perSecond: number[][] = [];
  let firstMeasured = 0;
  let received = 0;
  const t0 = performance.now();
  let joinMs = 0;
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joinMs = performance.now() - t0;
      resolve();
    });
  });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      const now = wallNow();
      const tnow = performance.now();
      for (const m of batch.messages) {
        received++;
        const v = m.value;
        if (!v || v.length < 9 || v[8] === 1) continue;
        const l = now - v.readDoubleBE(0);
        lat.add(l);
        if (firstMeasured === 0) firstMeasured = tnow;
        const sec = Math.floor((tnow - firstMeasured) / 1000);
        if (sec < 3600) {
          while (perSecond.length <= sec) perSecond.push([]);
          if (perSecond[sec].length < 100_000) perSecond[sec].push(l);
        }
      }
    },
  });
  await Promise.race([
    joined,
    new Promise((_, rej) =>
      setTimeout(
        () => rej(new Error(`consumer did not join within ${cfg.joinTimeoutMs} ms`)),
        cfg.joinTimeoutMs,
      ),
    ),
  ]);
  send({ type: "ready", joinMs });
  const cpu = new SelfCpu();
  const stop = (await nextMessage("stop", cfg.maxMs)) as unknown as { expected: number };
  for (let i = 0; i < cfg.drainTimeoutMs / 20 && received < stop.expected; i++)
    await new Promise((r) => setTimeout(r, 20));
  const clientCpu = cpu.stop();
  await Promise.race([consumer.disconnect(), new Promise((r) => setTimeout(r, 5000))]);
  return {
    received,
    measured: lat.count,
    latencyMs: lat.percentiles(),
    joinMs,
    clientCpu,
    p99Series: perSecond.map((xs, i) => [i + 1, percentiles(xs).p99] as [number, number]),
  };
}

runMain(main);
