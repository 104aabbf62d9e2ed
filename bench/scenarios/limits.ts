/** The machine's own ceilings: fsync'd sequential append, fdatasync latency, loopback TCP. */
import { LoadProcess, runLoad } from "../harness/child.js";
import { medianPercentiles, summarize } from "../harness/stats.js";
import type { RunOptions, Scenario, ScenarioContext, ScenarioResult } from "../harness/types.js";
import type { FsyncAppendConfig, FsyncAppendResult } from "../load/fsync-append.js";
import type { TcpSinkConfig, TcpSinkResult } from "../load/tcp-sink.js";
import type { TcpSourceConfig } from "../load/tcp-source.js";

const MiB = 1 << 20;

function durations(quick: boolean) {
  return quick
    ? { appendMs: 600, latencyMs: 300, tcpWarmMs: 150, tcpMs: 500 }
    : { appendMs: 2000, latencyMs: 1000, tcpWarmMs: 500, tcpMs: 2000 };
}

/** Sequential append + fdatasync of 1 MiB blocks for `durationMs`; used by other scenarios as their limit. */
export async function measureAppend(
  opts: RunOptions,
  durationMs: number,
  blockBytes = MiB,
): Promise<FsyncAppendResult> {
  const cfg: FsyncAppendConfig = {
    dir: opts.dataRoot,
    mode: "throughput",
    blockBytes,
    durationMs,
    maxBytes: 64 * 2 ** 30,
  };
  return (await runLoad<FsyncAppendResult>("fsync-append", cfg, durationMs + 60_000)).result;
}

export async function measureFsyncLatency(opts: RunOptions, durationMs: number): Promise<FsyncAppendResult> {
  const cfg: FsyncAppendConfig = {
    dir: opts.dataRoot,
    mode: "latency",
    blockBytes: 4096,
    durationMs,
    maxBytes: 2 ** 30,
  };
  return (await runLoad<FsyncAppendResult>("fsync-append", cfg, durationMs + 60_000)).result;
}

export interface TcpResult {
  mbPerSec: number;
  sinkCpu: number;
  sourceCpu: number;
}

export async function measureTcp(warmupMs: number, durationMs: number): Promise<TcpResult> {
  const sinkCfg: TcpSinkConfig = { warmupMs, durationMs };
  const sink = new LoadProcess("tcp-sink", sinkCfg);
  try {
    const { port } = (await sink.waitFor("listening", 15_000)) as unknown as { port: number };
    const srcCfg: TcpSourceConfig = { port, chunkBytes: 256 * 1024, maxMs: warmupMs + durationMs + 10_000 };
    const source = new LoadProcess("tcp-source", srcCfg);
    const [sinkRes, srcRes] = await Promise.all([
      sink.result<TcpSinkResult>(warmupMs + durationMs + 30_000),
      source.result<{ cpuCores: number }>(warmupMs + durationMs + 30_000),
    ]);
    return { mbPerSec: sinkRes.mbPerSec, sinkCpu: sinkRes.cpuCores, sourceCpu: srcRes.cpuCores };
  } finally {
    await sink.stop();
  }
}

const fmtCpu = (v: number) => v.toFixed(2);

export const limitsScenario: Scenario = {
  name: "limits",
  description:
    "machine ceilings: fsync'd 1 MiB sequential append (MB/s), fdatasync latency, loopback TCP (MB/s)",
  needsServer: false,
  peers: [],
  estimateMs(opts) {
    const d = durations(opts.quick);
    return opts.runs * (d.appendMs + d.latencyMs + d.tcpWarmMs + d.tcpMs + 1500);
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const d = durations(opts.quick);
    const t0 = Date.now();
    const appends: FsyncAppendResult[] = [];
    const lats: FsyncAppendResult[] = [];
    const tcps: TcpResult[] = [];
    for (let r = 0; r < opts.runs; r++) {
      progress.step(`limits: fsync'd append, run ${r + 1}/${opts.runs}`, d.appendMs + 300);
      appends.push(await measureAppend(opts, d.appendMs));
      progress.step(`limits: fdatasync latency, run ${r + 1}/${opts.runs}`, d.latencyMs + 300);
      lats.push(await measureFsyncLatency(opts, d.latencyMs));
      progress.step(`limits: loopback TCP, run ${r + 1}/${opts.runs}`, d.tcpWarmMs + d.tcpMs + 900);
      tcps.push(await measureTcp(d.tcpWarmMs, d.tcpMs));
    }
    const appendStat = summarize(appends.map((a) => a.mbPerSec));
    const tcpStat = summarize(tcps.map((t) => t.mbPerSec));
    const syncP = medianPercentiles(lats.map((l) => l.syncMs));
    const blockP = medianPercentiles(appends.map((a) => a.blockMs));
    const measured = (_name: string, values: number[], unit: string) => ({
      name: "",
      value: summarize(values),
      unit,
      source: "measured" as const,
    });
    return {
      scenario: "limits",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status: "ok",
      notes: [
        "Append: one process, write(1 MiB) then fdatasync, repeated, to a fresh file in the bench's temp data dir.",
        "fdatasync latency: 4 KiB append then fdatasync, repeated (the floor of any durable ack).",
        "TCP: two processes on 127.0.0.1, 256 KiB writes, bytes counted by the receiver.",
      ],
      rows: [
        {
          metric: "sequential append + fdatasync, 1 MiB blocks",
          unit: "MB/s",
          limit: measured(
            "fsync'd append",
            appends.map((a) => a.mbPerSec),
            "MB/s",
          ),
          extra: { "client CPU": fmtCpu(summarize(appends.map((a) => a.cpuCores)).median) },
        },
        {
          metric: "write + fdatasync of one 1 MiB block, p50",
          unit: "ms",
          limit: measured(
            "block time p50",
            appends.map((a) => a.blockMs.p50),
            "ms",
          ),
        },
        {
          metric: "write + fdatasync of one 1 MiB block, p99",
          unit: "ms",
          limit: measured(
            "block time p99",
            appends.map((a) => a.blockMs.p99),
            "ms",
          ),
        },
        {
          metric: "fdatasync after 4 KiB append, p50",
          unit: "ms",
          limit: measured(
            "fdatasync p50",
            lats.map((l) => l.syncMs.p50),
            "ms",
          ),
        },
        {
          metric: "fdatasync after 4 KiB append, p99",
          unit: "ms",
          limit: measured(
            "fdatasync p99",
            lats.map((l) => l.syncMs.p99),
            "ms",
          ),
        },
        {
          metric: "loopback TCP, two processes",
          unit: "MB/s",
          limit: measured(
            "loopback TCP",
            tcps.map((t) => t.mbPerSec),
            "MB/s",
          ),
          extra: {
            "client CPU": `send ${fmtCpu(summarize(tcps.map((t) => t.sourceCpu)).median)} / recv ${fmtCpu(summarize(tcps.map((t) => t.sinkCpu)).median)}`,
          },
        },
      ],
      charts: {
        bars: [
          { label: "fsync'd append 1 MiB", unit: "MB/s", stat: appendStat },
          { label: "loopback TCP", unit: "MB/s", stat: tcpStat },
        ],
        percentiles: [
          { label: "fdatasync (4 KiB append)", unit: "ms", p: syncP },
          { label: "write+fdatasync 1 MiB", unit: "ms", p: blockP },
        ],
      },
      raw: { appends, fsyncLatency: lats, tcp: tcps },
    };
  },
};
