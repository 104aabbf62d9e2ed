/**
 * Ingest throughput and server start-up time with 10, 1,000 and 10,000 partitions. Each partition count
 * has its own data dir; rounds restart the server on each in turn (10, 1,000, 10,000, 10, ...), so the
 * ratios to 10 partitions are computed pair by pair within a round.
 */
import { removeDir, tempDir } from "../harness/dirs.js";
import { fmtNum } from "../harness/format.js";
import { createTopic, preencodedConfig, runPreencoded } from "../harness/kafka.js";
import { OnceServer, serverNotes } from "../harness/server.js";
import { pairRatios, summarize } from "../harness/stats.js";
import type { Row, Scenario, ScenarioContext, ScenarioResult, TimeSeries } from "../harness/types.js";

const COUNTS = [10, 1000, 10_000];
const TOPIC = "bench-partitions";
const PER_REQUEST = 10;
const RECORDS_PER_BATCH = 100;

function timing(quick: boolean) {
  return quick ? { warmupMs: 200, durationMs: 600 } : { warmupMs: 500, durationMs: 2500 };
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message.split("\n")[0] : String(e));

interface Round {
  recordsPerSec: number;
  startupMs: number;
  serverCpu: number;
  errors: number;
  firstError: string;
  series: [number, number][];
}

