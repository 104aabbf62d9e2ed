/**
 * Issue 2: "a long fetch or a big retention delete must not stall produce acknowledgements for
 * more than a few milliseconds — measure it". A probe process sends small acks=-1 produce requests
 * at a fixed rate (open loop) and records every acknowledgement's latency, while the round goes
 * through phases: baseline, long fetches of a big backlog, a retention pass deleting a big expired
 * log, DeleteRecords of a big prefix, and the deletion of a big topic. Per phase: p50/p99/p99.9/max
 * of the ack latency, against the reference broker's (bench/load/reference-broker.ts, the
 * machine's part: the same probe and the same fetch load against a broker that does nothing else)
 * and OnceDB's baseline of the same round, with the fdatasync p99 of the same round as the floor.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { LoadProcess, runMeteredPid } from "../harness/child.js";
import { removeDir, tempDir } from "../harness/dirs.js";
import { type EldWindow, eldImport, eldWithin, gcPauses, readEldFile } from "../harness/eld-probe.js";
import { fmtCompact, fmtNum, fmtStat } from "../harness/format.js";
import { createTopic, fillTopic, runMetered } from "../harness/kafka.js";
import { CpuMeter, StealSampler } from "../harness/proc-stat.js";
import { OnceServer, serverNotes } from "../harness/server.js";
import { waitQuiet } from "../harness/settle.js";
import { type CommitSpan, type ProduceSpan, readSpans } from "../harness/span-probe.js";
import { medianPercentiles, type Percentiles, pairRatios, percentiles, summarize } from "../harness/stats.js";
import type { Row, Scenario, ScenarioContext, ScenarioResult, TimeSeries } from "../harness/types.js";
import type { AckProbeConfig, AckProbeResult } from "../load/ack-probe.js";
import type { BigFetcherConfig, BigFetcherResult } from "../load/big-fetcher.js";
import type { FetchShape, ReferenceBrokerConfig, ReferenceBrokerResult } from "../load/reference-broker.js";
import { measureFsyncLatency } from "./limits.js";

const PROBE_RATE = 250;
const FETCH_MAX_BYTES = 50 * 2 ** 20;
const RECORDS_PER_BATCH = 1000;
const VALUE_BYTES = 100;
/** The server's periodic retention timer is pushed out of the way; passes are started on purpose. */
const RETENTION_INTERVAL_MS = 86_400_000;
/** Allowed stall: the phase's max ack latency over the reference broker's max, same round. */
const STALL_TARGET_MS = 5;
const BUCKET_MS = 250;

type PhaseId = "baseline" | "fetch" | "fetch-quota" | "retention" | "delete-records" | "delete-topic";
type FetchPhase = "fetch" | "fetch-quota";
const FETCH_PHASES: readonly FetchPhase[] = ["fetch", "fetch-quota"];
/** The second fetch phase's consumer has this client id, which the server limits to QUOTA_BYTES_PER_SEC. */
const QUOTA_CLIENT_ID = "oncedb-bench-fetch-quota";
/** big-fetcher's client id when none is given. */
const DEFAULT_FETCH_CLIENT_ID = "oncedb-bench-fetch";
const QUOTA_BYTES_PER_SEC = 100_000_000;
const PHASES: { id: PhaseId; label: string }[] = [
  { id: "baseline", label: "baseline" },
  { id: "fetch", label: "long fetch" },
  { id: "fetch-quota", label: "long fetch, consumer quota 100 MB/s" },
  { id: "retention", label: "retention delete" },
  { id: "delete-records", label: "DeleteRecords" },
  { id: "delete-topic", label: "topic deletion" },
];

function timing(quick: boolean, runs: number) {
  return quick
    ? // One short round: --quick proves the scenario works, it does not settle a figure.
      { bigBytes: 20e6, phaseMs: 700, gapMs: 200, probeWarmMs: 300, fsyncMs: 200, rounds: 1 }
    : {
        bigBytes: 0.4e9,
        phaseMs: 5000,
        gapMs: 800,
        probeWarmMs: 2000,
        fsyncMs: 1000,
        rounds: Math.min(runs, 5),
      };
}
type Timing = ReturnType<typeof timing>;

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const firstLine = (e: unknown) => (e instanceof Error ? e.message.split("\n")[0] : String(e));

/** Worst event-loop delay per 100 ms window inside a phase (see harness/eld-probe.ts). */
interface LoopStall {
  /** OnceDB's main thread. */
  server: Percentiles;
  /** An idle process on the same machine: how late anything runs while the phase loads the CPUs. */
  control: Percentiles;
  /** OnceDB's main thread: garbage-collector pauses, ms per second of the phase and the longest. */
  serverGcMsPerSec: number;
  serverGcMax: number;
}

/**
 * Where inside OnceDB the phase's produce acks waited (harness/span-probe.ts), p99 of each step,
 * ms: held = frame read to answer ready; queued = first submit to hand-over to the writer
 * thread; toWriter = hand-over to the writer beginning; commit = SQLite transaction and fsync;
 * back = commit done to the main thread hearing of it.
 */
interface ServerSpans {
  held: Percentiles;
  queued: number;
  toWriter: number;
  commit: number;
  back: number;
}

interface PhaseRun {
  id: PhaseId;
  stall: LoopStall;
  server: ServerSpans;
  startWall: number;
  endWall: number;
  ack: Percentiles;
  /** Acks of the requests sent while the operation itself ran (start to end of the delete, or the fetch loop). */
  ackDuringOp: Percentiles;
  serverCpu: number;
  /** The machine's CPU time stolen by the hypervisor during the phase, 0..1 (harness/proc-stat.ts). */
  steal: number;
  /** How long the disturbing operation itself took (delete done, fetch loop), ms. */
  opMs: number;
}

