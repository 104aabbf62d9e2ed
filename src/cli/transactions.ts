/**
 * `oncedb transactions list|describe|abort` and `oncedb producers`: operator views of the
 * exactly-once state, over the Kafka protocol (ListTransactions, DescribeTransactions,
 * DescribeProducers; KIP-664). `abort` force-terminates a transaction the way Kafka's
 * `kafka-transactions.sh force-terminate` does (KIP-939): InitProducerId for its transactional
 * id aborts the open transaction and bumps the epoch, fencing the producer that left it open.
 */
import type { Command } from "commander";
import { KafkaClient } from "../protocol/kafka/client.js";
import { errorName } from "../protocol/kafka/generated/error-codes.js";
import {
  DescribeProducers,
  DescribeTransactions,
  InitProducerId,
  ListTransactions,
} from "../protocol/kafka/generated/messages.js";

/** Any valid timeout works for a force-terminate; it only applies to a next transaction. */
const FORCE_TERMINATE_TIMEOUT_MS = 60_000;

function out(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
}

function table(rows: (string | number)[][]): string {
  if (rows.length === 0) return "";
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => String(c).padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function withClient<T>(address: string, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
  const c = await KafkaClient.connect(address);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function describe(c: KafkaClient, ids: string[]) {
  const r = await c.request(DescribeTransactions, 0, { transactionalIds: ids });
  return (r.transactionStates ?? []).map((t) => ({
    transactionalId: t.transactionalId ?? "",
    error: t.errorCode ? (errorName(t.errorCode) ?? String(t.errorCode)) : null,
    state: t.transactionState ?? "",
    producerId: Number(t.producerId ?? -1),
    producerEpoch: t.producerEpoch ?? -1,
    timeoutMs: t.transactionTimeoutMs ?? 0,
    startMs: Number(t.transactionStartTimeMs ?? -1),
    partitions: (t.topics ?? []).flatMap((tp) => (tp.partitions ?? []).map((p) => `${tp.topic}-${p}`)),
  }));
}

export function registerTransactionCommands(program: Command, defaultKafka: string): void {
  const txn = program.command("transactions").description("list, describe and abort transactions");
  txn
    .command("list")
    .description("list transactional ids and their states")
    .option("--kafka <host:port>", "server to ask", defaultKafka)
    .option("--state <state...>", "only these states (e.g. Ongoing)")
    .option("--older-than <ms>", "only transactions open longer than this")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const rows = await withClient(opts.kafka, async (c) => {
        const r = await c.request(ListTransactions, 1, {
          stateFilters: opts.state ?? [],
          producerIdFilters: [],
          durationFilter: opts.olderThan === undefined ? -1 : Number(opts.olderThan),
        });
        const ids = (r.transactionStates ?? []).map((t) => t.transactionalId ?? "");
        return ids.length > 0 ? describe(c, ids) : [];
      });
      const now = Date.now();
      out(opts.json, rows, () =>
        table([
          ["TRANSACTIONAL ID", "STATE", "PRODUCER ID", "EPOCH", "OPEN FOR", "PARTITIONS"],
          ...rows.map((t) => [
            t.transactionalId,
            t.state,
            t.producerId,
            t.producerEpoch,
            t.startMs >= 0 ? `${Math.round((now - t.startMs) / 1000)}s` : "-",
            t.partitions.length,
          ]),
        ]),
      );
    });
  txn
    .command("describe <transactionalId...>")
    .description("show one or more transactions in detail")
    .option("--kafka <host:port>", "server to ask", defaultKafka)
    .option("--json", "print JSON")
    .action(async (ids: string[], opts) => {
      const rows = await withClient(opts.kafka, (c) => describe(c, ids));
      out(opts.json, rows, () =>
        rows
          .map((t) =>
            t.error
              ? `${t.transactionalId}: ${t.error}`
              : `${t.transactionalId}: ${t.state}, producer ${t.producerId} epoch ${t.producerEpoch}, timeout ${t.timeoutMs} ms, partitions [${t.partitions.join(", ")}]`,
          )
          .join("\n"),
      );
      if (rows.some((t) => t.error)) process.exitCode = 2;
    });
  txn
    .command("abort <transactionalId>")
    .description("abort the open transaction of a transactional id and fence its producer")
    .option("--kafka <host:port>", "server to ask", defaultKafka)
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const result = await withClient(opts.kafka, async (c) => {
        const [before] = await describe(c, [id]);
        if (!before || before.error)
          return { transactionalId: id, aborted: false, error: before?.error ?? "UNKNOWN" };
        if (before.state !== "Ongoing")
          return { transactionalId: id, aborted: false, error: null, state: before.state };
        const r = await c.request(InitProducerId, 4, {
          transactionalId: id,
          transactionTimeoutMs: FORCE_TERMINATE_TIMEOUT_MS,
          producerId: -1,
          producerEpoch: -1,
        });
        if (r.errorCode)
          return {
            transactionalId: id,
            aborted: false,
            error: errorName(r.errorCode) ?? String(r.errorCode),
          };
        return {
          transactionalId: id,
          aborted: true,
          error: null,
          producerEpoch: r.producerEpoch,
          partitions: before.partitions,
        };
      });
      out(opts.json, result, () =>
        result.aborted
          ? `aborted ${id}: markers written to ${result.partitions?.length ?? 0} partitions; producer fenced (epoch now ${result.producerEpoch})`
          : result.error
            ? `could not abort ${id}: ${result.error}`
            : `nothing to abort: ${id} is ${result.state}`,
      );
      if (result.error) process.exitCode = 2;
    });

  program
    .command("producers <topic> [partitions...]")
    .description("show the idempotent/transactional producers writing to a topic's partitions")
    .option("--kafka <host:port>", "server to ask", defaultKafka)
    .option("--json", "print JSON")
    .action(async (topic: string, partitions: string[], opts) => {
      const indexes = partitions.length > 0 ? partitions.map(Number) : [0];
      const r = await withClient(opts.kafka, (c) =>
        c.request(DescribeProducers, 0, { topics: [{ name: topic, partitionIndexes: indexes }] }),
      );
      interface ProducerRow {
        partition: number;
        error?: string;
        producerId?: number;
        epoch?: number;
        lastSequence?: number;
        txnStartOffset?: number;
      }
      const rows = (r.topics?.[0]?.partitions ?? []).flatMap((p): ProducerRow[] =>
        p.errorCode
          ? [{ partition: p.partitionIndex ?? -1, error: errorName(p.errorCode) ?? String(p.errorCode) }]
          : (p.activeProducers ?? []).map((s) => ({
              partition: p.partitionIndex ?? -1,
              producerId: Number(s.producerId),
              epoch: s.producerEpoch,
              lastSequence: s.lastSequence,
              txnStartOffset: Number(s.currentTxnStartOffset),
            })),
      );
      out(opts.json, rows, () =>
        table([
          ["PARTITION", "PRODUCER ID", "EPOCH", "LAST SEQUENCE", "OPEN TXN FROM"],
          ...rows.map((x) =>
            x.error
              ? [x.partition, x.error, "", "", ""]
              : [
                  x.partition,
                  x.producerId ?? -1,
                  x.epoch ?? -1,
                  x.lastSequence ?? -1,
                  (x.txnStartOffset ?? -1) >= 0 ? (x.txnStartOffset ?? -1) : "-",
                ],
          ),
        ]),
      );
    });
}
