/** Server RSS sampled every second over a long full-speed durable ingest; is it flat once warm? */
import { removeDir, tempDir } from "../harness/dirs.js";
import { fmtNum } from "../harness/format.js";
import { createTopic, preencodedConfig, runPreencoded } from "../harness/kafka.js";
import { OnceServer, serverNotes } from "../harness/server.js";
import { slope, summarize } from "../harness/stats.js";
import type { Row, Scenario, ScenarioContext, ScenarioResult } from "../harness/types.js";

const MiB = 2 ** 20;

function timing(quick: boolean) {
  return quick ? { durationMs: 3000 } : { durationMs: 45_000 };
}

export const memoryScenario: Scenario = {
  name: "memory",
  description:
    "server RSS every second over a long pre-encoded durable ingest: first/last/max and last-third slope",
  needsServer: true,
  peers: [],
  estimateMs(opts) {
    return timing(opts.quick).durationMs + 5000;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const t = timing(opts.quick);
    const t0 = Date.now();
    const notes: string[] = [
      "One long run (not a median of runs): pre-encoded batches of 1,000 x 100-byte records, 1 partition, 4 connections x 4 in flight, acks=-1, as fast as the server acks.",
      "RSS read from /proc/PID/status every second. Slope: Theil-Sen (median of pairwise slopes) over the second half of the run, after warm-up; flat = that slope times the half's length below max(10 MiB, 5% of RSS).",
    ];
    const dataDir = tempDir(opts.dataRoot, "memory");
    progress.step("memory: starting OnceDB", 2000);
    const server = await OnceServer.start({ cli: opts.oncedbCli, dataDir });
    const idleRss = server.rssBytes() / MiB;
    const samples: [number, number][] = [];
    let recordsPerSec = Number.NaN;
    let serverCpu = Number.NaN;
    let errorNote = "";
    try {
      await createTopic(server.kafkaAddress, "bench-memory", 1);
      progress.step(`memory: ${t.durationMs / 1000} s ingest, RSS every second`, t.durationMs + 2000);
      const start = performance.now();
      const timer = setInterval(() => {
        const rss = server.rssBytes() / MiB;
        if (Number.isFinite(rss) && samples.length < 100_000)
          samples.push([(performance.now() - start) / 1000, rss]);
      }, 1000);
      try {
        const m = await runPreencoded(
          server,
          preencodedConfig(server, {
            topic: "bench-memory",
            connections: 4,
            inflight: 4,
            warmupMs: 0,
            durationMs: t.durationMs,
            bucketMs: 1000,
          }),
        );
        recordsPerSec = m.result.recordsPerSec;
        serverCpu = m.serverCpu;
        if (m.result.errors > 0)
          errorNote = `${m.result.errors} produce errors, first: ${m.result.firstError}`;
      } finally {
        clearInterval(timer);
      }
    } finally {
      const stop = await server.stop();
      notes.push(...serverNotes(server, stop));
      removeDir(dataDir);
    }
    if (errorNote) notes.push(errorNote);
    const rows: Row[] = [];
    let status: ScenarioResult["status"] = "ok";
    if (samples.length < 3) {
      status = "failed";
      notes.push(`only ${samples.length} RSS samples`);
    } else {
      const rss = samples.map((s) => s[1]);
      const secondHalf = samples.slice(Math.floor(samples.length / 2));
      const perSec = slope(secondHalf);
      const span = secondHalf[secondHalf.length - 1][0] - secondHalf[0][0];
      const growth = perSec * span;
      const lastMean = summarize(secondHalf.map((s) => s[1])).median;
      const allowed = Math.max(10, 0.05 * lastMean);
      const flat = growth <= allowed;
      const one = (v: number) => summarize([v]);
      rows.push(
        { metric: "RSS idle, before ingest", unit: "MiB", oncedb: one(idleRss) },
        { metric: "RSS first second of ingest", unit: "MiB", oncedb: one(rss[0]) },
        { metric: "RSS max", unit: "MiB", oncedb: one(Math.max(...rss)) },
        { metric: "RSS last", unit: "MiB", oncedb: one(rss[rss.length - 1]) },
        {
          metric: "RSS slope over the second half (Theil-Sen)",
          unit: "MiB/min",
          oncedb: one(perSec * 60),
          target: "flat",
          targetMet: flat,
          extra: { "growth over the second half": `${fmtNum(growth)} MiB (allowed ${fmtNum(allowed)})` },
        },
        {
          metric: "ingest during the run",
          unit: "rec/s",
          oncedb: one(recordsPerSec),
          extra: { "server CPU": serverCpu.toFixed(2) },
        },
      );
    }
    return {
      scenario: "memory",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status,
      notes,
      rows,
      charts: { series: [{ label: "server RSS", unit: "MiB", points: samples }] },
      raw: { samples, idleRss },
    };
  },
};
