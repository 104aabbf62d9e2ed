/**
 * Produce (acks=-1) to consumer receipt at a fixed 10,000 records/s, kafkajs on both ends, each in its
 * own process; latency from the send time carried in each record. The fdatasync latency measured in
 * the same round is the floor any durable path has to pay.
 */
import { LoadProcess } from "../harness/child.js";
import { removeDir, tempDir } from "../harness/dirs.js";
import { fmtNum } from "../harness/format.js";
import { createTopic, runMetered } from "../harness/kafka.js";
import { OnceServer, serverNotes } from "../harness/server.js";
import { medianPercentiles, type Percentiles, pairRatios, summarize } from "../harness/stats.js";
import type { Row, Scenario, ScenarioContext, ScenarioResult } from "../harness/types.js";
import type { E2eConsumerConfig, E2eConsumerResult } from "../load/e2e-consumer.js";
import type { E2eProducerConfig, E2eProducerResult } from "../load/e2e-producer.js";
import { measureFsyncLatency } from "./limits.js";

const RATE = 10_000;

function timing(quick: boolean, runs: number) {
  return quick
    ? { warmupMs: 300, durationMs: 800, fsyncMs: 200, runs }
    : { warmupMs: 1000, durationMs: 6000, fsyncMs: 1000, runs: Math.min(runs, 3) };
}

interface E2eRun {
  consumer: E2eConsumerResult;
  producer: E2eProducerResult;
  serverCpu: number;
  fsync: Percentiles;
}

