/**
 * One verification run: start (or target) a server, run the workload through real kafkajs
 * clients in worker processes while the nemesis injects the seeded fault schedule, heal, let
 * the copiers finish, read everything back, check, report.
 *
 * Phases: setup -> faults (the --duration) -> heal (stop faults, stop producers, wait for the
 * copiers to commit the whole input, bounded) -> final read (fresh read_committed consumer) ->
 * check -> report. Every wait is bounded; the liveness bound covers heal plus final read.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Admin } from "kafkajs";
import { check } from "./checker/check.js";
import type { FinalState } from "./checker/types.js";
import { mountTmpfs, probeFiu, unmount } from "./faults/disk.js";
import { Nemesis, type ServerControl } from "./faults/nemesis.js";
import { type FaultAction, type FaultKind, planFaults } from "./faults/schedule.js";
import { endOffsets, groupOffsets, readAll, verifierKafka, waitCaughtUp } from "./final-read.js";
import { HistoryLog } from "./history.js";
import { NetProxy, seededRng } from "./net-proxy.js";
import type { VerifyOptions } from "./options.js";
import { Progress } from "./progress.js";
import { formatTable, type Report, writeReport } from "./report.js";
import { ServerProcess } from "./server-process.js";
import { Worker } from "./workers.js";

const CLI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../cli/main.js");
/** Size of the tmpfs data directory for full-disk faults. */
const TMPFS_MB = 1024;
const SERVER_START_ATTEMPTS_MAX = 30;
const SETUP_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms)),
  );
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Set while a run is in progress: stops its children and unmounts what it mounted (for SIGINT). */
export let abortRun: (() => Promise<void>) | null = null;

export interface RunOutcome {
  report: Report;
  table: string;
}

