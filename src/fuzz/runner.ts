/**
 * The fuzz run: set up the target and corpus, run cases on several connections at once while
 * the health checker and the memory sampler watch, then verify the log and report.
 */
import fs from "node:fs";
import path from "node:path";
import { KafkaClient } from "../protocol/kafka/client.js";
import { defaultValue } from "../protocol/kafka/codec/codec.js";
import { ApiVersions, CreateTopics } from "../protocol/kafka/generated/messages.js";
import { type CasePlan, type Corpus, planCase } from "./cases.js";
import {
  codecCorpus,
  FUZZ_TOPICS,
  kafkajsCorpus,
  RecordingProxy,
  runKafkajsFlows,
  type VersionRangeOf,
} from "./corpus.js";
import { type CaseResult, type ExecOptions, executeCase, type Outcome } from "./execute.js";
import { HEALTH_TOPIC, type HealthSummary, HealthWorker } from "./health.js";
import { type ErrorLogSummary, FuzzTarget, type ServerExit } from "./target.js";
import { type LogReport, verifyLog } from "./verify-log.js";

export interface FuzzOptions {
  durationMs: number;
  seed: number;
  kafka?: string;
  out?: string;
  concurrency: number;
  corpus: "codec" | "kafkajs" | "both";
  frameMax: number;
  stuckMs: number;
  healthTimeoutMs: number;
  rssMaxBytes: number;
  /** Replay only this case. */
  caseIndex?: number;
  /** Handler failures, poison batches and malformed responses fail the run too. */
  strict: boolean;
  /** Log level of the server the fuzzer starts (its lines go to <out>/server.log). */
  serverLogLevel: string;
  progress: (line: string) => void;
}

interface Counts {
  cases: number;
  closed: number;
  answered: number;
  incomplete: number;
  parked: number;
  unread: number;
  slow: number;
  stuck: number;
  connectFailed: number;
  responses: number;
  okResponses: number;
  errorResponses: number;
  malformedResponses: number;
}

function emptyCounts(): Counts {
  return {
    cases: 0,
    closed: 0,
    answered: 0,
    incomplete: 0,
    parked: 0,
    unread: 0,
    slow: 0,
    stuck: 0,
    connectFailed: 0,
    responses: 0,
    okResponses: 0,
    errorResponses: 0,
    malformedResponses: 0,
  };
}

const OUTCOME_FIELD: Record<Outcome, keyof Counts> = {
  closed: "closed",
  answered: "answered",
  incomplete: "incomplete",
  parked: "parked",
  unread: "unread",
  slow: "slow",
  stuck: "stuck",
  "connect-failed": "connectFailed",
};

function add(c: Counts, r: CaseResult): void {
  c.cases++;
  c[OUTCOME_FIELD[r.outcome]]++;
  c.responses += r.responses;
  c.okResponses += r.okResponses;
  c.errorResponses += r.errorResponses;
  c.malformedResponses += r.malformedResponses;
}

export interface CaseRecord {
  index: number;
  kind: string;
  name: string;
  bytes: number;
  /** Hex of the first bytes sent (all of it for small cases). */
  hex: string;
  outcome?: Outcome;
  detail?: string;
}

const HEX_BYTES_KEPT = 2048;
const RECENT_KEPT = 64;
const SAMPLES_KEPT = 20;

function record(plan: CasePlan, r?: CaseResult, detail?: string): CaseRecord {
  const all = Buffer.concat(plan.writes);
  return {
    index: plan.index,
    kind: plan.kind,
    name: plan.name,
    bytes: all.length,
    hex: all.subarray(0, HEX_BYTES_KEPT).toString("hex") + (all.length > HEX_BYTES_KEPT ? "…" : ""),
    outcome: r?.outcome,
    detail,
  };
}