export const kafkaE2eLatencyScenario: Scenario = {
  name: "kafka-e2e-latency",
  description:
    "kafkajs producer at 10,000 records/s (acks=-1) to a kafkajs consumer: produce-to-receipt p50/p99/p99.9",
  needsServer: true,
  peers: [],
  estimateMs(opts) {
    const t = timing(opts.quick, opts.runs);
    return 2500 + t.runs * (t.fsyncMs + t.warmupMs + t.durationMs + 4000);
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const t = timing(opts.quick, opts.runs);
    const t0 = Date.now();
    const notes: string[] = [
      `One kafkajs producer sends ${fmtNum(RATE)} records/s of 100 bytes (acks=-1) in ~1 ms ticks; one kafkajs consumer (own process, maxWaitTimeInMs 500, minBytes 1) reads them.`,
      "Latency = consumer receipt time - send time written into the record (both processes read the same clock). Records sent during warm-up are excluded.",
      "Limit: fdatasync after a 4 KiB append, measured in the same round (p50 against p50, p99 against p99).",
    ];
    const dataDir = tempDir(opts.dataRoot, "kafka-e2e");
    progress.step("kafka-e2e-latency: starting OnceDB", 2000);
    const server = await OnceServer.start({ cli: opts.oncedbCli, dataDir });
    const runs: E2eRun[] = [];
    const failures: string[] = [];
    try {
      for (let r = 0; r < t.runs; r++) {
        progress.step(`kafka-e2e-latency: fdatasync floor, round ${r + 1}/${t.runs}`, t.fsyncMs + 300);
        const fsync = (await measureFsyncLatency(opts, t.fsyncMs)).syncMs;
        progress.step(
          `kafka-e2e-latency: 10k rec/s produce->consume, round ${r + 1}/${t.runs}`,
          t.warmupMs + t.durationMs + 3500,
        );
        try {
          runs.push({ ...(await oneRun(server, r, t)), fsync });
        } catch (e) {
          const msg = `round ${r + 1}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
          failures.push(msg);
          ctx.log(`  ! kafka-e2e-latency ${msg}`);
        }
        if (server.exited) throw new Error(`OnceDB ${server.exited}:\n${server.lastLines()}`);
      }
    } finally {
      const stop = await server.stop();
      notes.push(...serverNotes(server, stop));
      removeDir(dataDir);
    }
    notes.push(...failures.slice(0, 6));
    const rows: Row[] = [];
    if (runs.length > 0) {
      const keys = [
        ["p50", "p50"],
        ["p90", "p90"],
        ["p99", "p99"],
        ["p999", "p99.9"],
      ] as const;
      for (const [k, name] of keys) {
        const vals = runs.map((x) => x.consumer.latencyMs[k]);
        const fsyncKey = k === "p50" || k === "p90" ? k : "p99";
        const floor = runs.map((x) => x.fsync[fsyncKey]);
        rows.push({
          metric: `produce -> receipt ${name}`,
          unit: "ms",
          oncedb: summarize(vals),
          limit: { name: `fdatasync ${fsyncKey}`, value: summarize(floor), unit: "ms", source: "measured" },
          limitRatio: pairRatios(vals, floor),
          extra: {
            "server CPU": summarize(runs.map((x) => x.serverCpu)).median.toFixed(2),
            "client CPU": `p ${summarize(runs.map((x) => x.producer.clientCpu)).median.toFixed(2)} / c ${summarize(runs.map((x) => x.consumer.clientCpu)).median.toFixed(2)}`,
          },
        });
      }
      rows.push({
        metric: "producer ack (acks=-1) p50",
        unit: "ms",
        oncedb: summarize(runs.map((x) => x.producer.ackLatencyMs.p50)),
      });
      rows.push({
        metric: "producer ack (acks=-1) p99",
        unit: "ms",
        oncedb: summarize(runs.map((x) => x.producer.ackLatencyMs.p99)),
      });
      rows.push({
        metric: "achieved send rate",
        unit: "rec/s",
        oncedb: summarize(runs.map((x) => x.producer.achievedRate)),
        target: `${fmtNum(RATE)}`,
      });
      const lost = runs.map((x) => x.producer.sent - x.consumer.received);
      if (lost.some((l) => l > 0))
        notes.push(`Records sent but not received before the drain deadline, per round: ${lost.join(", ")}.`);
      const errs = runs.reduce((a, x) => a + x.producer.errors, 0);
      if (errs > 0)
        notes.push(
          `Producer send errors: ${errs}, first: ${runs.find((x) => x.producer.firstError)?.producer.firstError}.`,
        );
      const skipped = runs.reduce((a, x) => a + x.producer.skippedTicks, 0);
      if (skipped > 0) notes.push(`Producer fell behind (too many sends in flight) on ${skipped} ticks.`);
      notes.push(
        `Consumer group join took ${fmtNum(summarize(runs.map((x) => x.consumer.joinMs)).median)} ms (median).`,
      );
    }
    return {
      scenario: "kafka-e2e-latency",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status: failures.length === 0 ? "ok" : runs.length > 0 ? "partial" : "failed",
      notes,
      rows,
      charts:
        runs.length > 0
          ? {
              percentiles: [
                {
                  label: "produce->receipt",
                  unit: "ms",
                  p: medianPercentiles(runs.map((x) => x.consumer.latencyMs)),
                },
                {
                  label: "producer ack",
                  unit: "ms",
                  p: medianPercentiles(runs.map((x) => x.producer.ackLatencyMs)),
                },
                { label: "fdatasync 4 KiB", unit: "ms", p: medianPercentiles(runs.map((x) => x.fsync)) },
              ],
              series: [
                { label: "p99 per second", unit: "ms", points: runs[runs.length - 1].consumer.p99Series },
              ],
            }
          : {},
      raw: runs,
    };
  },
};

async function oneRun(
  server: OnceServer,
  r: number,
  t: { warmupMs: number; durationMs: number },
): Promise<Omit<E2eRun, "fsync">> {
  const topic = `bench-e2e-${r}-${Date.now()}`;
  await createTopic(server.kafkaAddress, topic, 1);
  const ccfg: E2eConsumerConfig = {
    broker: server.kafkaAddress,
    topic,
    groupId: `bench-e2e-${r}-${process.pid}-${Date.now()}`,
    maxWaitTimeInMs: 500,
    joinTimeoutMs: 30_000,
    drainTimeoutMs: 10_000,
    maxMs: t.warmupMs + t.durationMs + 90_000,
  };
  const consumer = new LoadProcess("e2e-consumer", ccfg);
  try {
    await consumer.waitFor("ready", 35_000);
    const pcfg: E2eProducerConfig = {
      broker: server.kafkaAddress,
      topic,
      ratePerSec: RATE,
      valueBytes: 100,
      warmupMs: t.warmupMs,
      durationMs: t.durationMs,
      tickMs: 1,
      maxInflight: 200,
    };
    const prod = await runMetered<E2eProducerResult>(
      server,
      "e2e-producer",
      pcfg,
      t.warmupMs + t.durationMs + 60_000,
    );
    consumer.send({ type: "stop", expected: prod.result.sent });
    const c = await consumer.result<E2eConsumerResult>(20_000);
    if (c.measured === 0) throw new Error(`consumer received ${c.received} records, none measurable`);
    return { consumer: c, producer: prod.result, serverCpu: prod.serverCpu };
  } finally {
    await consumer.stop();
  }
}