export async function runVerify(o: VerifyOptions, log: (line: string) => void): Promise<RunOutcome> {
  const started = Date.now();
  fs.mkdirSync(o.out, { recursive: true });
  const history = new HistoryLog(path.join(o.out, "history.jsonl"));
  const workerLog = fs.openSync(path.join(o.out, "workers.log"), "a");
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-verify-"));
  const runId = `v${o.seed}-${started.toString(36)}`;
  const external = o.kafka !== null;
  const skipped: { kind: string; reason: string }[] = [];
  let kinds: FaultKind[] = [...o.faults];

  // ------------------------------------------------------------ what can run here
  const diskActions: FaultAction[] = [];
  let fiuBase: string | null = null;
  let tmpfsDir: string | null = null;
  const dataDir = path.join(scratch, "data");
  if (external) {
    for (const k of ["net", "disk"] as const)
      if (kinds.includes(k))
        skipped.push({
          kind: k,
          reason:
            k === "net"
              ? "--kafka targets an external server, which advertises its own address, so clients would bypass the proxy"
              : "--kafka targets an external server: the verifier cannot inject its I/O errors",
        });
    kinds = kinds.filter((k) => k !== "net" && k !== "disk");
    if (kinds.includes("kill") || kinds.includes("pause"))
      skipped.push({
        kind: "server kill/pause",
        reason: "--kafka targets an external server: only clients are killed and paused",
      });
  }
  if (kinds.includes("disk")) {
    const fiu = probeFiu();
    if (fiu.ok) {
      fiuBase = path.join(scratch, "fiu-ctrl");
      diskActions.push("disk-fsync", "disk-write");
    } else skipped.push({ kind: "disk (I/O errors)", reason: fiu.reason });
    const mounted = mountTmpfs(dataDir, TMPFS_MB);
    if (mounted.ok) {
      tmpfsDir = dataDir;
      diskActions.push("disk-full");
    } else skipped.push({ kind: "disk (full)", reason: mounted.reason });
    if (diskActions.length === 0) kinds = kinds.filter((k) => k !== "disk");
  }
  fs.mkdirSync(dataDir, { recursive: true });
  for (const s of skipped) log(`verify: skipping ${s.kind}: ${s.reason}`);

  // ------------------------------------------------------------ server and proxy
  let server: ServerProcess | null = null;
  let proxy: NetProxy | null = null;
  let broker = o.kafka ?? "";
  let shuttingDown = false;
  let crashes = 0;
  let serverLock: Promise<void> = Promise.resolve();
  const serverOp = (fn: () => Promise<void>): Promise<void> => {
    const p = serverLock.then(fn);
    serverLock = p.catch(() => undefined);
    return p;
  };
  const startServer = async () => {
    if (!server || server.running) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        history.append({
          time: Date.now(),
          process: "server",
          type: "info",
          f: "start",
          starts: server.starts,
        });
        return;
      } catch (err) {
        history.append({
          time: Date.now(),
          process: "server",
          type: "info",
          f: "start-failed",
          error: String(err),
        });
        if (attempt >= SERVER_START_ATTEMPTS_MAX) throw err;
        await sleep(Math.min(5000, 250 * attempt));
      }
    }
  };
  let nemesis: Nemesis | null = null;
  const workers = new Map<string, Worker>();
  let admin: Admin | null = null;

  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    shuttingDown = true;
    nemesis?.stop();
    nemesis?.healAll();
    await Promise.all([...workers.values()].map((w) => w.stop()));
    await admin?.disconnect().catch(() => undefined);
    if (server) await serverLock.then(() => server!.stop());
    server?.close();
    await proxy?.close();
    if (tmpfsDir) unmount(tmpfsDir);
    fs.rmSync(scratch, { recursive: true, force: true });
    history.close();
    fs.closeSync(workerLog);
  };

  abortRun = cleanup;
  try {
    if (!external) {
      const port = await freePort();
      if (kinds.includes("net")) {
        // Responses are cut only at frame boundaries: kafkajs 2.2.4 keeps the half-read bytes
        // of a dead connection and misreads every later response, which would report a client
        // hang instead of testing the broker. Requests are still cut anywhere.
        proxy = new NetProxy({
          target: { host: "127.0.0.1", port },
          rng: seededRng(o.seed),
          responseFraming: "int32",
        });
        await proxy.listen();
      }
      server = new ServerProcess({
        cliPath: CLI_PATH,
        dataDir,
        port,
        advertise: proxy?.address,
        fiuCtrlBase: fiuBase ?? undefined,
        logFile: path.join(o.out, "server.log"),
      });
      server.onCrash = ({ code, signal, log: tail }) => {
        crashes++;
        history.append({
          time: Date.now(),
          process: "server",
          type: "info",
          f: "crash",
          code,
          signal,
          duringDiskFault: Date.now() < (nemesis?.diskFaultUntil ?? 0),
          log: tail.slice(-8),
        });
        if (!shuttingDown) void serverOp(startServer).catch(() => undefined);
      };
      await serverOp(startServer);
      broker = proxy?.address ?? server.address;
    }
    log(
      `verify: server ${server ? server.address : broker}${proxy ? ` behind proxy ${proxy.address}` : ""}, out ${o.out}`,
    );

    // ---------------------------------------------------------- topics and workers
    const kafka = verifierKafka(broker);
    admin = kafka.admin();
    await withDeadline(admin.connect(), SETUP_TIMEOUT_MS, "admin connect");
    const inputTopic = `${runId}-in`;
    const outputTopic = `${runId}-out`;
    const copierGroup = `${runId}-copiers`;
    await withDeadline(
      admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: inputTopic, numPartitions: o.partitions },
          { topic: outputTopic, numPartitions: o.partitions },
        ],
      }),
      SETUP_TIMEOUT_MS,
      "create topics",
    );
    const base = {
      broker,
      inputTopic,
      outputTopic,
      partitions: o.partitions,
      copierGroup,
      runId,
      ratePerSec: o.rate / o.producers,
      clientLog: o.clientLog,
    };
    for (let i = 0; i < o.copiers; i++)
      workers.set(`c${i}`, new Worker(`c${i}`, { ...base, role: "copier", id: i }, history, workerLog));
    for (let i = 0; i < o.readers; i++)
      workers.set(`r${i}`, new Worker(`r${i}`, { ...base, role: "reader", id: i }, history, workerLog));
    for (let i = 0; i < o.producers; i++)
      workers.set(`p${i}`, new Worker(`p${i}`, { ...base, role: "producer", id: i }, history, workerLog));

    let attempted = 0;
    let acknowledged = 0;
    history.onAppend = (e) => {
      if (e.f !== "send") return;
      if (e.type === "invoke") attempted += e.values?.length ?? 0;
      else if (e.type === "ok") acknowledged += e.values?.length ?? 0;
    };

    // ---------------------------------------------------------- faults
    const schedule = planFaults({
      seed: o.seed,
      durationMs: o.durationMs,
      kinds,
      server: !external,
      producers: o.producers,
      copiers: o.copiers,
      readers: o.readers,
      diskActions,
    });
    const control: ServerControl | null = server
      ? {
          pid: () => server!.pid,
          kill: () => serverOp(() => server!.kill()),
          start: () => serverOp(startServer),
          pause: () => server!.pause(),
          resume: () => server!.resume(),
        }
      : null;
    const nem = new Nemesis({ server: control, proxy, workers, fiuBase, tmpfsDir, history });
    nemesis = nem;
    let phase = "faults";
    const workloadStart = Date.now();
    const progress = new Progress(
      () => ({
        phase,
        elapsedMs: Date.now() - workloadStart,
        durationMs: o.durationMs,
        acknowledged,
        attempted,
        faults: nem.total,
        faultsByKind: nem.counts,
      }),
      o.progress,
    );
    for (const w of workers.values()) w.start();
    progress.start();
    const faults = nem.run(schedule, workloadStart);
    while (Date.now() < workloadStart + o.durationMs)
      await sleep(Math.min(200, workloadStart + o.durationMs - Date.now()));
    nem.stop();
    await withDeadline(faults, 60_000, "stopping the nemesis").catch((err) => log(`verify: ${err.message}`));

    // ---------------------------------------------------------- heal
    phase = "healing";
    const healStart = Date.now();
    const deadline = healStart + o.healTimeoutMs;
    nem.healAll();
    await serverOp(startServer);
    for (const w of workers.values()) if (!w.alive) w.start();
    history.append({ time: Date.now(), process: "verifier", type: "info", f: "heal" });
    await Promise.all([...workers.values()].filter((w) => w.role === "producer").map((w) => w.stop()));
    const caught = await waitCaughtUp(admin, copierGroup, inputTopic, deadline);
    await Promise.all([...workers.values()].filter((w) => w.role === "copier").map((w) => w.stop()));

    phase = "reading";
    const inputEnds = await endOffsets(admin, inputTopic);
    const outputEnds = await endOffsets(admin, outputTopic);
    const committed = await groupOffsets(admin, copierGroup, inputTopic);
    const out = await readAll(kafka, outputTopic, `${runId}-final-out`, outputEnds, deadline);
    const inp = await readAll(kafka, inputTopic, `${runId}-final-in`, inputEnds, deadline);
    const healMs = Date.now() - healStart;
    history.append({ time: Date.now(), process: "verifier", type: "info", f: "final-read", healMs });
    await Promise.all([...workers.values()].map((w) => w.stop()));
    progress.stop();

    // ---------------------------------------------------------- check and report
    const final: FinalState = {
      output: out.records,
      input: inp.records,
      groupOffsets: committed,
      inputEnds,
      liveness: {
        boundMs: o.healTimeoutMs,
        caughtUp: caught.caughtUp,
        finalReadComplete: out.complete && inp.complete,
        healMs,
        ...(caught.caughtUp
          ? {}
          : { detail: `committed ${JSON.stringify(caught.committed)} ends ${JSON.stringify(caught.ends)}` }),
      },
    };
    fs.writeFileSync(path.join(o.out, "final.json"), JSON.stringify({ ...final, outputEnds }));
    history.flush();
    const result = check({ history: history.events, final });
    const workerRestarts: Record<string, number> = {};
    for (const [name, w] of workers) workerRestarts[name] = w.inc;
    const report: Report = {
      ok: result.valid,
      seed: o.seed,
      options: { ...o },
      startedAt: new Date(started).toISOString(),
      elapsedMs: Date.now() - started,
      out: o.out,
      server: { external, address: server?.address ?? broker, starts: server?.starts ?? 0, crashes },
      records: {
        attempted: result.stats.attempted,
        acknowledged: result.stats.acknowledged,
        indeterminate: result.stats.indeterminate,
        inputRecords: result.stats.inputRecords,
        readFinal: result.stats.readFinal,
        readFinalDistinct: result.stats.readFinalDistinct,
        readerRecords: result.stats.readerRecords,
      },
      transactions: {
        committed: result.stats.txnsCommitted,
        aborted: result.stats.txnsAborted,
        unknown: result.stats.txnsUnknown,
      },
      faults: {
        planned: schedule.length,
        injected: { ...nem.counts },
        byAction: { ...nem.byAction },
        skipped,
        schedule,
      },
      workerRestarts,
      liveness: final.liveness,
      anomalies: { ...result.counts, total: result.total },
      examples: result.examples,
      historyLinesGarbled: history.garbled,
    };
    writeReport(o.out, report);
    return { report, table: formatTable(report) };
  } finally {
    abortRun = null;
    await cleanup().catch((err) => log(`verify: cleanup: ${(err as Error).message}`));
  }
}
