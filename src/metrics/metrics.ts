/**
 * OnceDB's metrics in Prometheus's text format (prom-client): what the engine and the adapters
 * did, read from the diagnostics channels (util/diagnostics.ts) as it happens, and how things
 * stand, read from the engine when scraped.
 *
 * Why channels and scrape-time reads: the engine and the adapters know nothing of metrics, and
 * with no Metrics instance nothing is counted at all (a channel without subscribers costs one
 * check). Counts per partition or per client would make the series unbounded (10,000
 * partitions here are normal): every label below has a fixed, small set of values.
 */
import type { Channel } from "node:diagnostics_channel";
import client from "prom-client";
import type { Engine } from "../engine/engine.js";
import { API_TABLE } from "../protocol/kafka/api-table.js";
import {
  type CommitEvent,
  commitChannel,
  type HttpRequestEvent,
  httpRequestChannel,
  type KafkaRequestEvent,
  kafkaRequestChannel,
} from "../util/diagnostics.js";

/** Gauges the engine cannot answer: the listeners' connection counts (absent = not listening). */
export interface MetricSources {
  readonly kafkaConnections?: () => number;
  readonly natsConnections?: () => number;
  readonly httpConnections?: () => number;
}

/** Latency buckets, seconds: from well under an fsync to a stuck request. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * prom-client's process metrics (CPU, memory, event-loop lag, GC), collected once per process
 * into their own registry: collectDefaultMetrics starts observers it never stops, so one per
 * OnceDB instance would pile up in a process that starts and stops several.
 */
let processRegistry: client.Registry | null = null;