/**
 * The same probe against bench/load/reference-broker.ts (append + fdatasync, answers from memory)
 * under the same fetch load as OnceDB's phase of the same round: what the machine adds.
 */
interface ReferencePhase {
  id: PhaseId;
  ack: Percentiles;
  /** The idle process's loop stalls during the phase. */
  control: Percentiles;
  brokerCpu: number;
  steal: number;
  /** What the fetcher got (phases with a fetch). */
  fetch?: BigFetcherResult;
}

interface Round {
  fsync: Percentiles;
  phases: PhaseRun[];
  reference: ReferencePhase[];
  fetch: BigFetcherResult;
  fetchQuota: BigFetcherResult;
  probe: Omit<AckProbeResult, "sendWallMs" | "latencyMs">;
  /** Max ack latency per bucket, per phase, seconds since the probe started. */
  series: Record<string, [number, number][]>;
  deletedBytes: number;
  fillMBps: number;
  quietMs: number;
  quiet: boolean;
}

export const responsivenessScenario: Scenario = {
  name: "responsiveness",
  description:
    "produce ack latency (250 req/s, acks=-1) while a catch-up fetch loop, a retention delete, DeleteRecords and a topic deletion run, against a reference broker under the same load",
  needsServer: true,
  peers: [],
  estimateMs(opts) {
    const t = timing(opts.quick, opts.runs);
    const fillMs = (3 * t.bigBytes) / 60e3; // ~60 MB/s on a busy machine
    return (
      3000 +
      t.rounds *
        (fillMs +
          3000 +
          t.fsyncMs +
          t.probeWarmMs +
          (PHASES.length + FETCH_PHASES.length) * (t.phaseMs + t.gapMs) +
          2000)
    );
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { opts, progress } = ctx;
    const t = timing(opts.quick, opts.runs);
    const t0 = Date.now();
    const batches = Math.ceil(t.bigBytes / (RECORDS_PER_BATCH * VALUE_BYTES));
    const gb = (batches * RECORDS_PER_BATCH * VALUE_BYTES) / 1e9;
    const notes: string[] = [
      `Baseline = the probe alone. Probe: one connection, ${PROBE_RATE} Produce v3 requests/s of 1 record (100 bytes), acks=-1, open loop (each request is sent on schedule whether or not earlier ones were answered, so a stall shows in every request it delays); latency = request write to response.`,
      `Each round fills three 1-partition topics with ${fmtNum(gb)} GB each (batches of 1,000 x 100-byte records), waits for the data dir to be quiet, measures fdatasync, then runs the phases (${fmtNum(t.phaseMs / 1000)} s each at least, ${fmtNum(t.gapMs / 1000)} s apart): baseline; long fetch (a raw Fetch v4 loop, max_bytes = partition max = 50 MiB, over the first topic, continuing after each response and wrapping); the same with a client id the server limits to ${fmtNum(QUOTA_BYTES_PER_SEC / 1e6)} MB/s (--client-consumer-byte-rate: Kafka's consumer_byte_rate, throttle_time_ms and a muted connection); retention delete (the second topic has retention.ms=60000 and records stamped a day old; the pass is started by deleting an empty topic, which schedules one at once — the periodic timer is set to 24 h so no other pass runs); DeleteRecords of the whole first topic (offset -1); DeleteTopics of the third topic (its batches are reclaimed in the background).`,
      "A phase's window runs from its start to the later of its minimum length and the end of the operation; ack latencies are cut by send time ('while it ran': only the requests sent between the start and the end of the operation itself). limit = fdatasync p99 (4 KiB append) of the same round.",
      "Reference broker (bench/load/reference-broker.ts), a machine limit: a process that only writes each Produce's records to a file (filled once, written over) and answers after the fdatasync covering them (group commit), and answers every Fetch from memory. It reads no disk and decodes nothing. It runs beside OnceDB through each round with its own probe (the same probe program, the same rate); both probes run all the time, so each server has the other's small load in the background. Its baseline is OnceDB's baseline window. Beside each of OnceDB's fetch phases (after it in odd rounds, before it in even ones), the same fetcher runs against it for as long, with answers of the size OnceDB sent, paced to the MB/s OnceDB served: what that load (a client process, loopback copies, 2 shared cores) does to acks on this machine whatever the broker. In the delete phases it is a bystander in the same window. peer = its ack p99 in the matching phase; ratio = OnceDB's p99 / its p99, same round; 'p99 / baseline p99' = OnceDB's phase against OnceDB's baseline.",
      `Target (issue 2: no stall of more than a few ms): a phase's max ack latency at most ${STALL_TARGET_MS} ms above the reference broker's max in the same round, under the same load for the fetch phases, in the same window for the deletes; median over the rounds. 'max - baseline max' is the earlier rule (against OnceDB's own baseline, a window seconds earlier), kept for comparison.`,
      "In server (from OnceDB's diagnostics channels, preloaded probe bench/harness/span-probe.ts): ack held = a Produce frame read to its answer ready, p99 / max over the phase's requests; its commit path, p99 of each step over the phase's commits: queued (first submit to hand-over to the writer thread), to writer (hand-over to the transaction beginning), commit (SQLite transaction with its fsync), back (to the main thread hearing of it). The probe's latency also holds the time before the server read the request and after it wrote the answer.",
      "Loop stalls: the worst event-loop delay per 100 ms window (p99 and max of those windows in the phase), in OnceDB's main thread and in an idle Node process beside it; server GC: the time OnceDB's main thread spent paused by its garbage collector, per second of the phase, and its longest pause (the server's own work: unlike a delay it does not grow when the machine is busy). The server's column shows whether its main thread was blocked; the idle process's shows how late anything on this machine ran while the phase loaded the CPUs (client, server and kernel share 2 cores here). An ack delay the idle process shares is the machine's, not the server's. Machine steal: the share of all CPU time the hypervisor gave to other guests during the phase (/proc/stat), 0 on bare metal; a phase with high steal measured the host as much as OnceDB.",
    ];
    const dataDir = tempDir(opts.dataRoot, "responsiveness");
    const eldDir = tempDir(opts.dataRoot, "responsiveness-eld");
    const refDir = tempDir(opts.dataRoot, "responsiveness-reference");
    const eld = {
      server: path.join(eldDir, "server.eld"),
      control: path.join(eldDir, "control.eld"),
      spans: path.join(eldDir, "server.spans"),
    };
    progress.step("responsiveness: starting OnceDB", 2000);
    const control = startControl(eld.control);
    const cleanUp = () => {
      control.kill("SIGTERM");
      removeDir(dataDir);
      removeDir(eldDir);
      removeDir(refDir);
    };
    const server = await OnceServer.start({
      cli: opts.oncedbCli,
      dataDir,
      extraArgs: [
        "--retention-check-interval-ms",
        String(RETENTION_INTERVAL_MS),
        "--client-consumer-byte-rate",
        `${QUOTA_CLIENT_ID}=${QUOTA_BYTES_PER_SEC}`,
      ],
      env: {
        NODE_OPTIONS: `${eldImport()} ${spanImport()}`,
        ONCEDB_BENCH_ELD_FILE: eld.server,
        ONCEDB_BENCH_SPANS_FILE: eld.spans,
      },
    }).catch((e: unknown) => {
      cleanUp();
      throw e;
    });
    const kafka = new Kafka({
      clientId: "oncedb-bench-resp-admin",
      brokers: [server.kafkaAddress],
      logLevel: logLevel.NOTHING,
      requestTimeout: 180_000,
      retry: { retries: 2 },
    });
    const admin = kafka.admin();
    const rounds: Round[] = [];
    const failures: string[] = [];
    const probeTopic = "resp-probe";
    try {
      await admin.connect();
      await createTopic(server.kafkaAddress, probeTopic, 1);
      for (let r = 0; r < t.rounds; r++) {
        try {
          rounds.push(
            await oneRound(
              ctx,
              server,
              admin,
              dataDir,
              eld,
              probeTopic,
              r,
              t,
              batches,
              refDir,
              rounds.at(-1),
            ),
          );
        } catch (e) {
          const msg = `round ${r + 1}: ${firstLine(e)}`;
          failures.push(msg);
          ctx.log(`  ! responsiveness ${msg}`);
        }
        if (server.exited) throw new Error(`OnceDB ${server.exited}:\n${server.lastLines()}`);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
      const stop = await server.stop(30_000);
      notes.push(...serverNotes(server, stop));
      cleanUp();
    }
    notes.push(...failures.slice(0, 6));

    const rows: Row[] = [];
    const pct = [];
    const series: TimeSeries[] = [];
    if (rounds.length > 0) {
      const phase = (id: PhaseId) => rounds.map((x) => x.phases.find((p) => p.id === id)!);
      const base = phase("baseline");
      const fsyncP99 = rounds.map((x) => x.fsync.p99);
      const fsyncStat = summarize(fsyncP99);
      const what: Record<PhaseId, (x: Round, p: PhaseRun) => string> = {
        baseline: () => "",
        fetch: (x) => `${fmtNum(x.fetch.fetches)} fetches of ${fmtNum(x.fetch.bytesPerFetch / 2 ** 20)} MiB`,
        "fetch-quota": (x) =>
          `${fmtNum(x.fetchQuota.fetches)} fetches of ${fmtNum(x.fetchQuota.bytesPerFetch / 2 ** 20)} MiB`,
        retention: (_x, p) => `${fmtNum(gb)} GB deleted in ${fmtNum(p.opMs)} ms`,
        "delete-records": (_x, p) => `${fmtNum(gb)} GB, answered in ${fmtNum(p.opMs)} ms`,
        "delete-topic": (_x, p) => `${fmtNum(gb)} GB reclaimed in ${fmtNum(p.opMs)} ms`,
      };
      for (const ph of PHASES) {
        const list = phase(ph.id);
        const p99 = list.map((x) => x.ack.p99);
        const excess = list.map((x, i) => x.ack.max - base[i].ack.max);
        const isBase = ph.id === "baseline";
        const excessStat = summarize(excess);
        // The reference broker: under the same load in the fetch phases, a bystander in the
        // same window in the others.
        const refs = rounds.map((x) => x.reference.find((p) => p.id === ph.id));
        const ref = refs.every((x) => x !== undefined) ? (refs as ReferencePhase[]) : undefined;
        const refExcess = ref ? summarize(list.map((x, i) => x.ack.max - ref[i].ack.max)) : undefined;
        const isFetch = (FETCH_PHASES as readonly PhaseId[]).includes(ph.id);
        // A stall is what OnceDB adds to the reference broker's acks in the same round: under the
        // same load in the fetch phases (a client process and loopback copies load the whole
        // machine), in the same window in the deletes (the machine's own hiccups, steal and disk,
        // come and go within seconds, so a window earlier is no control; a delete's own disk
        // writes are small: ~7.5 MB for DeleteRecords of 0.4 GB, measured).
        const judged = isBase ? undefined : refExcess;
        rows.push({
          metric: `${ph.label}: produce ack p99`,
          unit: "ms",
          oncedb: summarize(p99),
          peer: ref
            ? {
                name: "reference broker",
                value: summarize(ref.map((x) => x.ack.p99)),
                unit: "ms",
                source: "measured",
              }
            : undefined,
          ratio: ref
            ? pairRatios(
                p99,
                ref.map((x) => x.ack.p99),
              )
            : undefined,
          limit: { name: "fdatasync p99", value: fsyncStat, unit: "ms", source: "measured" },
          limitRatio: pairRatios(p99, fsyncP99),
          target: isBase
            ? undefined
            : `max <= reference broker's max${isFetch ? " under the same load" : " in the same window"} + ${STALL_TARGET_MS} ms`,
          targetMet: judged === undefined ? undefined : judged.median <= STALL_TARGET_MS,
          extra: {
            "p99 / baseline p99": isBase
              ? ""
              : fmtStat(
                  pairRatios(
                    p99,
                    base.map((x) => x.ack.p99),
                  ),
                ),
            p50: fmtStat(summarize(list.map((x) => x.ack.p50))),
            "p99.9": fmtStat(summarize(list.map((x) => x.ack.p999))),
            max: fmtStat(summarize(list.map((x) => x.ack.max))),
            "while it ran: p99 / max": isBase
              ? ""
              : `${fmtNum(summarize(list.map((x) => x.ackDuringOp.p99)).median)} / ${fmtNum(summarize(list.map((x) => x.ackDuringOp.max)).median)}`,
            "max - baseline max": isBase
              ? ""
              : `${fmtNum(excessStat.median)} [${fmtCompact(excessStat.min)}-${fmtCompact(excessStat.max)}]`,
            "reference broker: p99 / max": ref
              ? `${fmtNum(summarize(ref.map((x) => x.ack.p99)).median)} / ${fmtNum(summarize(ref.map((x) => x.ack.max)).median)}`
              : "",
            "max - reference max": refExcess
              ? `${fmtNum(refExcess.median)} [${fmtCompact(refExcess.min)}-${fmtCompact(refExcess.max)}]`
              : "",
            "server loop stall p99 / max": `${fmtNum(summarize(list.map((x) => x.stall.server.p99)).median)} / ${fmtNum(summarize(list.map((x) => x.stall.server.max)).median)}`,
            "idle process stall p99 / max": `${fmtNum(summarize(list.map((x) => x.stall.control.p99)).median)} / ${fmtNum(summarize(list.map((x) => x.stall.control.max)).median)}`,
            "server GC ms/s / longest": `${fmtNum(summarize(list.map((x) => x.stall.serverGcMsPerSec)).median)} / ${fmtNum(summarize(list.map((x) => x.stall.serverGcMax)).median)}`,
            "in server: ack held p99 / max": `${fmtNum(summarize(list.map((x) => x.server.held.p99)).median)} / ${fmtNum(summarize(list.map((x) => x.server.held.max)).median)}`,
            "in server p99: queued / to writer / commit / back": [
              (x: PhaseRun) => x.server.queued,
              (x: PhaseRun) => x.server.toWriter,
              (x: PhaseRun) => x.server.commit,
              (x: PhaseRun) => x.server.back,
            ]
              .map((f) => fmtNum(summarize(list.map(f)).median))
              .join(" / "),
            samples: fmtNum(summarize(list.map((x) => x.ack.count)).median),
            "server CPU": summarize(list.map((x) => x.serverCpu)).median.toFixed(2),
            "machine steal": stealText(list.map((x) => x.steal)),
            "during the phase": what[ph.id](rounds[rounds.length - 1], list[list.length - 1]),
          },
        });
        pct.push({ label: ph.label, unit: "ms", p: medianPercentiles(list.map((x) => x.ack)) });
      }
      for (const ph of PHASES) {
        const refs = rounds.map((x) => x.reference.find((p) => p.id === ph.id));
        if (!refs.every((x) => x !== undefined)) continue;
        const list = refs as ReferencePhase[];
        const fetched = list.map((x) => x.fetch).filter((x) => x !== undefined);
        rows.push({
          metric: `reference broker, ${FETCH_PHASES.some((f) => f === ph.id) ? "same load as" : "during"} ${ph.label}: produce ack p99`,
          unit: "ms",
          peer: {
            name: "reference broker",
            value: summarize(list.map((x) => x.ack.p99)),
            unit: "ms",
            source: "measured",
          },
          extra: {
            p50: fmtStat(summarize(list.map((x) => x.ack.p50))),
            "p99.9": fmtStat(summarize(list.map((x) => x.ack.p999))),
            max: fmtStat(summarize(list.map((x) => x.ack.max))),
            "idle process stall p99 / max": `${fmtNum(summarize(list.map((x) => x.control.p99)).median)} / ${fmtNum(summarize(list.map((x) => x.control.max)).median)}`,
            samples: fmtNum(summarize(list.map((x) => x.ack.count)).median),
            "server CPU": summarize(list.map((x) => x.brokerCpu)).median.toFixed(2),
            "machine steal": stealText(list.map((x) => x.steal)),
            "during the phase":
              fetched.length === 0
                ? ""
                : `${fmtNum(summarize(fetched.map((f) => f.mbPerSec)).median)} MB/s fetched, fetcher CPU ${summarize(fetched.map((f) => f.clientCpu)).median.toFixed(2)}`,
          },
        });
        if (FETCH_PHASES.some((f) => f === ph.id))
          pct.push({
            label: `reference broker, ${ph.label}`,
            unit: "ms",
            p: medianPercentiles(list.map((x) => x.ack)),
          });
      }
      pct.push({ label: "fdatasync 4 KiB", unit: "ms", p: medianPercentiles(rounds.map((x) => x.fsync)) });
      for (const [label, pick] of [
        ["long fetch: fetched", (x: Round) => x.fetch],
        ["long fetch, consumer quota 100 MB/s: fetched", (x: Round) => x.fetchQuota],
      ] as const) {
        const fetchLat = medianPercentiles(rounds.map((x) => pick(x).fetchMs));
        rows.push({
          metric: label,
          unit: "MB/s",
          oncedb: summarize(rounds.map((x) => pick(x).mbPerSec)),
          extra: {
            p50: `fetch ${fmtNum(fetchLat.p50)} ms`,
            max: `fetch ${fmtNum(fetchLat.max)} ms`,
            "server CPU": "",
            "during the phase": `fetcher CPU ${summarize(rounds.map((x) => pick(x).clientCpu)).median.toFixed(2)}`,
          },
        });
      }
      for (const [id, label] of [
        ["retention", "retention delete: trigger to log start = high watermark"],
        ["delete-records", "DeleteRecords: request to response"],
        ["delete-topic", "topic deletion: request to batches reclaimed"],
      ] as const) {
        const ms = phase(id).map((x) => x.opMs);
        rows.push({
          metric: label,
          unit: "ms",
          oncedb: summarize(ms),
          extra: {
            "during the phase": `${fmtNum(summarize(ms.map((v) => (gb * 1000) / (v / 1000))).median)} MB/s deleted`,
          },
        });
      }
      rows.push({
        metric: "probe: acknowledged rate",
        unit: "req/s",
        oncedb: summarize(rounds.map((x) => x.probe.acked / x.probe.seconds)),
        target: `${PROBE_RATE}`,
        extra: {
          "during the phase": `probe CPU ${summarize(rounds.map((x) => x.probe.clientCpu)).median.toFixed(2)}, max send lag ${fmtNum(summarize(rounds.map((x) => x.probe.maxSendLagMs)).max)} ms`,
        },
      });
      const last = rounds[rounds.length - 1];
      for (const ph of PHASES) series.push({ label: ph.label, unit: "ms", points: last.series[ph.id] ?? [] });
      notes.push(
        `Fill: ${fmtNum(summarize(rounds.map((x) => x.fillMBps)).median)} MB/s; data dir quiet after ${fmtNum(summarize(rounds.map((x) => x.quietMs)).median / 1000)} s${rounds.every((x) => x.quiet) ? "" : " (not quiet within the limit in some rounds: writeback may overlap the phases)"}.`,
      );
      const errs = rounds.reduce((a, x) => a + x.probe.errors, 0);
      if (errs > 0)
        notes.push(
          `Probe errors: ${errs}, first: ${rounds.find((x) => x.probe.firstError)?.probe.firstError}.`,
        );
      const un = rounds.reduce((a, x) => a + x.probe.unanswered, 0);
      if (un > 0) notes.push(`Probe requests unanswered at the end: ${un}.`);
      const lag = summarize(rounds.map((x) => x.probe.maxSendLagMs)).max;
      if (lag > 20)
        notes.push(
          `The probe itself fell up to ${fmtNum(lag)} ms behind its schedule (CPU contention on this machine); such a delay is not in the latencies (measured from the write), but it thins the samples.`,
        );
      notes.push(
        "Chart 'over time': the worst ack latency per 250 ms of the last round, one line per phase.",
      );
    }
    return {
      scenario: "responsiveness",
      date: new Date().toISOString(),
      durationMs: Date.now() - t0,
      status: failures.length === 0 ? "ok" : rows.length > 0 ? "partial" : "failed",
      notes,
      rows,
      charts: { percentiles: pct, series },
      raw: rounds,
    };
  },
};

async function oneRound(
  ctx: ScenarioContext,
  server: OnceServer,
  admin: Admin,
  dataDir: string,
  eld: { server: string; control: string; spans: string },
  probeTopic: string,
  r: number,
  t: Timing,
  batches: number,
  refDir: string,
  previous: Round | undefined,
): Promise<Round> {
  const { opts, progress } = ctx;
  const tag = `${r}-${Date.now()}`;
  const big = `resp-big-${tag}`;
  const ret = `resp-ret-${tag}`;
  const del = `resp-del-${tag}`;
  const trigger = `resp-trigger-${tag}`;
  const R = `round ${r + 1}/${t.rounds}`;
  await createTopic(server.kafkaAddress, big, 1);
  await createTopic(server.kafkaAddress, ret, 1, 120_000, { "retention.ms": "60000" });
  await createTopic(server.kafkaAddress, del, 1);
  await createTopic(server.kafkaAddress, trigger, 1);
  const fillMs: number[] = [];
  const fillMB: number[] = [];
  for (const [topic, timestamp] of [
    [big, Date.now()],
    [ret, Date.now() - 86_400_000],
    [del, Date.now()],
  ] as const) {
    progress.step(`responsiveness: fill ${topic}, ${R}`, (batches * 100) / 60);
    const f = await fillTopic(server, {
      topic,
      partitions: 1,
      batchesPerPartition: batches,
      recordsPerBatch: RECORDS_PER_BATCH,
      valueBytes: VALUE_BYTES,
      timestamp,
    });
    fillMs.push(f.seconds * 1000);
    fillMB.push(f.payloadBytes / 1e6);
  }
  const retOffsets = await admin.fetchTopicOffsets(ret);
  if (Number(retOffsets[0].low) !== 0)
    throw new Error(
      `${ret} was trimmed before its phase (log start ${retOffsets[0].low}): a retention pass ran`,
    );
  progress.step(`responsiveness: waiting for the data dir to be quiet, ${R}`, 3000);
  const quiet = await waitQuiet(dataDir, 90_000);
  progress.step(`responsiveness: fdatasync floor, ${R}`, t.fsyncMs + 300);
  const fsync = (await measureFsyncLatency(opts, t.fsyncMs)).syncMs;

  const probeCfg: AckProbeConfig = {
    host: server.kafkaHost,
    port: server.kafkaPort,
    topic: probeTopic,
    ratePerSec: PROBE_RATE,
    recordsPerRequest: 1,
    valueBytes: VALUE_BYTES,
    maxMs: 30 * 60_000,
    maxSamples: 1_000_000,
  };
  const probe = new LoadProcess("ack-probe", probeCfg);
  let reference: ReferenceRun | undefined;
  const windows: Omit<PhaseRun, "ack" | "ackDuringOp" | "stall" | "server" | "steal">[] = [];
  let probeStartWall = 0;
  const stealSampler = new StealSampler();
  stealSampler.start();
  try {
    await probe.waitFor("ready", 20_000);
    reference = await ReferenceRun.start(refDir);
    probeStartWall = wallNow();
    progress.step(`responsiveness: probe warm-up, ${R}`, t.probeWarmMs);
    await sleep(t.probeWarmMs);
    const meter = server.cpuMeter();

    // a. baseline
    progress.step(`responsiveness: baseline, ${R}`, t.phaseMs + t.gapMs);
    {
      const s = wallNow();
      meter.start();
      reference.watchStart();
      await sleep(t.phaseMs);
      const e = wallNow();
      windows.push({ id: "baseline", startWall: s, endWall: e, serverCpu: meter.stop(), opMs: 0 });
      reference.watchEnd("baseline", { startWall: s, endWall: e });
    }
    await sleep(t.gapMs);

    // b. long fetch, then the same under a consumer quota
    const fetches: Partial<Record<FetchPhase, BigFetcherResult>> = {};
    for (const id of FETCH_PHASES) {
      const label = PHASES.find((ph) => ph.id === id)!.label;
      const referenceTurn = async (like: BigFetcherResult) => {
        progress.step(`responsiveness: reference broker, ${label}, ${R}`, t.phaseMs + t.gapMs);
        await reference!.fetchPhase(id, like, t);
        await sleep(t.gapMs);
      };
      // Which of the two goes first alternates by round, so that a drift of the machine over a
      // few seconds does not always favour the same one. Going first, the reference broker
      // matches the bytes/s and answer size of OnceDB's previous round.
      const earlier = previous?.[id === "fetch" ? "fetch" : "fetchQuota"];
      const referenceFirst = r % 2 === 1 && earlier !== undefined;
      if (referenceFirst) await referenceTurn(earlier);
      progress.step(`responsiveness: ${label}, ${R}`, t.phaseMs + t.gapMs);
      const cfg: BigFetcherConfig = {
        host: server.kafkaHost,
        port: server.kafkaPort,
        topic: big,
        partition: 0,
        maxBytes: FETCH_MAX_BYTES,
        durationMs: t.phaseMs,
        fetchTimeoutMs: 60_000,
        clientId: id === "fetch-quota" ? QUOTA_CLIENT_ID : DEFAULT_FETCH_CLIENT_ID,
      };
      const m = await runMetered<BigFetcherResult>(server, "big-fetcher", cfg, t.phaseMs + 90_000);
      fetches[id] = m.result;
      windows.push({
        id,
        startWall: m.result.windowStartWall,
        endWall: m.result.windowEndWall,
        serverCpu: m.serverCpu,
        opMs: m.result.seconds * 1000,
      });
      await sleep(t.gapMs);
      if (!referenceFirst) await referenceTurn(m.result);
    }

    // c. retention delete: deleting an empty topic schedules a retention pass at once
    progress.step(`responsiveness: retention delete, ${R}`, t.phaseMs + t.gapMs);
    {
      const s = wallNow();
      meter.start();
      reference.watchStart();
      await admin.deleteTopics({ topics: [trigger], timeout: 60_000 });
      const done = await pollUntil(
        async () => {
          const o = (await admin.fetchTopicOffsets(ret))[0];
          return Number(o.low) >= Number(o.high);
        },
        180_000,
        100,
      );
      if (!done) throw new Error(`retention did not empty ${ret} within 180 s`);
      const opMs = wallNow() - s;
      await sleep(s + t.phaseMs - wallNow());
      const e = wallNow();
      windows.push({ id: "retention", startWall: s, endWall: e, serverCpu: meter.stop(), opMs });
      reference.watchEnd("retention", { startWall: s, endWall: e });
    }
    await sleep(t.gapMs);

    // c2. DeleteRecords of the whole big topic
    progress.step(`responsiveness: DeleteRecords, ${R}`, t.phaseMs + t.gapMs);
    {
      // kafkajs finds the partition's leader in its cached metadata: load it outside the window
      await admin.fetchTopicMetadata({ topics: [big] });
      const s = wallNow();
      meter.start();
      reference.watchStart();
      await admin
        .deleteTopicRecords({ topic: big, partitions: [{ partition: 0, offset: "-1" }] })
        .catch((e: unknown) => {
          const parts = (e as { partitions?: { error?: Error }[] }).partitions ?? [];
          throw new Error(
            `DeleteRecords failed: ${parts.map((p) => p.error?.message).join("; ") || String(e)}`,
          );
        });
      const opMs = wallNow() - s;
      await sleep(s + t.phaseMs - wallNow());
      const e = wallNow();
      windows.push({ id: "delete-records", startWall: s, endWall: e, serverCpu: meter.stop(), opMs });
      reference.watchEnd("delete-records", { startWall: s, endWall: e });
    }
    await sleep(t.gapMs);

    // d. topic deletion; its batches are reclaimed in chunks in the background
    progress.step(`responsiveness: topic deletion, ${R}`, t.phaseMs + t.gapMs);
    {
      const db = new Database(path.join(dataDir, "oncedb.sqlite"), { readonly: true, fileMustExist: true });
      try {
        const left = db.prepare("SELECT COUNT(*) FROM deleted_partitions").pluck(true);
        const s = wallNow();
        meter.start();
        reference.watchStart();
        await admin.deleteTopics({ topics: [del], timeout: 60_000 });
        const done = await pollUntil(async () => (left.get() as number) === 0, 180_000, 100);
        if (!done) throw new Error(`the batches of ${del} were not reclaimed within 180 s`);
        const opMs = wallNow() - s;
        await sleep(s + t.phaseMs - wallNow());
        const e = wallNow();
        windows.push({ id: "delete-topic", startWall: s, endWall: e, serverCpu: meter.stop(), opMs });
        reference.watchEnd("delete-topic", { startWall: s, endWall: e });
      } finally {
        db.close();
      }
    }
    await sleep(t.gapMs);
    probe.send({ type: "stop" });
    const res = await probe.result<AckProbeResult>(30_000);
    const { sendWallMs, latencyMs, ...probeRest } = res;
    await sleep(1200); // the loop-stall and span files are appended once a second
    const stalls = { server: readEldFile(eld.server), control: readEldFile(eld.control) };
    const referencePhases = await reference.finish(stalls.control, stealSampler);
    const spans = readSpans(readText(eld.spans));
    const inWindow = (xs: EldWindow[], w: { startWall: number; endWall: number }) =>
      percentiles(eldWithin(xs, w).map((x) => x.delay));
    const phases: PhaseRun[] = windows.map((w) => {
      const xs: number[] = [];
      const during: number[] = [];
      const opEnd = (FETCH_PHASES as readonly string[]).includes(w.id) ? w.endWall : w.startWall + w.opMs;
      for (let i = 0; i < sendWallMs.length; i++) {
        const at = sendWallMs[i];
        if (at >= w.startWall && at < w.endWall) xs.push(latencyMs[i]);
        if (at >= w.startWall && at < opEnd) during.push(latencyMs[i]);
      }
      const gc = gcPauses(eldWithin(stalls.server, w));
      const stall: LoopStall = {
        server: inWindow(stalls.server, w),
        control: inWindow(stalls.control, w),
        serverGcMsPerSec: gc.msPerSec,
        serverGcMax: gc.maxMs,
      };
      return {
        ...w,
        ack: percentiles(xs),
        ackDuringOp: percentiles(during),
        stall,
        server: serverSpans(spans, w),
        steal: stealSampler.fraction(w.startWall, w.endWall),
      };
    });
    const series: Record<string, [number, number][]> = {};
    for (const w of windows) {
      const buckets = new Map<number, number>();
      for (let i = 0; i < sendWallMs.length; i++) {
        const at = sendWallMs[i];
        if (at < w.startWall || at >= w.endWall) continue;
        const b = Math.floor((at - probeStartWall) / BUCKET_MS);
        buckets.set(b, Math.max(buckets.get(b) ?? 0, latencyMs[i]));
      }
      series[w.id] = [...buckets]
        .sort((a, b) => a[0] - b[0])
        .map(([b, v]) => [((b + 1) * BUCKET_MS) / 1000, v] as [number, number]);
    }
    const { fetch, "fetch-quota": fetchQuota } = fetches;
    if (!fetch || !fetchQuota) throw new Error("the fetch phases did not run");
    return {
      fsync,
      phases,
      reference: referencePhases,
      fetch,
      fetchQuota,
      probe: probeRest,
      series,
      deletedBytes: batches * RECORDS_PER_BATCH * VALUE_BYTES,
      fillMBps: fillMB.reduce((a, b) => a + b, 0) / (fillMs.reduce((a, b) => a + b, 0) / 1000),
      quietMs: quiet.ms,
      quiet: quiet.quiet,
    };
  } finally {
    stealSampler.stop();
    await probe.stop();
    await reference?.stop();
  }
}

/**
 * The reference broker beside OnceDB for one round: started with the round, its own probe
 * measuring throughout; its baseline is OnceDB's baseline window (both probes idle together),
 * and each of its fetch phases runs right after OnceDB's, with answers of the size OnceDB sent
 * and paced to the bytes/s OnceDB served.
 */
class ReferenceRun {
  private readonly windows: {
    id: PhaseId;
    startWall: number;
    endWall: number;
    cpu: number;
    fetch?: BigFetcherResult;
  }[] = [];
  private meter: CpuMeter;

  private constructor(
    private readonly broker: LoadProcess,
    private readonly probe: LoadProcess,
    private readonly port: number,
  ) {
    this.meter = new CpuMeter(broker.pid);
  }

  static async start(refDir: string): Promise<ReferenceRun> {
    const cfg: ReferenceBrokerConfig = {
      dir: refDir,
      fetchRecordBytes: 1,
      paceByClientId: {},
      maxMs: 30 * 60_000,
    };
    const broker = new LoadProcess("reference-broker", cfg);
    let probe: LoadProcess | undefined;
    try {
      const port = Number((await broker.waitFor("ready", 20_000)).port);
      const probeCfg: AckProbeConfig = {
        host: "127.0.0.1",
        port,
        topic: "reference-probe",
        ratePerSec: PROBE_RATE,
        recordsPerRequest: 1,
        valueBytes: VALUE_BYTES,
        maxMs: 30 * 60_000,
        maxSamples: 1_000_000,
      };
      probe = new LoadProcess("ack-probe", probeCfg);
      await probe.waitFor("ready", 20_000);
      return new ReferenceRun(broker, probe, port);
    } catch (e) {
      await probe?.stop();
      await broker.stop();
      throw e;
    }
  }

  /** Starts watching a window of OnceDB's (the baseline, a delete): the broker's probe runs alone. */
  watchStart(): void {
    this.meter.start();
  }

  watchEnd(id: PhaseId, w: { startWall: number; endWall: number }): void {
    this.windows.push({ id, ...w, cpu: this.meter.stop() });
  }

  /** The fetch phase `id` against the broker, shaped after what OnceDB's fetcher got in it. */
  async fetchPhase(id: FetchPhase, onceDb: BigFetcherResult, t: Timing): Promise<void> {
    if (!(onceDb.mbPerSec > 0 && onceDb.bytesPerFetch > 0))
      throw new Error(`OnceDB's ${id} phase moved no bytes: nothing for the reference broker to match`);
    const clientId = id === "fetch-quota" ? QUOTA_CLIENT_ID : DEFAULT_FETCH_CLIENT_ID;
    const shape: FetchShape = {
      fetchRecordBytes: onceDb.bytesPerFetch,
      // OnceDB answers an unthrottled fetch at once, and reads the next one in between; over its
      // quota it trickles each answer out at the rate.
      paceByClientId: { [clientId]: { bytesPerSec: onceDb.mbPerSec * 1e6, spread: id === "fetch-quota" } },
    };
    this.broker.send({ type: "shape", shape });
    await this.broker.waitFor("shaped", 20_000);
    const cfg: BigFetcherConfig = {
      host: "127.0.0.1",
      port: this.port,
      topic: "reference-big",
      partition: 0,
      maxBytes: FETCH_MAX_BYTES,
      durationMs: t.phaseMs,
      fetchTimeoutMs: 60_000,
      clientId,
    };
    const m = await runMeteredPid<BigFetcherResult>(this.broker.pid, "big-fetcher", cfg, t.phaseMs + 90_000);
    this.windows.push({
      id,
      startWall: m.result.windowStartWall,
      endWall: m.result.windowEndWall,
      cpu: m.serverCpu,
      fetch: m.result,
    });
  }

  /** Stops the probe and the broker; the phases' ack latencies and the idle process's stalls. */
  async finish(control: EldWindow[], steal: StealSampler): Promise<ReferencePhase[]> {
    this.probe.send({ type: "stop" });
    const res = await this.probe.result<AckProbeResult>(30_000);
    this.broker.send({ type: "stop" });
    await this.broker.result<ReferenceBrokerResult>(10_000);
    if (res.errors > 0 || res.firstError)
      throw new Error(`reference broker probe: ${res.errors} errors, first: ${res.firstError}`);
    const phases = this.windows.map((w) => {
      const xs: number[] = [];
      for (let i = 0; i < res.sendWallMs.length; i++) {
        const at = res.sendWallMs[i];
        if (at >= w.startWall && at < w.endWall) xs.push(res.latencyMs[i]);
      }
      return {
        id: w.id,
        ack: percentiles(xs),
        control: percentiles(eldWithin(control, w).map((x) => x.delay)),
        brokerCpu: w.cpu,
        steal: steal.fraction(w.startWall, w.endWall),
        fetch: w.fetch,
      };
    });
    const empty = phases.find((p) => p.ack.count === 0);
    if (empty) throw new Error(`reference broker probe: no acks in its ${empty.id} window`);
    return phases;
  }

  async stop(): Promise<void> {
    await this.probe.stop();
    await this.broker.stop();
  }
}

/** Median hypervisor steal over the rounds, as a percentage ("" where /proc/stat is missing). */
function stealText(values: number[]): string {
  const known = values.filter((v) => Number.isFinite(v));
  return known.length === 0 ? "" : `${(summarize(known).median * 100).toFixed(1)}%`;
}

function serverSpans(
  spans: { produces: ProduceSpan[]; commits: CommitSpan[] },
  w: { startWall: number; endWall: number },
): ServerSpans {
  const inW = (at: number) => at >= w.startWall && at < w.endWall;
  const commits = spans.commits.filter((c) => inW(c.sentAt));
  const p99 = (f: (c: CommitSpan) => number) => percentiles(commits.map(f)).p99;
  return {
    held: percentiles(
      spans.produces.filter((p) => inW(p.receivedAt)).map((p) => p.answeredAt - p.receivedAt),
    ),
    queued: p99((c) => c.sentAt - c.submittedAt),
    toWriter: p99((c) => c.startedAt - c.sentAt),
    commit: p99((c) => c.endedAt - c.startedAt),
    back: p99((c) => c.doneAt - c.endedAt),
  };
}

const SPAN_PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "harness", "span-probe.js");

function spanImport(): string {
  return `--import ${pathToFileURL(SPAN_PROBE).href}`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** An idle Node process watching its own event loop: the machine's scheduling delay. */
function startControl(file: string): ChildProcess {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], {
    stdio: "ignore",
    env: { ...process.env, NODE_OPTIONS: eldImport(), ONCEDB_BENCH_ELD_FILE: file },
  });
  child.unref();
  return child;
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; bounded in count too. */
async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs: number,
): Promise<boolean> {
  const t0 = performance.now();
  for (let i = 0; i < 100_000 && performance.now() - t0 < timeoutMs; i++) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}
