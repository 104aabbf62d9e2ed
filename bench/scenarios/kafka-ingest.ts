/**
 * Durable (acks=-1) ingest of 100-byte records: pre-encoded batches (1 and 8 partitions) and the
 * producers of two real Node clients (kafkajs, @platformatic/kafka). Each round measures the fsync'd append limit first, then every variant, so the ratio to
 * the limit is computed pair by pair within a round.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { removeDir, tempDir } from "../harness/dirs.js";
import { ELD_WINDOW_MS, eldImport, eldWithin, gcPauses, readEldFile } from "../harness/eld-probe.js";
import { fmtNum } from "../harness/format.js";
import {
  clientProducerConfig,
  createTopic,
  highWatermarkSum,
  preencodedConfig,
  runClientProducer,
  runPreencoded,
} from "../harness/kafka.js";
import { OnceServer, serverNotes } from "../harness/server.js";
import { medianPercentiles, type Percentiles, pairRatios, summarize } from "../harness/stats.js";
import type { Row, Scenario, ScenarioContext, ScenarioResult, TimeSeries } from "../harness/types.js";
import { measureAppend } from "./limits.js";

export const KAFKA_PUBLISHED_RECORDS_PER_SEC = 821_557;
const TARGET_RECORDS = 1_000_000;
const TARGET_LIMIT_RATIO = 0.35;

interface Variant {
  id: string;
  /** Short label for charts. */
  short: string;
  label: string;
  kind: "preencoded" | "kafkajs" | "platformatic";
  topic: string;
  partitions: number;
  connections: number;
  inflight: number;
}

const VARIANTS: Variant[] = [
  {
    id: "pre-1p-1c",
    short: "pre-encoded 1p 1x8",
    label: "pre-encoded, 1 partition, 1 conn x 8 in flight",
    kind: "preencoded",
    topic: "bench-ingest-1p",
    partitions: 1,
    connections: 1,
    inflight: 8,
  },
  {
    id: "pre-1p-4c",
    short: "pre-encoded 1p 4x4",
    label: "pre-encoded, 1 partition, 4 conns x 4 in flight",
    kind: "preencoded",
    topic: "bench-ingest-1p",
    partitions: 1,
    connections: 4,
    inflight: 4,
  },
  {
    id: "pre-8p-4c",
    short: "pre-encoded 8p 4x4",
    label: "pre-encoded, 8 partitions, 4 conns x 4 in flight",
    kind: "preencoded",
    topic: "bench-ingest-8p",
    partitions: 8,
    connections: 4,
    inflight: 4,
  },
  {
    id: "kafkajs-1p",
    short: "kafkajs 1p 1x4",
    label: "kafkajs, 1 partition, 1 producer x 4 concurrent sends",
    kind: "kafkajs",
    topic: "bench-ingest-kafkajs",
    partitions: 1,
    connections: 1,
    inflight: 4,
  },
  {
    id: "platformatic-1p",
    short: "platformatic 1p 1x4",
    label: "@platformatic/kafka, 1 partition, 1 producer x 4 concurrent sends",
    kind: "platformatic",
    topic: "bench-ingest-platformatic",
    partitions: 1,
    connections: 1,
    inflight: 4,
  },
];

function timing(quick: boolean) {
  return quick
    ? { warmupMs: 200, durationMs: 600, appendMs: 400 }
    : { warmupMs: 500, durationMs: 3000, appendMs: 1500 };
}

interface VariantRun {
  /** Wall-clock window of the measurement (after warm-up), for the server's GC figures. */
  startWall: number;
  endWall: number;
  /** The server main thread's garbage-collector pauses in that window. */
  gc?: { msPerSec: number; maxMs: number };
  recordsPerSec: number;
  mbPerSec: number;
  serverCpu: number;
  clientCpu: number;
  latency: Percentiles;
  errors: number;
  firstError: string;
  series: [number, number][];
  ackedTotal: number;
}

