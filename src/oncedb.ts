/**
 * OnceDB as a library: one engine and the protocol listeners in front of it, in the caller's
 * process. The CLI's `serve` is a thin wrapper around this class.
 */
import type { Logger } from "pino";
import { Engine } from "./engine/engine.js";
import type { ByteRateQuotaConfig } from "./engine/quota.js";
import { Metrics } from "./metrics/metrics.js";
import { MetricsServer } from "./metrics/server.js";
import { HttpServer } from "./protocol/http/server.js";
import { KafkaServer } from "./protocol/kafka/server.js";
import { NatsServer } from "./protocol/nats/server.js";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface OnceDBOptions {
  /** Directory holding the database file; created if missing. */
  dataDir: string;
  /** Kafka listener; null turns it off. Default 127.0.0.1:9092. */
  kafka?: ListenAddress | null;
  /** Address Metadata advertises for the Kafka listener (default: the bound address). */
  kafkaAdvertise?: ListenAddress;
  /**
   * NATS listener (core NATS: publish/subscribe, queue groups, request/reply); null or absent
   * turns it off. The library starts only the listeners it is given beyond Kafka's, so embedding
   * binds no port by surprise; the CLI's default is 127.0.0.1:4222.
   */
  nats?: ListenAddress | null;
  /**
   * HTTP listener (tables over REST, the Operations API, change subscriptions); null or absent
   * turns it off, as for NATS. The CLI's default is 127.0.0.1:8080.
   */
  http?: ListenAddress | null;
  /**
   * Metrics listener (`GET /metrics`, Prometheus's text format); null or absent turns it off, as
   * in the CLI. Without it nothing is counted.
   */
  metrics?: ListenAddress | null;
  /** Origins whose web pages may use the HTTP API (CORS and WebSocket Origin); "*" = any. Default none. */
  httpCorsOrigins?: readonly string[];
  /** Largest Kafka request frame accepted (default 100 MiB). */
  kafkaFrameBytesMax?: number;
  logger?: Logger;
  autoCreateTopics?: boolean;
  defaultPartitions?: number;
  retentionCheckIntervalMs?: number;
  /** Largest transaction.timeout.ms a producer may ask for (default 15 minutes). */
  transactionTimeoutMsMax?: number;
  /**
   * Average bytes/s consumers may fetch (Kafka's consumer_byte_rate): a default for every client
   * id and rates for particular ones; default no limit.
   */
  consumerQuota?: ByteRateQuotaConfig;
  /** The same for bytes produced (Kafka's producer_byte_rate); default no limit. */
  producerQuota?: ByteRateQuotaConfig;
  /** Test-only fault injection: commits containing this write statement fail. */
  failWritesOn?: string;
}

export interface BoundAddresses {
  kafka: string | null;
  nats: string | null;
  http: string | null;
  metrics: string | null;
}

/** How long a graceful shutdown waits for in-flight requests before closing connections. */
export const SHUTDOWN_GRACE_MS = 5000;

export class OnceDB {
  private constructor(
    readonly engine: Engine,
    private readonly kafka: KafkaServer | null,
    private readonly nats: NatsServer | null,
    private readonly http: HttpServer | null,
    private readonly metricsServer: MetricsServer | null,
    /** What the metrics listener serves; null when it is off. */
    readonly metrics: Metrics | null,
    readonly addresses: BoundAddresses,
    private readonly logger: Logger | undefined,
  ) {}

  static async start(opts: OnceDBOptions): Promise<OnceDB> {
    const engine = await Engine.open({
      dataDir: opts.dataDir,
      logger: opts.logger,
      autoCreateTopics: opts.autoCreateTopics,
      defaultPartitions: opts.defaultPartitions,
      retentionCheckIntervalMs: opts.retentionCheckIntervalMs,
      transactionTimeoutMsMax: opts.transactionTimeoutMsMax,
      consumerQuota: opts.consumerQuota,
      producerQuota: opts.producerQuota,
      failWritesOn: opts.failWritesOn,
    });
    let kafka: KafkaServer | null = null;
    let nats: NatsServer | null = null;
    let http: HttpServer | null = null;
    let metricsServer: MetricsServer | null = null;
    let metrics: Metrics | null = null;
    const addresses: BoundAddresses = { kafka: null, nats: null, http: null, metrics: null };
    try {
      // Before any listener: counts start with the first request.
      if (opts.metrics)
        metrics = new Metrics(engine, {
          kafkaConnections: opts.kafka === null ? undefined : () => kafka?.connectionCount ?? 0,
          natsConnections: opts.nats ? () => nats?.connectionCount ?? 0 : undefined,
          httpConnections: opts.http ? () => http?.connectionCount ?? 0 : undefined,
        });
      const k = opts.kafka === undefined ? { host: "127.0.0.1", port: 9092 } : opts.kafka;
      if (k) {
        kafka = new KafkaServer({
          engine,
          host: k.host,
          port: k.port,
          advertise: opts.kafkaAdvertise,
          frameBytesMax: opts.kafkaFrameBytesMax,
          logger: opts.logger,
        });
        const bound = await kafka.listen();
        addresses.kafka = formatAddress(bound.host, bound.port);
      }
      if (opts.nats) {
        nats = new NatsServer({
          bus: engine.bus,
          host: opts.nats.host,
          port: opts.nats.port,
          logger: opts.logger,
        });
        const bound = await nats.listen();
        addresses.nats = formatAddress(bound.host, bound.port);
      }
      if (opts.http) {
        http = new HttpServer({
          engine,
          host: opts.http.host,
          port: opts.http.port,
          logger: opts.logger,
          corsOrigins: opts.httpCorsOrigins,
        });
        const bound = await http.listen();
        addresses.http = formatAddress(bound.host, bound.port);
      }
      if (opts.metrics && metrics) {
        metricsServer = new MetricsServer(metrics, opts.metrics.host, opts.metrics.port, opts.logger);
        const bound = await metricsServer.listen();
        addresses.metrics = formatAddress(bound.host, bound.port);
      }
    } catch (err) {
      await kafka?.close();
      await nats?.close();
      await http?.close();
      await metricsServer?.close();
      metrics?.close();
      await engine.close();
      throw err;
    }
    return new OnceDB(engine, kafka, nats, http, metricsServer, metrics, addresses, opts.logger);
  }

  /**
   * Graceful stop: stop accepting connections, let in-flight requests finish (their commits
   * complete and their responses are written), close connections, close the database.
   */
  async close(): Promise<void> {
    this.kafka?.stopAccepting();
    this.nats?.stopAccepting();
    this.http?.stopAccepting();
    this.engine.quiesce();
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (!this.engine.store.writer.idle && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await this.kafka?.close();
    await this.nats?.close();
    await this.http?.close();
    // Last of the listeners: a scrape during shutdown still answers.
    await this.metricsServer?.close();
    this.metrics?.close();
    await this.engine.close();
    this.logger?.info("stopped");
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