export const partitionsScaleScenario: Scenario = {
  name: "partitions-scale",
  description:
    "pre-encoded ingest spread over 10 / 1,000 / 10,000 partitions, and server start-up time with each",
  needsServer: true,
  peers: [],
  estimateMs(opts) {
    const t = timing(opts.quick);
    return COUNTS.length * 6000 + opts.runs * COUNTS.length * (t.warmupMs + t.durationMs + 2000);
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const t = timing(opts.quick);
    const t0 = Date.now();
    const notes: string[] = [
      `Each request carries ${PER_REQUEST} batches of ${RECORDS_PER_BATCH} x 100-byte records for ${PER_REQUEST} consecutive partitions, round-robin over all partitions; 2 connections x 4 in flight; acks=-1. The request shape is the same for every partition count.`,
      "ratio = this partition count / 10 partitions, pair by pair within a round.",
      "Start-up = spawn to the ready line, restarting on a data dir that already holds the topic and the data of earlier rounds.",
    ];
    const dirs = new Map<number, string>();
    const created = new Map<
      number,
      { createMs: number; freshStartMs: number; partitions: number; how: string }
    >();
    const rounds = new Map<number, (Round | undefined)[]>(COUNTS.map((n) => [n, []]));
    const failures: string[] = [];
    try {
      for (const n of COUNTS) {
        const dir = tempDir(opts.dataRoot, `partitions-${n}`);
        dirs.set(n, dir);
        progress.step(`partitions-scale: create topic with ${fmtNum(n)} partitions`, 3000 + n / 5);
        let server: OnceServer;
        try {
          server = await OnceServer.start({ cli: opts.oncedbCli, dataDir: dir });
        } catch (e) {
          failures.push(`${fmtNum(n)} partitions, first start: ${firstLine(e)}`);
          continue;
        }
        try {
          const info = await createTopic(server.kafkaAddress, TOPIC, n, 300_000);
          created.set(n, {
            createMs: info.createMs,
            freshStartMs: server.startupMs,
            partitions: info.partitions,
            how: info.how,
          });
          if (info.partitions !== n)
            notes.push(`${fmtNum(n)}: wanted ${n} partitions, got ${info.partitions} via ${info.how}.`);
        } catch (e) {
          failures.push(`${fmtNum(n)} partitions, create topic: ${firstLine(e)}`);
        } finally {
          const stop = await server.stop();
          notes.push(...serverNotes(server, stop).map((s) => `${fmtNum(n)} partitions, create: ${s}`));
        }
      }
      for (let r = 0; r < opts.runs; r++) {
        for (const n of COUNTS) {
          const info = created.get(n);
          if (!info || info.partitions === 0) {
            rounds.get(n)!.push(undefined);
            continue;
          }
          progress.step(
            `partitions-scale: ${fmtNum(n)} partitions, round ${r + 1}/${opts.runs}`,
            t.warmupMs + t.durationMs + 2000,
          );
          let server: OnceServer;
          try {
            server = await OnceServer.start({
              cli: opts.oncedbCli,
              dataDir: dirs.get(n)!,
              readyTimeoutMs: 300_000,
            });
          } catch (e) {
            rounds.get(n)!.push(undefined);
            failures.push(`${fmtNum(n)} partitions, round ${r + 1}, start: ${firstLine(e)}`);
            continue;
          }
          try {
            const m = await runPreencoded(
              server,
              preencodedConfig(server, {
                topic: TOPIC,
                partitionCount: info.partitions,
                partitionsPerRequest: PER_REQUEST,
                recordsPerBatch: RECORDS_PER_BATCH,
                connections: 2,
                inflight: 4,
                warmupMs: t.warmupMs,
                durationMs: t.durationMs,
              }),
            );
            if (m.result.records === 0)
              throw new Error(`no records acknowledged (${m.result.errors} errors: ${m.result.firstError})`);
            rounds.get(n)!.push({
              recordsPerSec: m.result.recordsPerSec,
              startupMs: server.startupMs,
              serverCpu: m.serverCpu,
              errors: m.result.errors,
              firstError: m.result.firstError,
              series: m.result.series,
            });
          } catch (e) {
            rounds.get(n)!.push(undefined);
            const msg = `${fmtNum(n)} partitions, round ${r + 1}: ${firstLine(e)}`;
            failures.push(msg);
            ctx.log(`  ! ${msg}`);
          } finally {
            const stop = await server.stop();
            notes.push(
              ...serverNotes(server, stop).map((s) => `${fmtNum(n)} partitions, round ${r + 1}: ${s}`),
            );
          }
        }
      }
    } finally {
      for (const d of dirs.values()) removeDir(d);
    }
    notes.push(...failures.slice(0, 6));
    const rows: Row[] = [];
    const bars = [];
    const series: TimeSeries[] = [];
    const base = rounds.get(COUNTS[0])!;
    const baseRec = base.map((x) => (x ? x.recordsPerSec : Number.NaN));
    const baseStart = base.map((x) => (x ? x.startupMs : Number.NaN));
    for (const n of COUNTS) {
      const list = rounds.get(n)!;
      const ok = list.filter((x): x is Round => x !== undefined);
      const info = created.get(n);
      if (ok.length === 0) continue;
      const rec = list.map((x) => (x ? x.recordsPerSec : Number.NaN));
      const start = list.map((x) => (x ? x.startupMs : Number.NaN));
      const isBase = n === COUNTS[0];
      const ratio = isBase ? undefined : pairRatios(rec, baseRec);
      rows.push({
        metric: `${fmtNum(n)} partitions: ingest`,
        unit: "rec/s",
        oncedb: summarize(rec),
        ratio,
        target: n === 10_000 ? ">= 0.80x of 10 partitions" : undefined,
        targetMet: n === 10_000 && ratio ? ratio.median >= 0.8 : undefined,
        extra: {
          "server CPU": summarize(ok.map((x) => x.serverCpu)).median.toFixed(2),
        },
      });
      rows.push({
        metric: `${fmtNum(n)} partitions: start-up`,
        unit: "ms",
        oncedb: summarize(start),
        ratio: isBase ? undefined : pairRatios(start, baseStart),
        extra: info
          ? {
              "server CPU": "",
              "create topic ms": fmtNum(info.createMs),
              "fresh start ms": fmtNum(info.freshStartMs),
            }
          : undefined,
      });
      bars.push({ label: `${fmtNum(n)} partitions`, unit: "rec/s", stat: summarize(rec) });
      bars.push({ label: `${fmtNum(n)} p. start-up`, unit: "ms", stat: summarize(start) });
      series.push({ label: `${fmtNum(n)} partitions`, unit: "rec/s", points: ok[ok.length - 1].series });
    }
    return {
      scenario: "partitions-scale",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status: failures.length === 0 && rows.length > 0 ? "ok" : rows.length > 0 ? "partial" : "failed",
      notes,
      rows,
      charts: { bars, series },
      raw: { created: Object.fromEntries(created), rounds: Object.fromEntries(rounds) },
    };
  },
};