function processMetrics(): client.Registry {
  if (!processRegistry) {
    processRegistry = new client.Registry();
    client.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  /** This instance's metrics and the process's. */
  readonly registry: client.Registry;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(engine: Engine, sources: MetricSources = {}) {
    const r = new client.Registry();

    const commits = new client.Counter({
      name: "oncedb_commits_total",
      help: "Storage commits (group commits) made durable",
      registers: [r],
    });
    const statements = new client.Counter({
      name: "oncedb_commit_statements_total",
      help: "Write statements in those commits",
      registers: [r],
    });
    const commitWait = new client.Histogram({
      name: "oncedb_commit_duration_seconds",
      help: "From the first write joining a commit to the commit being durable and known to the main thread",
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    const commitSync = new client.Histogram({
      name: "oncedb_commit_transaction_seconds",
      help: "The SQLite transaction of a commit, its fsync included, in the writer thread",
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.listen(commitChannel, (m) => {
      const c = m as CommitEvent;
      commits.inc();
      statements.inc(c.ops);
      commitWait.observe(seconds(c.doneAt - c.submittedAt));
      commitSync.observe(seconds(c.endedAt - c.startedAt));
    });

    const requests = new client.Counter({
      name: "oncedb_kafka_requests_total",
      help: "Kafka requests answered, by API",
      labelNames: ["api"],
      registers: [r],
    });
    const requestBytes = new client.Counter({
      name: "oncedb_kafka_request_bytes_total",
      help: "Bytes of Kafka request frames answered, by API",
      labelNames: ["api"],
      registers: [r],
    });
    const responseBytes = new client.Counter({
      name: "oncedb_kafka_response_bytes_total",
      help: "Bytes of Kafka responses written, by API",
      labelNames: ["api"],
      registers: [r],
    });
    const requestTime = new client.Histogram({
      name: "oncedb_kafka_request_duration_seconds",
      help: "From a Kafka request read to its response written, by API (Fetch includes its long poll)",
      labelNames: ["api"],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.listen(kafkaRequestChannel, (m) => {
      const e = m as KafkaRequestEvent;
      const api = API_TABLE.get(e.apiKey)?.name ?? "unknown";
      requests.inc({ api });
      requestBytes.inc({ api }, e.requestBytes);
      responseBytes.inc({ api }, e.responseBytes);
      requestTime.observe({ api }, seconds(e.writtenAt - e.receivedAt));
    });

    const httpRequests = new client.Counter({
      name: "oncedb_http_requests_total",
      help: "HTTP requests answered (REST, Operations API), by method, route pattern and status; subscriptions that keep the connection are not counted",
      labelNames: ["method", "route", "status"],
      registers: [r],
    });
    const httpTime = new client.Histogram({
      name: "oncedb_http_request_duration_seconds",
      help: "From an HTTP request received to its response sent, by method and route pattern",
      labelNames: ["method", "route"],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.listen(httpRequestChannel, (m) => {
      const e = m as HttpRequestEvent;
      httpRequests.inc({ method: e.method, route: e.route, status: String(e.status) });
      httpTime.observe({ method: e.method, route: e.route }, seconds(e.answeredAt - e.receivedAt));
    });

    const gauge = (name: string, help: string, read: () => number) =>
      new client.Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(read());
        },
      });
    const counter = (name: string, help: string, read: () => number) =>
      new client.Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    /** A counter split by one label, whose values `read` gives at scrape time. */
    const countersBy = (name: string, help: string, label: string, read: () => Record<string, number>) =>
      new client.Counter({
        name,
        help,
        labelNames: [label],
        registers: [r],
        collect() {
          this.reset();
          for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
        },
      });

    gauge(
      "oncedb_topics",
      "Kafka topics (tables' change topics and streams' topics included)",
      () => engine.listTopics().length,
    );
    gauge("oncedb_partitions", "Partitions of all topics", () => engine.logTotals().partitions);
    gauge(
      "oncedb_log_offsets_retained",
      "Offsets retained in all partitions (high watermark - log start): records, transaction markers included",
      () => engine.logTotals().retained,
    );
    counter(
      "oncedb_log_offsets_appended_total",
      "Offsets appended: high watermarks of the topics that exist and of those deleted since start",
      () => engine.logTotals().appended,
    );
    gauge("oncedb_tables", "Database tables", () => engine.tableDefinitions().length);
    gauge("oncedb_streams", "JetStream streams", () => engine.streamDefinitions().length);
    gauge(
      "oncedb_consumer_groups_with_offsets",
      "Consumer groups with committed offsets",
      () => engine.groupsWithOffsets().length,
    );
    gauge(
      "oncedb_overloaded",
      "1 while the engine refuses writes for being behind (storage backlog), else 0",
      () => (engine.overloaded ? 1 : 0),
    );

    gauge(
      "oncedb_bus_subscriptions",
      "Subscriptions on the message bus (NATS clients, $DB change feeds, JetStream)",
      () => engine.bus.stats.subscriptions,
    );
    counter(
      "oncedb_bus_published_total",
      "Messages published on the message bus",
      () => engine.bus.stats.published,
    );
    counter(
      "oncedb_bus_delivered_total",
      "Message deliveries to bus subscribers",
      () => engine.bus.stats.delivered,
    );

    countersBy(
      "oncedb_read_answers_total",
      "Fetch reads answered by the read workers, by how the answer travelled (arena: shared memory; transferred: did not fit)",
      "via",
      () => {
        const s = engine.readStats();
        return { arena: s.arenaAnswers, transferred: s.transferredAnswers };
      },
    );
    gauge(
      "oncedb_read_arena_unreleased_bytes",
      "Bytes of read answers not yet written to their sockets",
      () => engine.readStats().unreleasedArenaBytes,
    );

    countersBy(
      "oncedb_staging_regions_total",
      "Regions asked of the writer's staging arena, by result (staged; refused: no room, the bytes went the slower way)",
      "result",
      () => {
        const s = engine.stagingStats();
        return { staged: s.staged, refused: s.refused };
      },
    );
    counter(
      "oncedb_batches_written_in_place_total",
      "Record batches the writer wrote from the staging region their request was assembled in (no copy)",
      () => engine.stagingStats().batchesWrittenInPlace,
    );
    gauge(
      "oncedb_staging_live_bytes",
      "Bytes of the writer's staging arena held by requests and commits in flight",
      () => engine.stagingStats().liveBytes,
    );

    new client.Gauge({
      name: "oncedb_connections",
      help: "Open client connections, by protocol",
      labelNames: ["protocol"],
      registers: [r],
      collect() {
        for (const [protocol, read] of [
          ["kafka", sources.kafkaConnections],
          ["nats", sources.natsConnections],
          ["http", sources.httpConnections],
        ] as const) {
          if (read) this.set({ protocol }, read());
        }
      },
    });
    // Merged last: merge() takes the metrics registered so far.
    this.registry = client.Registry.merge([processMetrics(), r]);
  }

  /** The registry's content type (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric, in Prometheus's text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the channels; the registry keeps what it counted. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private listen(channel: Channel, fn: (message: unknown) => void): void {
    // A subscriber that throws would be an uncaught exception in the publisher's turn: a
    // metric must never take the server down.
    const safe = (message: unknown) => {
      try {
        fn(message);
      } catch {
        // counted nothing for this event
      }
    };
    channel.subscribe(safe);
    this.unsubscribe.push(() => channel.unsubscribe(safe));
  }
}

/** Milliseconds to seconds, never negative (wall clocks of two threads). */
function seconds(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : 0;
}
