/**
 * What every workload worker shares: its configuration (one JSON argument), the history
 * events it prints on stdout (one JSON line each, written synchronously so that an event
 * written before a request is in the pipe before the request can take effect, even if the
 * worker is SIGKILLed right after), kafkajs clients that log to stderr, and bounded waits.
 */
import fs from "node:fs";
import type { Kafka, LogEntry } from "kafkajs";
import type { HistoryEvent } from "../history.js";
import { kafkajs } from "../kafkajs.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

export type Role = "producer" | "copier" | "reader";

export interface WorkerConfig {
  role: Role;
  id: number;
  /** Incarnation: 0 at first start, +1 at every restart. */
  inc: number;
  broker: string;
  inputTopic: string;
  outputTopic: string;
  partitions: number;
  /** The copiers' consumer group. */
  copierGroup: string;
  /** Prefix of transactional ids and of readers' groups, unique per run. */
  runId: string;
  /** Producers: records per second for this producer. */
  ratePerSec: number;
  /** kafkajs log level name for stderr ("nothing" by default). */
  clientLog: string;
}

export function readConfig(): WorkerConfig {
  const raw = process.argv[2];
  if (!raw) throw new Error("worker: missing configuration argument");
  return JSON.parse(raw) as WorkerConfig;
}

/** Retries of one pipe write that would block, 1 ms apart: a full pipe for 10 s is a dead verifier. */
const WRITE_RETRIES_MAX = 10_000;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function writeAllSync(fd: number, buf: Buffer): void {
  let off = 0;
  let retries = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || retries++ >= WRITE_RETRIES_MAX) throw err;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

export type EventBody = Omit<HistoryEvent, "time" | "process" | "inc">;

/**
 * The worker's event writer. Also turns an uncaught exception (kafkajs throws one from its socket
 * handler on a response cut short by the fault proxy) into a "crash" event and exit code 2, so
 * the supervisor restarts the worker like any other crash.
 */
export function makeEmit(name: string, inc: number): (e: EventBody) => void {
  const emit = (e: EventBody) =>
    writeAllSync(1, Buffer.from(`${JSON.stringify({ time: Date.now(), process: name, inc, ...e })}\n`));
  process.on("uncaughtException", (err) => {
    emit({ type: "info", f: "crash", error: `uncaught ${errorText(err)}` });
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(2);
  });
  return emit;
}

const { logLevel } = kafkajs;
const LEVELS: Record<string, number> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

export function kafkaFor(cfg: WorkerConfig, clientId: string): Kafka {
  return new kafkajs.Kafka({
    clientId,
    brokers: [cfg.broker],
    logLevel: LEVELS[cfg.clientLog] ?? logLevel.NOTHING,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) =>
        process.stderr.write(`${clientId} ${level} ${namespace} ${JSON.stringify(log)}\n`),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 },
  });
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Resolves or rejects with `p`, or rejects with TimeoutError after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function errorText(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? "Error"}: ${e?.message ?? String(err)}`.slice(0, 300);
}

/**
 * Stop on SIGTERM: `stopping()` turns true and the worker winds down on its own; if it has not
 * exited after `graceMs`, it exits anyway.
 */
export function onTerm(graceMs: number): () => boolean {
  let stopping = false;
  process.on("SIGTERM", () => {
    stopping = true;
    setTimeout(() => process.exit(0), graceMs).unref();
  });
  return () => stopping;
}

/** Where a copier writes a value: one output partition per (producer, input partition), so order is checkable. */
export function outputPartition(value: string, inputPartition: number, partitions: number): number {
  const m = /^p(\d+)-/.exec(value);
  const producer = m ? Number(m[1]) : 0;
  return (producer * 7 + inputPartition) % partitions;
}

/** Producer values of incarnation `inc` start here, so restarts never reuse a value and seq order stays time order. */
export const SEQ_PER_INCARNATION = 10_000_000;
