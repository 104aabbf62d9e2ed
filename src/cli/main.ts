#!/usr/bin/env node
/**
 * The `oncedb` command. `oncedb serve` runs the server until SIGTERM/SIGINT; once every
 * listener accepts connections it prints one JSON line with "msg":"ready" and the bound
 * addresses (tools and tests wait for that line).
 */
import { Command } from "commander";
import { pino } from "pino";
import type { ByteRateQuotaConfig } from "../engine/quota.js";
import { registerFuzzCommand } from "../fuzz/command.js";
import { OnceDB } from "../oncedb.js";
import { registerVerifyCommand } from "../verify/command.js";
import { parseListen } from "./address.js";
import { registerTransactionCommands } from "./transactions.js";

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${flag} must be a whole number >= 0, got "${value}"`);
  return n;
}

/** --{kind}-byte-rate and --client-{kind}-byte-rate as the engine's quota settings. */
function quotaFlags(
  defaultRate: string,
  perClient: readonly string[],
  kind: "consumer" | "producer",
): ByteRateQuotaConfig {
  const flag = `--client-${kind}-byte-rate`;
  const rates: Record<string, number> = Object.create(null);
  for (const spec of perClient) {
    const eq = spec.lastIndexOf("=");
    if (eq <= 0) throw new Error(`${flag} wants clientId=bytes, got "${spec}"`);
    const rate = Number(spec.slice(eq + 1));
    if (!Number.isSafeInteger(rate) || rate < 1)
      throw new Error(`${flag} wants a positive whole number of bytes, got "${spec}"`);
    rates[spec.slice(0, eq)] = rate;
  }
  const d = nonNegativeInt(defaultRate, `--${kind}-byte-rate`);
  return { defaultBytesPerSec: d > 0 ? d : undefined, perClient: rates };
}

const program = new Command();
program.name("oncedb").description("Exactly-once event platform: a Kafka-compatible durable log on SQLite");

program
  .command("serve")
  .description("run the server")
  .option("--data <dir>", "data directory (env ONCEDB_DATA)", process.env.ONCEDB_DATA ?? "./data")
  .option(
    "--kafka <host:port|off>",
    "Kafka listener (env ONCEDB_KAFKA)",
    process.env.ONCEDB_KAFKA ?? "127.0.0.1:9092",
  )
  .option(
    "--nats <host:port|off>",
    "NATS listener (env ONCEDB_NATS)",
    process.env.ONCEDB_NATS ?? "127.0.0.1:4222",
  )
  .option(
    "--http <host:port|off>",
    "HTTP listener (env ONCEDB_HTTP)",
    process.env.ONCEDB_HTTP ?? "127.0.0.1:8080",
  )
  .option(
    "--metrics <host:port|off>",
    "metrics listener, GET /metrics in Prometheus's format; default off (env ONCEDB_METRICS)",
    process.env.ONCEDB_METRICS ?? "off",
  )
  .option(
    "--cors <origins>",
    "comma-separated origins whose web pages may use the HTTP API, or * for any; default none (env ONCEDB_CORS)",
    process.env.ONCEDB_CORS ?? "",
  )
  .option(
    "--advertise <host:port>",
    "address Kafka clients are told to use (env ONCEDB_ADVERTISE)",
    process.env.ONCEDB_ADVERTISE,
  )
  .option("--partitions <n>", "partitions of auto-created topics", process.env.ONCEDB_PARTITIONS ?? "1")
  .option("--no-auto-create-topics", "do not create topics on first use")
  .option("--frame-max-bytes <n>", "largest Kafka request frame accepted", String(100 * 1024 * 1024))
  .option("--log-level <level>", "log level (env ONCEDB_LOG_LEVEL)", process.env.ONCEDB_LOG_LEVEL ?? "info")
  .option(
    "--retention-check-interval-ms <ms>",
    "how often retention runs (Kafka's log.retention.check.interval.ms)",
    "300000",
  )
  .option(
    "--transaction-max-timeout-ms <ms>",
    "largest transaction.timeout.ms a producer may ask for (Kafka's transaction.max.timeout.ms)",
    "900000",
  )
  .option(
    "--consumer-byte-rate <bytes>",
    "average bytes/s each consumer (client id) may fetch, as Kafka's consumer_byte_rate; 0 = no limit (env ONCEDB_CONSUMER_BYTE_RATE)",
    process.env.ONCEDB_CONSUMER_BYTE_RATE ?? "0",
  )
  .option(
    "--client-consumer-byte-rate <clientId=bytes>",
    "the same for one client id, overriding the default (repeatable)",
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option(
    "--producer-byte-rate <bytes>",
    "average bytes/s each producer (client id) may write, as Kafka's producer_byte_rate; 0 = no limit (env ONCEDB_PRODUCER_BYTE_RATE)",
    process.env.ONCEDB_PRODUCER_BYTE_RATE ?? "0",
  )
  .option(
    "--client-producer-byte-rate <clientId=bytes>",
    "the same for one client id, overriding the default (repeatable)",
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .action(async (opts) => {
    const logger = pino({ level: opts.logLevel, base: { pid: process.pid } });
    let db: OnceDB;
    try {
      const kafka = parseListen(opts.kafka, "--kafka");
      const advertise = opts.advertise ? parseListen(opts.advertise, "--advertise") : null;
      const nats = parseListen(opts.nats, "--nats");
      const http = parseListen(opts.http, "--http");
      const metrics = parseListen(opts.metrics, "--metrics");
      const partitions = Number(opts.partitions);
      if (!Number.isInteger(partitions) || partitions < 1)
        throw new Error(`--partitions must be a positive integer`);
      db = await OnceDB.start({
        dataDir: opts.data,
        kafka,
        nats,
        http,
        metrics,
        httpCorsOrigins: String(opts.cors)
          .split(",")
          .map((o) => o.trim())
          .filter((o) => o !== ""),
        kafkaAdvertise: advertise ?? undefined,
        kafkaFrameBytesMax: Number(opts.frameMaxBytes),
        autoCreateTopics: opts.autoCreateTopics,
        defaultPartitions: partitions,
        retentionCheckIntervalMs: positiveInt(opts.retentionCheckIntervalMs, "--retention-check-interval-ms"),
        transactionTimeoutMsMax: positiveInt(opts.transactionMaxTimeoutMs, "--transaction-max-timeout-ms"),
        consumerQuota: quotaFlags(opts.consumerByteRate, opts.clientConsumerByteRate, "consumer"),
        producerQuota: quotaFlags(opts.producerByteRate, opts.clientProducerByteRate, "producer"),
        logger,
      });
    } catch (err) {
      logger.fatal({ err: (err as Error).message }, "could not start");
      process.exit(1);
    }
    // Handlers first: a tool may signal the moment it reads the ready line, and on a busy
    // machine this thread can be descheduled between the two (seen in CI as a SIGTERM death).
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "shutting down");
      db.close().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err: (err as Error).message }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    // Written directly, not through the logger: tools wait for this line whatever the log level.
    process.stdout.write(
      `${JSON.stringify({
        level: 30,
        time: Date.now(),
        pid: process.pid,
        kafka: db.addresses.kafka,
        nats: db.addresses.nats,
        http: db.addresses.http,
        metrics: db.addresses.metrics,
        data: opts.data,
        msg: "ready",
      })}\n`,
    );
  });

registerTransactionCommands(program, process.env.ONCEDB_KAFKA ?? "127.0.0.1:9092");
registerVerifyCommand(program);
registerFuzzCommand(program);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
