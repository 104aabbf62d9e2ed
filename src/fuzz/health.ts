/**
 * The health checker: on its own connection, while the fuzzer runs, it keeps doing what a
 * well-behaved client does (ApiVersions, Metadata, Produce acks=all, Fetch of what it just
 * wrote) and records each round trip's latency. A round that errors, returns the wrong data or
 * takes longer than the timeout is a failure: the server stopped serving others.
 */
import { Worker } from "node:worker_threads";
import { decodeRecords } from "../log/records.js";
import { KafkaClient } from "../protocol/kafka/client.js";
import { ApiVersions, Fetch, Metadata, Produce } from "../protocol/kafka/generated/messages.js";
import { validBatch } from "./batches.js";
import { CLIENT_ID } from "./corpus.js";

export const HEALTH_TOPIC = "fuzz-health";
const ROUND_PAUSE_MS = 100;
const LATENCIES_KEPT = 20_000;

export interface HealthFailure {
  atMs: number;
  step: string;
  error: string;
}

export interface HealthSummary {
  rounds: number;
  failures: number;
  failureSamples: HealthFailure[];
  latencyMs: { p50: number; p99: number; max: number } | null;
}

export class HealthChecker {
  rounds = 0;
  failures: HealthFailure[] = [];
  private latencies: number[] = [];
  private maxLatency = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  private client: KafkaClient | null = null;
  /** Set while a round is in progress: when it started (for "stalled right now" checks). */
  roundStartedAt: number | null = null;

  constructor(
    private readonly address: string,
    private readonly timeoutMs: number,
    private readonly onFailure: (f: HealthFailure) => void = () => undefined,
    private readonly onRound: (ms: number) => void = () => undefined,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client?.close();
  }