export interface FuzzReport {
  ok: boolean;
  failures: string[];
  warnings: string[];
  seed: number;
  durationMs: number;
  elapsedMs: number;
  target: { address: string; spawned: boolean; pid: number | null };
  corpus: { codec: number; kafkajs: number; apis: number; apiVersions: number };
  cases: number;
  casesPerSecond: number;
  crashes: number;
  crash: (ServerExit & { stderrTail: string[]; inFlight: CaseRecord[]; recent: CaseRecord[] }) | null;
  connectionCloses: number;
  errorResponses: number;
  totals: Counts;
  byKind: Record<string, Counts>;
  byMutator: Record<string, number>;
  stuck: CaseRecord[];
  /** Answered, but only after the stuck timeout. */
  slow: CaseRecord[];
  malformed: CaseRecord[];
  health: HealthSummary & { suspects: CaseRecord[] };
  memory: {
    peakRssBytes: number | null;
    peakRssMiB: number | null;
    limitMiB: number;
    timeline: [number, number][];
  };
  serverErrors: ErrorLogSummary;
  log: LogReport | null;
  shutdown: { ms: number; code: number | null; signal: string | null } | null;
  /** With --case: the replayed case and its result. */
  replayed: (CaseRecord & { result: CaseResult }) | null;
}

async function advertisedVersions(address: string): Promise<VersionRangeOf[]> {
  const c = await KafkaClient.connect(address);
  try {
    const r = await c.request(ApiVersions, 0, defaultValue(ApiVersions.request), 10_000);
    if (r.errorCode !== 0) throw new Error(`ApiVersions error ${r.errorCode}`);
    return (r.apiKeys ?? []).map((a) => ({
      apiKey: a.apiKey ?? 0,
      minVersion: a.minVersion ?? 0,
      maxVersion: a.maxVersion ?? 0,
    }));
  } finally {
    c.close();
  }
}