export const kafkaIngestScenario: Scenario = {
  name: "kafka-ingest",
  description:
    "durable acks=-1 ingest of 100-byte records: pre-encoded 1 and 8 partitions, kafkajs, @platformatic/kafka; vs the fsync'd append limit",
  needsServer: true,
  peers: [],
  estimateMs(opts) {
    const t = timing(opts.quick);
    return 4000 + opts.runs * (t.appendMs + 400 + VARIANTS.length * (t.warmupMs + t.durationMs + 900));
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const t = timing(opts.quick);
    const t0 = Date.now();
    const notes: string[] = [
      "Records are 100-byte values with null keys, ~1,000 per RecordBatch, acks=-1 (OnceDB fsyncs before it acks).",
      "MB/s counts record values only (100 bytes each); the limit is sequential write+fdatasync of 1 MiB blocks measured in the same round.",
      "server GC ms/s / longest: how long OnceDB's garbage collector paused its main thread per second of the measurement, and the longest pause (preloaded probe bench/harness/eld-probe.ts).",
      `Peer: Kafka has no JVM here; its figure is published (LinkedIn 2014, ${fmtNum(KAFKA_PUBLISHED_RECORDS_PER_SEC)} records/s, one producer, no fsync, no replication), not measured.`,
    ];
    const dataDir = tempDir(opts.dataRoot, "kafka-ingest");
    progress.step("kafka-ingest: starting OnceDB", 2000);
    const eldFile = path.join(dataDir, "..", `${path.basename(dataDir)}.eld`);
    const server = await OnceServer.start({
      cli: opts.oncedbCli,
      dataDir,
      // Reports the main thread's GC pauses (bench/harness/eld-probe.ts).
      env: { NODE_OPTIONS: eldImport(), ONCEDB_BENCH_ELD_FILE: eldFile },
    });
    notes.push(`OnceDB ready in ${Math.round(server.startupMs)} ms.`);
    const appendMB: number[] = [];
    const runs = new Map<string, (VariantRun | undefined)[]>(VARIANTS.map((v) => [v.id, []]));
    const failures: string[] = [];
    try {
      for (const topic of new Set(VARIANTS.map((v) => v.topic))) {
        const want = VARIANTS.find((v) => v.topic === topic)!.partitions;
        progress.step(`kafka-ingest: create ${topic} (${want} partitions)`, 500);
        const info = await createTopic(server.kafkaAddress, topic, want);
        if (info.partitions !== want)
          notes.push(`${topic}: wanted ${want} partitions, got ${info.partitions} via ${info.how}.`);
        else if (info.how !== "admin createTopics") notes.push(`${topic}: ${info.how}.`);
      }
      for (let r = 0; r < opts.runs; r++) {
        progress.step(`kafka-ingest: fsync'd append limit, round ${r + 1}/${opts.runs}`, t.appendMs + 400);
        appendMB.push((await measureAppend(opts, t.appendMs)).mbPerSec);
        for (const v of VARIANTS) {
          progress.step(
            `kafka-ingest: ${v.label}, round ${r + 1}/${opts.runs}`,
            t.warmupMs + t.durationMs + 900,
          );
          try {
            runs.get(v.id)!.push(await runVariant(server, v, t));
          } catch (e) {
            runs.get(v.id)!.push(undefined);
            const msg = `${v.label}, round ${r + 1}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
            failures.push(msg);
            ctx.log(`  ! ${msg}`);
          }
          if (server.exited) throw new Error(`OnceDB ${server.exited}:\n${server.lastLines()}`);
        }
      }
      notes.push(...(await verifyStored(server, runs)));
      await sleep(ELD_WINDOW_MS * 12); // the probe appends its windows once a second
      const eld = readEldFile(eldFile);
      for (const list of runs.values()) for (const x of list) if (x) x.gc = gcPauses(eldWithin(eld, x));
    } finally {
      rmSync(eldFile, { force: true });
      const rss = server.rssBytes() / 2 ** 20;
      const stop = await server.stop();
      notes.push(`Server RSS at the end: ${fmtNum(rss)} MiB; shutdown took ${Math.round(stop.ms)} ms.`);
      notes.push(...serverNotes(server, stop));
      removeDir(dataDir);
    }
    notes.push(...failures.slice(0, 6));

    const rows: Row[] = [];
    const bars = [];
    const pct = [];
    const series: TimeSeries[] = [];
    const appendStat = summarize(appendMB);
    for (const v of VARIANTS) {
      const list = runs.get(v.id)!;
      const ok = list.filter((x): x is VariantRun => x !== undefined);
      if (ok.length === 0) continue;
      // keep rounds aligned with the append limit for pairwise ratios
      const rec = list.map((x) => (x ? x.recordsPerSec : Number.NaN));
      const mb = list.map((x) => (x ? x.mbPerSec : Number.NaN));
      const recStat = summarize(rec);
      const limitRatio = pairRatios(mb, appendMB);
      const errs = ok.reduce((a, x) => a + x.errors, 0);
      const clientCpu = summarize(ok.map((x) => x.clientCpu)).median;
      if (clientCpu >= 0.85)
        notes.push(
          `${v.label}: client-bound (the load process used ${clientCpu.toFixed(2)} of one core; Node is single-threaded).`,
        );
      const extra = {
        "server CPU": summarize(ok.map((x) => x.serverCpu)).median.toFixed(2),
        "client CPU": summarize(ok.map((x) => x.clientCpu)).median.toFixed(2),
        "req p50 / p99 ms": `${fmtNum(medianPercentiles(ok.map((x) => x.latency)).p50)} / ${fmtNum(medianPercentiles(ok.map((x) => x.latency)).p99)}`,
        "server GC ms/s / longest": `${fmtNum(summarize(ok.map((x) => x.gc?.msPerSec ?? Number.NaN)).median)} / ${fmtNum(summarize(ok.map((x) => x.gc?.maxMs ?? Number.NaN)).median)}`,
      };
      rows.push({
        metric: `${v.label}: records/s`,
        unit: "rec/s",
        oncedb: recStat,
        peer: { name: "Kafka", value: KAFKA_PUBLISHED_RECORDS_PER_SEC, unit: "rec/s", source: "published" },
        ratio: summarize(rec.map((x) => x / KAFKA_PUBLISHED_RECORDS_PER_SEC)),
        target: v.kind === "preencoded" ? `>= ${fmtNum(TARGET_RECORDS)}` : undefined,
        targetMet: v.kind === "preencoded" ? recStat.median >= TARGET_RECORDS : undefined,
        extra,
      });
      rows.push({
        metric: `${v.label}: MB/s`,
        unit: "MB/s",
        oncedb: summarize(mb),
        limit: { name: "fsync'd append", value: appendStat, unit: "MB/s", source: "measured" },
        limitRatio,
        target: `>= ${TARGET_LIMIT_RATIO * 100}% of limit`,
        targetMet: limitRatio.median >= TARGET_LIMIT_RATIO,
        extra:
          errs > 0 ? { ...extra, errors: `${errs} (${ok.find((x) => x.firstError)?.firstError})` } : extra,
      });
      bars.push({ label: v.short, unit: "rec/s", stat: recStat });
      pct.push({ label: v.id, unit: "ms", p: medianPercentiles(ok.map((x) => x.latency)) });
      series.push({ label: v.id, unit: "rec/s", points: ok[ok.length - 1].series });
    }
    return {
      scenario: "kafka-ingest",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status: failures.length === 0 ? "ok" : rows.length > 0 ? "partial" : "failed",
      notes,
      rows,
      charts: { bars, percentiles: pct, series },
      raw: { appendMB, runs: Object.fromEntries(runs) },
    };
  },
};

async function runVariant(
  server: OnceServer,
  v: Variant,
  t: { warmupMs: number; durationMs: number },
): Promise<VariantRun> {
  const startWall = Date.now() + t.warmupMs;
  const run = await runVariantLoad(server, v, t);
  return { ...run, startWall, endWall: Date.now() };
}

async function runVariantLoad(
  server: OnceServer,
  v: Variant,
  t: { warmupMs: number; durationMs: number },
): Promise<Omit<VariantRun, "startWall" | "endWall">> {
  if (v.kind === "preencoded") {
    const m = await runPreencoded(
      server,
      preencodedConfig(server, {
        topic: v.topic,
        partitionCount: v.partitions,
        partitionsPerRequest: 1,
        connections: v.connections,
        inflight: v.inflight,
        warmupMs: t.warmupMs,
        durationMs: t.durationMs,
      }),
    );
    const r = m.result;
    if (r.records === 0)
      throw new Error(`no records acknowledged (${r.errors} errors: ${r.firstError || "none"})`);
    return {
      recordsPerSec: r.recordsPerSec,
      mbPerSec: r.mbPerSec,
      serverCpu: m.serverCpu,
      clientCpu: r.clientCpu,
      latency: r.requestLatencyMs,
      errors: r.errors + r.correlationMismatches,
      firstError:
        r.firstError ||
        (r.correlationMismatches ? `${r.correlationMismatches} correlation id mismatches` : ""),
      series: r.series,
      ackedTotal: r.ackedTotal,
    };
  }
  const m = await runClientProducer(
    server,
    clientProducerConfig(server, {
      client: v.kind,
      topic: v.topic,
      concurrency: v.inflight,
      warmupMs: t.warmupMs,
      durationMs: t.durationMs,
    }),
  );
  const r = m.result;
  if (r.records === 0)
    throw new Error(`no records acknowledged (${r.errors} errors: ${r.firstError || "none"})`);
  return {
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.mbPerSec,
    serverCpu: m.serverCpu,
    clientCpu: r.clientCpu,
    latency: r.sendLatencyMs,
    errors: r.errors,
    firstError: r.firstError,
    series: r.series,
    ackedTotal: r.ackedTotal,
  };
}

/** Compares each topic's high watermark with the records the load processes saw acknowledged. */
async function verifyStored(
  server: OnceServer,
  runs: Map<string, (VariantRun | undefined)[]>,
): Promise<string[]> {
  const out: string[] = [];
  const ok: string[] = [];
  for (const topic of new Set(VARIANTS.map((v) => v.topic))) {
    let acked = 0;
    for (const v of VARIANTS.filter((x) => x.topic === topic))
      for (const r of runs.get(v.id) ?? []) acked += r?.ackedTotal ?? 0;
    try {
      const stored = await highWatermarkSum(server.kafkaAddress, topic);
      if (stored === acked) ok.push(`${topic} ${fmtNum(stored)}`);
      else
        out.push(
          `${topic}: high watermark ${fmtNum(stored)} but ${fmtNum(acked)} records were acknowledged (difference ${fmtNum(stored - acked)}).`,
        );
    } catch (e) {
      out.push(`${topic}: could not read offsets (${e instanceof Error ? e.message : String(e)}).`);
    }
  }
  if (ok.length > 0) out.push(`Stored = acknowledged (high watermark vs acks): ${ok.join(", ")}.`);
  return out;
}