  private async run(): Promise<void> {
    let n = 0;
    while (this.running) {
      const t0 = Date.now();
      this.roundStartedAt = t0;
      let step = "connect";
      try {
        if (!this.client || this.client.isClosed)
          this.client = await KafkaClient.connect(this.address, this.timeoutMs);
        const c = this.client;
        step = "ApiVersions";
        const av = await c.request(
          ApiVersions,
          3,
          { clientSoftwareName: CLIENT_ID, clientSoftwareVersion: "0.1.0" },
          this.timeoutMs,
        );
        if (av.errorCode !== 0) throw new Error(`error code ${av.errorCode}`);
        step = "Metadata";
        const md = await c.request(
          Metadata,
          8,
          {
            topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: HEALTH_TOPIC }],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          },
          this.timeoutMs,
        );
        const t = md.topics?.[0];
        if (t?.errorCode !== 0) throw new Error(`topic error ${t?.errorCode}`);
        step = "Produce";
        const tag = `health-${n++}-${t0}`;
        const pr = await c.request(
          Produce,
          8,
          {
            transactionalId: null,
            acks: -1,
            timeoutMs: this.timeoutMs,
            topicData: [
              {
                name: HEALTH_TOPIC,
                partitionData: [
                  {
                    index: 0,
                    records: validBatch(null, { records: 1, valueBytes: tag.length, tag, timestampMs: t0 }),
                  },
                ],
              },
            ],
          },
          this.timeoutMs,
        );
        const p = pr.responses?.[0]?.partitionResponses?.[0];
        if (p?.errorCode !== 0) throw new Error(`error code ${p?.errorCode}: ${p?.errorMessage}`);
        const offset = Number(p.baseOffset);
        step = "Fetch";
        const fr = await c.request(
          Fetch,
          11,
          {
            clusterId: null,
            replicaId: -1,
            replicaState: { replicaId: -1, replicaEpoch: -1 },
            maxWaitMs: 0,
            minBytes: 1,
            maxBytes: 1024 * 1024,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [
              {
                topic: HEALTH_TOPIC,
                topicId: "AAAAAAAAAAAAAAAAAAAAAA",
                partitions: [
                  {
                    partition: 0,
                    currentLeaderEpoch: -1,
                    fetchOffset: offset,
                    lastFetchedEpoch: -1,
                    logStartOffset: -1,
                    partitionMaxBytes: 1024 * 1024,
                    replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
                  },
                ],
              },
            ],
            forgottenTopicsData: [],
            rackId: "",
          },
          this.timeoutMs,
        );
        const fp = fr.responses?.[0]?.partitions?.[0];
        if (fp?.errorCode !== 0) throw new Error(`error code ${fp?.errorCode}`);
        const records = fp.records as Buffer | null;
        if (!records || records.length < 61) throw new Error("no records fetched");
        const recs = decodeRecords(records.subarray(0, records.readInt32BE(8) + 12));
        const got = recs?.[0]?.value?.toString();
        if (recs?.[0]?.offset !== offset || got !== tag) {
          throw new Error(`fetched ${got}@${recs?.[0]?.offset}, produced ${tag}@${offset}`);
        }
        const ms = Date.now() - t0;
        if (ms > this.timeoutMs) throw new Error(`round took ${ms} ms`);
        this.record(ms);
        this.onRound(ms);
      } catch (err) {
        const f = { atMs: Date.now(), step, error: (err as Error).message };
        this.failures.push(f);
        this.onFailure(f);
        this.client?.close();
        this.client = null;
      }
      this.rounds++;
      this.roundStartedAt = null;
      if (this.running) await new Promise((r) => setTimeout(r, ROUND_PAUSE_MS));
    }
  }

  private record(ms: number): void {
    if (ms > this.maxLatency) this.maxLatency = ms;
    if (this.latencies.length >= LATENCIES_KEPT)
      this.latencies[Math.floor(Math.random() * LATENCIES_KEPT)] = ms;
    else this.latencies.push(ms);
  }

  /** Latency of the last completed rounds, for progress lines. */
  get lastLatencyMs(): number | null {
    return this.latencies.length ? this.latencies[this.latencies.length - 1]! : null;
  }

  summary(): HealthSummary {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    return {
      rounds: this.rounds,
      failures: this.failures.length,
      failureSamples: this.failures.slice(0, 20),
      latencyMs: sorted.length ? { p50: q(0.5), p99: q(0.99), max: this.maxLatency } : null,
    };
  }
}

/**
 * The health checker in a worker thread: its event loop is not the fuzzer's, so the fuzzer's
 * own work (building cases, decoding large responses) does not count as server latency.
 */
export class HealthWorker {
  rounds = 0;
  failures = 0;
  lastLatencyMs: number | null = null;
  private readonly worker: Worker;
  private final: Promise<HealthSummary>;

  constructor(address: string, timeoutMs: number, onFailure: (f: HealthFailure) => void) {
    this.worker = new Worker(new URL("./health-worker.js", import.meta.url), {
      workerData: { address, timeoutMs },
    });
    this.final = new Promise((resolve, reject) => {
      this.worker.on("message", (m: WorkerMessage) => {
        if (m.type === "round") {
          this.rounds++;
          this.lastLatencyMs = m.ms;
        } else if (m.type === "failure") {
          this.rounds++;
          this.failures++;
          onFailure(m.failure);
        } else if (m.type === "summary") resolve(m.summary);
      });
      this.worker.once("error", reject);
      this.worker.once("exit", (code) => reject(new Error(`health worker exited with ${code}`)));
    });
    this.final.catch(() => undefined);
  }

  /** Stops after the current round and returns the summary. */
  async stop(): Promise<HealthSummary> {
    this.worker.postMessage({ type: "stop" });
    const s = await this.final;
    await this.worker.terminate();
    return s;
  }
}

export type WorkerMessage =
  | { type: "round"; ms: number }
  | { type: "failure"; failure: HealthFailure }
  | { type: "summary"; summary: HealthSummary };