async function createTopics(address: string): Promise<void> {
  const c = await KafkaClient.connect(address);
  try {
    const r = await c.request(
      CreateTopics,
      4,
      {
        topics: [...FUZZ_TOPICS, { name: HEALTH_TOPIC, partitions: 1 }].map((t) => ({
          name: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 10_000,
        validateOnly: false,
      },
      30_000,
    );
    for (const t of r.topics ?? []) {
      if (t.errorCode !== 0 && t.errorCode !== 36)
        throw new Error(`CreateTopics ${t.name}: error ${t.errorCode}`);
    }
  } finally {
    c.close();
  }
}

export async function buildCorpus(
  o: FuzzOptions,
  address: string,
  proxy: RecordingProxy | null,
): Promise<Corpus> {
  const advertised = await advertisedVersions(address);
  const codec = codecCorpus(advertised);
  let kafkajs: Corpus["kafkajs"] = [];
  if (proxy) {
    o.progress(`[fuzz] capturing kafkajs flows through the recording proxy on 127.0.0.1:${proxy.port}`);
    await runKafkajsFlows(`127.0.0.1:${proxy.port}`, 25_000);
    kafkajs = kafkajsCorpus(proxy.frames, advertised);
    await proxy.close();
  }
  return { codec, kafkajs, advertised };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const t0 = Date.now();
  const failures: string[] = [];
  const warnings: string[] = [];
  const wantKafkajs = o.corpus !== "codec";
  const proxy = wantKafkajs ? await RecordingProxy.listen() : null;
  o.progress(o.kafka ? `[fuzz] target ${o.kafka}` : "[fuzz] starting oncedb serve");
  const target = o.kafka
    ? FuzzTarget.external(o.kafka)
    : await FuzzTarget.spawn({
        advertise: proxy ? `127.0.0.1:${proxy.port}` : undefined,
        logLevel: o.serverLogLevel,
        logFile: o.out ? path.join(o.out, "server.log") : undefined,
      });
  proxy?.target(target.host, target.port);

  // Memory: VmHWM is the kernel's own peak, so short spikes between samples are not missed.
  let peak: number | null = null;
  const timeline: [number, number][] = [];
  let memoryExceeded = false;
  let lastTimelineAt = 0;
  const sampler = setInterval(() => {
    const m = target.memory();
    if (!m) return;
    peak = Math.max(peak ?? 0, m.hwm, m.rss);
    const now = Date.now();
    if (now - lastTimelineAt >= 1000 && timeline.length < 3600) {
      timeline.push([Math.round((now - t0) / 100) / 10, mib(m.rss)]);
      lastTimelineAt = now;
    }
    if (peak > o.rssMaxBytes) memoryExceeded = true;
  }, 100);

  let stopping = false;
  let crashed: ServerExit | null = null;
  const inFlight = new Map<number, CasePlan>();
  const recent: CaseRecord[] = [];
  let crashInFlight: CaseRecord[] = [];
  target.onExit((e) => {
    if (stopping) return;
    crashed = e;
    crashInFlight = [...inFlight.values()].map((p) => record(p));
    stopping = true;
  });

  const report: FuzzReport = {
    ok: false,
    failures,
    warnings,
    seed: o.seed,
    durationMs: o.durationMs,
    elapsedMs: 0,
    target: { address: target.address, spawned: target.spawned, pid: target.pid },
    corpus: { codec: 0, kafkajs: 0, apis: 0, apiVersions: 0 },
    cases: 0,
    casesPerSecond: 0,
    crashes: 0,
    crash: null,
    connectionCloses: 0,
    errorResponses: 0,
    totals: emptyCounts(),
    byKind: {},
    byMutator: {},
    stuck: [],
    slow: [],
    malformed: [],
    health: { rounds: 0, failures: 0, failureSamples: [], latencyMs: null, suspects: [] },
    memory: { peakRssBytes: null, peakRssMiB: null, limitMiB: mib(o.rssMaxBytes), timeline },
    serverErrors: target.errors,
    log: null,
    shutdown: null,
    replayed: null,
  };

  let health: HealthWorker | null = null;
  try {
    await createTopics(target.address);
    const corpus = await buildCorpus(o, target.address, proxy);
    report.corpus = {
      codec: corpus.codec.length,
      kafkajs: corpus.kafkajs.length,
      apis: new Set(corpus.codec.map((e) => e.apiKey)).size,
      apiVersions: new Set(corpus.codec.map((e) => `${e.apiKey}/${e.apiVersion}`)).size,
    };
    o.progress(
      `[fuzz] corpus: ${corpus.codec.length} codec frames (${report.corpus.apis} APIs, ${report.corpus.apiVersions} API versions), ${corpus.kafkajs.length} kafkajs frames`,
    );
    const exec: ExecOptions = {
      host: target.host,
      port: target.port,
      frameMax: o.frameMax,
      stuckMs: o.stuckMs,
      parkMs: 1000,
      incompleteMs: 30,
    };

    let healthFailedAt: number | null = null;
    const lastPlans: CasePlan[] = [];
    health = new HealthWorker(target.address, o.healthTimeoutMs, () => {
      // The server stopped serving others: what was in flight is what to look at.
      if (healthFailedAt === null) {
        const byIndex = new Map([...lastPlans, ...inFlight.values()].map((p) => [p.index, p]));
        report.health.suspects = [...byIndex.values()]
          .sort((a, b) => a.index - b.index)
          .map((p) => record(p));
      }
      healthFailedAt ??= Date.now();
      stopping = true;
    });

    const fuzzStart = Date.now();
    const deadline = o.caseIndex !== undefined ? Number.POSITIVE_INFINITY : fuzzStart + o.durationMs;
    let next = o.caseIndex ?? 0;
    let connectionsCaseRunning = false;
    let fuzzerErrors = 0;
    const onResult = (plan: CasePlan, r: CaseResult) => {
      add(report.totals, r);
      const k = (report.byKind[plan.kind] ??= emptyCounts());
      add(k, r);
      const m = plan.name.split(/[+:]/).slice(0, 2).join(":");
      report.byMutator[m] = (report.byMutator[m] ?? 0) + 1;
      const rec = record(plan, r);
      if (o.caseIndex !== undefined) report.replayed = { ...rec, result: r };
      recent.push(rec);
      if (recent.length > RECENT_KEPT) recent.shift();
      if (r.outcome === "stuck" && report.stuck.length < SAMPLES_KEPT) report.stuck.push(rec);
      if (r.outcome === "slow" && report.slow.length < SAMPLES_KEPT)
        report.slow.push({ ...rec, detail: `${r.ms} ms` });
      if (r.malformedResponses > 0 && report.malformed.length < SAMPLES_KEPT) {
        report.malformed.push(record(plan, r, r.malformedSample));
      }
    };

    const lane = async () => {
      while (!stopping && Date.now() < deadline && !memoryExceeded) {
        if (o.caseIndex !== undefined && next > o.caseIndex) break;
        const index = next++;
        let plan: CasePlan;
        try {
          plan = planCase(o.seed, index, corpus);
        } catch (err) {
          // A fuzzer bug: reported (it fails the run) but does not stop the other lanes.
          fuzzerErrors++;
          if (fuzzerErrors <= 5)
            failures.push(`fuzzer error planning case ${index}: ${(err as Error).stack}`);
          continue;
        }
        if (plan.connections) {
          // One many-connections case at a time keeps the fuzzer's own socket count bounded.
          while (connectionsCaseRunning) await new Promise((r) => setTimeout(r, 10));
          connectionsCaseRunning = true;
        }
        inFlight.set(index, plan);
        lastPlans.push(plan);
        if (lastPlans.length > 8) lastPlans.shift();
        try {
          const r = await executeCase(plan, exec);
          onResult(plan, r);
        } finally {
          inFlight.delete(index);
          if (plan.connections) connectionsCaseRunning = false;
        }
      }
    };

    let lastProgress = 0;
    const progress = setInterval(() => {
      const now = Date.now();
      if (now - lastProgress < 2000) return;
      lastProgress = now;
      const secs = (now - fuzzStart) / 1000;
      const t = report.totals;
      const h = health!;
      const m = target.memory();
      o.progress(
        `[fuzz] ${secs.toFixed(0)}s/${(o.durationMs / 1000).toFixed(0)}s cases ${t.cases} (${Math.round(t.cases / Math.max(secs, 0.001))}/s) ` +
          `closed ${t.closed} answered ${t.answered} error-responses ${t.errorResponses} incomplete ${t.incomplete} parked ${t.parked} slow ${t.slow} stuck ${t.stuck} | ` +
          `health ${h.rounds} rounds ${h.failures} failed last ${health!.lastLatencyMs ?? "-"} ms | ` +
          `rss ${m ? mib(m.rss) : "-"} MiB peak ${peak !== null ? mib(peak) : "-"} MiB`,
      );
    }, 250);

    const lanes = o.caseIndex !== undefined ? 1 : o.concurrency;
    await Promise.all(Array.from({ length: lanes }, () => lane()));
    clearInterval(progress);
    const elapsedFuzz = Date.now() - fuzzStart;
    report.cases = report.totals.cases;
    report.casesPerSecond = Math.round(report.cases / Math.max(elapsedFuzz / 1000, 0.001));
    report.connectionCloses = report.totals.closed;
    report.errorResponses = report.totals.errorResponses;

    // Give the health checker one more full round on a quiet server before judging.
    if (!stopping && o.caseIndex !== undefined) await new Promise((r) => setTimeout(r, 500));
    stopping = true;
    const hs = await health.stop();
    health = null;
    report.health = { ...hs, suspects: report.health.suspects };
    void healthFailedAt;

    if (crashed) {
      const e: ServerExit = crashed;
      failures.push(`server exited (code ${e.code}, signal ${e.signal}) during fuzzing`);
    }
    const h = report.health;
    if (h.failures > 0) {
      const f = h.failureSamples[0]!;
      failures.push(
        `${h.failures} health check rounds failed; first at ${f.step}: ${f.error} (suspects: health.suspects)`,
      );
    }
    const responsive = !crashed && (await quickHealth(target.address, o.healthTimeoutMs));
    if (!crashed && !responsive) failures.push("server does not answer after fuzzing (hang)");
    if (responsive && o.caseIndex === undefined) {
      o.progress("[fuzz] verifying the log: reading every partition with data");
      try {
        report.log = await verifyLog(target.address);
        if (report.log.inconsistencies > 0) {
          failures.push(
            `log inconsistent: ${report.log.inconsistencies} problems (see log.inconsistencySamples)`,
          );
        }
        if (report.log.poisonBatches > 0) {
          const msg = `log holds ${report.log.poisonBatches} batches a consumer cannot read (accepted on produce; see log.poisonSamples)`;
          (o.strict ? failures : warnings).push(msg);
        }
      } catch (err) {
        failures.push(`log verification failed: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    if (!crashed) failures.push(`fuzzer error: ${(err as Error).stack ?? String(err)}`);
  } finally {
    stopping = true;
    if (health) await health.stop().catch(() => undefined);
    clearInterval(sampler);
    const m = target.memory();
    if (m) peak = Math.max(peak ?? 0, m.hwm, m.rss);
    if (target.spawned && !crashed) {
      const s0 = Date.now();
      await target.stop();
      const e = target.exited;
      report.shutdown = { ms: Date.now() - s0, code: e?.code ?? null, signal: e?.signal ?? null };
      if (e && e.code !== 0)
        failures.push(`server did not shut down cleanly (code ${e.code}, signal ${e.signal})`);
    } else if (target.spawned) {
      await target.stop();
    }
  }

  if (crashed) {
    const e: ServerExit = crashed;
    report.crashes = 1;
    report.crash = {
      ...e,
      stderrTail: target.lastStderr.slice(-60),
      inFlight: crashInFlight,
      recent: recent.slice(-RECENT_KEPT),
    };
  }
  if (report.totals.stuck > 0) {
    const hung =
      report.health.failures > 0
        ? " (the server also stopped answering health checks: most are collateral of that hang)"
        : "";
    failures.push(`${report.totals.stuck} cases left a connection stuck (see stuck)${hung}`);
  }
  if (report.totals.slow > 0) {
    warnings.push(
      `${report.totals.slow} cases were answered only after the stuck timeout ${o.stuckMs} ms (see slow)`,
    );
  }
  if (report.totals.connectFailed > 0 && !crashed) {
    warnings.push(`${report.totals.connectFailed} cases could not connect`);
  }
  const handlerFailures = Object.values(target.errors.handlerFailuresByApi).reduce((a, b) => a + b, 0);
  if (handlerFailures > 0) {
    const msg = `${handlerFailures} requests failed inside a handler (connection closed instead of an error response): ${JSON.stringify(target.errors.handlerFailuresByApi)}`;
    (o.strict ? failures : warnings).push(msg);
  }
  if (report.totals.malformedResponses > 0) {
    const msg = `${report.totals.malformedResponses} responses did not decode (see malformed)`;
    (o.strict ? failures : warnings).push(msg);
  }
  if (!report.health.failures && report.health.rounds === 0 && o.caseIndex === undefined) {
    failures.push("the health checker completed no round");
  }
  if (failures.length > 0 && !report.health.suspects.length && report.health.failures > 0) {
    report.health.suspects = recent.slice(-8);
  }
  if (peak !== null && peak > o.rssMaxBytes) {
    failures.push(`server peak RSS ${mib(peak)} MiB exceeded the limit ${mib(o.rssMaxBytes)} MiB`);
  }
  report.memory.peakRssBytes = peak;
  report.memory.peakRssMiB = peak !== null ? mib(peak) : null;
  report.elapsedMs = Date.now() - t0;
  report.ok = failures.length === 0;
  if (o.out) writeReport(o.out, report);
  return report;
}

async function quickHealth(address: string, timeoutMs: number): Promise<boolean> {
  try {
    const c = await KafkaClient.connect(address, timeoutMs);
    try {
      const r = await c.request(ApiVersions, 0, defaultValue(ApiVersions.request), timeoutMs);
      return r.errorCode === 0;
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

function writeReport(dir: string, report: FuzzReport): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
}

/** The human summary printed on stdout. */
export function summarize(r: FuzzReport): string {
  const t = r.totals;
  const lines = [
    `oncedb fuzz: ${r.ok ? "PASS" : "FAIL"}  seed ${r.seed}  ${(r.elapsedMs / 1000).toFixed(1)} s  target ${r.target.address}`,
    `  corpus           ${r.corpus.codec} codec frames (${r.corpus.apis} APIs, ${r.corpus.apiVersions} versions) + ${r.corpus.kafkajs} kafkajs frames`,
    `  cases            ${r.cases} (${r.casesPerSecond}/s)`,
    `  crashes          ${r.crashes}`,
    `  connection closes ${t.closed}   answered ${t.answered}   incomplete ${t.incomplete}   parked ${t.parked}   unread ${t.unread}   slow ${t.slow}   stuck ${t.stuck}`,
    `  responses        ${t.responses}: ${t.okResponses} ok, ${t.errorResponses} error responses, ${t.malformedResponses} malformed`,
    `  health checks    ${r.health.rounds} rounds, ${r.health.failures} failed` +
      (r.health.latencyMs
        ? `, latency p50 ${r.health.latencyMs.p50} ms p99 ${r.health.latencyMs.p99} ms max ${r.health.latencyMs.max} ms`
        : ""),
    `  peak RSS         ${r.memory.peakRssMiB ?? "n/a"} MiB (limit ${r.memory.limitMiB} MiB)`,
  ];
  if (r.log) {
    lines.push(
      `  log              ${r.log.partitionsWithData} partitions, ${r.log.batches} batches, ${r.log.inconsistencies} inconsistencies, ${r.log.poisonBatches} unreadable batches`,
    );
  }
  for (const f of r.failures) lines.push(`  FAIL: ${f}`);
  for (const w of r.warnings) lines.push(`  warn: ${w}`);
  return lines.join("\n");
}
