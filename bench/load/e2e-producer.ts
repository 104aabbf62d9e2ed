/** Load generator: a kafkajs producer at a fixed record rate (acks=-1); each value carries its send time. */
import { Kafka, logLevel, type Message } from "kafkajs";
import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export interface E2eProducerConfig {
  broker: string;
  topic: string;
  ratePerSec: number;
  valueBytes: number;
  warmupMs: number;
  durationMs: number;
  tickMs: number;
  /** Give up sending new batches when this many sends are unacknowledged. */
  maxInflight: number;
}

export interface E2eProducerResult {
  sent: number;
  measuredSent: number;
  achievedRate: number;
  ackLatencyMs: Percentiles;
  skippedTicks: number;
  errors: number;
  firstError: string;
  clientCpu: number;
}

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes on one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

async function main(): Promise<E2eProducerResult> {
  const cfg = loadConfig<E2eProducerConfig>();
  const kafka = new Kafka({
    clientId: "oncedb-bench-e2e-p",
    brokers: [cfg.broker],
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: false });
  await producer.connect();
  const ack = new Samples(200_000);
  const cpu = new SelfCpu();
  let sent = 0;
  let measuredSent = 0;
  let inflight = 0;
  let skipped = 0;
  let errors = 0;
  let firstError = "";
  const t0 = performance.now();
  const warmEnd = t0 + cfg.warmupMs;
  const end = warmEnd + cfg.durationMs;
  let clientCpu = Number.NaN;
  setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, cfg.warmupMs);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(timer);
        clientCpu = cpu.stop();
        send({ type: "window-end" });
        resolve();
        return;
      }
      const due = Math.min(5000, Math.floor(((now - t0) * cfg.ratePerSec) / 1000) - sent);
      if (due <= 0) return;
      if (inflight >= cfg.maxInflight) {
        skipped++;
        return;
      }
      const warm = now < warmEnd;
      const messages: Message[] = [];
      for (let i = 0; i < due; i++) {
        const v = Buffer.alloc(cfg.valueBytes, 0x2e);
        v.writeDoubleBE(wallNow(), 0);
        v[8] = warm ? 1 : 0;
        messages.push({ value: v });
      }
      sent += due;
      if (!warm) measuredSent += due;
      inflight++;
      const a = performance.now();
      producer.send({ topic: cfg.topic, acks: -1, messages }).then(
        () => {
          inflight--;
          if (!warm) ack.add(performance.now() - a);
        },
        (e: unknown) => {
          inflight--;
          errors++;
          if (!firstError) firstError = e instanceof Error ? e.message : String(e);
        },
      );
    };
    const timer = setInterval(tick, cfg.tickMs);
  });
  // bounded wait for outstanding sends
  for (let i = 0; i < 200 && inflight > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await Promise.race([producer.disconnect(), new Promise((r) => setTimeout(r, 5000))]);
  return {
    sent,
    measuredSent,
    achievedRate: measuredSent / (cfg.durationMs / 1000),
    ackLatencyMs: ack.percentiles(),
    skippedTicks: skipped,
    errors,
    firstError,
    clientCpu,
  };
}

runMain(main);
