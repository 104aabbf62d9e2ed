/**
 * Load generator: a kafkajs consume-transform-produce copier, written the way a real copier is.
 * The consumer's eachBatch transforms each record (identity: key and value carried over, same
 * partition number on the output) into an in-memory buffer and remembers the next input offset
 * per partition; once `commitIntervalMs` have passed since the previous flush began (checked
 * after each batch, and by a timer when input goes idle), or a partition's buffer reaches
 * `maxRecordsPerPartition` (one output batch must stay under max.message.bytes), the buffer is
 * flushed:
 *
 *  - eos: one transaction per flush: producer.transaction(), sendBatch (acks=-1), sendOffsets
 *    (the input offsets, in the same transaction), commit. The consumer reads read_committed.
 *  - alo: the same buffer and cadence; an idempotent producer's sendBatch (acks=-1), then
 *    consumer.commitOffsets once the output is acknowledged. The consumer reads read_uncommitted.
 *
 * Processing stops while a flush runs (as a Kafka Streams commit does, and as a transactional
 * producer has one transaction open at a time), so every round trip the flush needs costs
 * throughput: that is the overhead being measured. Records count as copied when the flush
 * holding them completes; the window opens `warmupMs` after the first completed flush.
 */
import { Kafka, logLevel, type Message, type Producer } from "kafkajs";
import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import { Buckets, loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export interface EosCopierConfig {
  broker: string;
  inputTopic: string;
  outputTopic: string;
  groupId: string;
  mode: "eos" | "alo";
  transactionalId: string;
  commitIntervalMs: number;
  /** Flush early when one partition's buffer holds this many records. */
  maxRecordsPerPartition: number;
  maxBytesPerPartition: number;
  warmupMs: number;
  durationMs: number;
  bucketMs: number;
  /** Records in the input: reaching them before the window ends is reported. */
  inputRecords: number;
  /** Hard deadline for the whole process. */
  maxMs: number;
}

export interface EosCopierResult {
  mode: string;
  /** Records in flushes that completed inside the window. */
  records: number;
  recordsPerSec: number;
  /** Records in every completed flush (= the input offsets committed). */
  copiedTotal: number;
  consumedTotal: number;
  /** Flushes completed inside the window. */
  commits: number;
  /** Duration of a flush (send + offsets + commit), ms. */
  flushMs: Percentiles;
  /** Flush steps, ms. eos: sendBatch (AddPartitionsToTxn + Produce), sendOffsets (AddOffsetsToTxn + TxnOffsetCommit), commit (EndTxn); alo: sendBatch, commitOffsets, -. */
  sendMs: Percentiles;
  offsetsMs: Percentiles;
  commitMs: Percentiles;
  /** Time between the starts of consecutive flushes, ms. */
  commitIntervalMs: Percentiles;
  recordsPerCommit: number;
  /** Records per eachBatch call (median). */
  recordsPerBatch: number;
  joinMs: number;
  clientCpu: number;
  series: [number, number][];
  /** The copier reached the end of the input before the window closed. */
  exhausted: boolean;
  errors: number;
  firstError: string;
}

async function main(): Promise<EosCopierResult> {
  const cfg = loadConfig<EosCopierConfig>();
  const deadline = setTimeout(() => {
    send({ type: "error", message: `copier exceeded its ${cfg.maxMs} ms deadline` });
    setTimeout(() => process.exit(2), 200);
  }, cfg.maxMs);
  deadline.unref();
  const eos = cfg.mode === "eos";
  const kafka = new Kafka({
    clientId: `oncedb-bench-copier-${cfg.mode}`,
    brokers: [cfg.broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });
  const producer: Producer = eos
    ? kafka.producer({
        transactionalId: cfg.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
        allowAutoTopicCreation: false,
      })
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({
    groupId: cfg.groupId,
    readUncommitted: !eos,
    minBytes: 1,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: cfg.maxBytesPerPartition,
    allowAutoTopicCreation: false,
  });

  let pending = new Map<number, Message[]>();
  let pendingCount = 0;
  let nextOffsets = new Map<number, number>();
  let flushing: Promise<void> | null = null;
  let lastFlushStart = performance.now();
  let inBatch = false;
  let firstFlushDone = 0;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let records = 0;
  let commits = 0;
  let copiedTotal = 0;
  let consumedTotal = 0;
  let errors = 0;
  let firstError = "";
  let fatal: Error | undefined;
  let stopping = false;
  const flushMs = new Samples(100_000);
  const intervals = new Samples(100_000);
  const perCommit = new Samples(100_000);
  const perBatch = new Samples(100_000);
  const stepSend = new Samples(100_000);
  const stepOffsets = new Samples(100_000);
  const stepCommit = new Samples(100_000);
  const cpu = new SelfCpu();
  let clientCpu = Number.NaN;
  let buckets: Buckets | undefined;
  let onFirstFlush: () => void = () => {};
  const firstFlush = new Promise<void>((r) => (onFirstFlush = r));

  const flushNow = async (): Promise<void> => {
    if (pendingCount === 0) return;
    const batchByPartition = pending;
    const offsets = nextOffsets;
    const n = pendingCount;
    pending = new Map();
    nextOffsets = new Map();
    pendingCount = 0;
    fullest = 0;
    const t = performance.now();
    if (firstFlushDone > 0) intervals.add(t - lastFlushStart);
    lastFlushStart = t;
    const messages: Message[] = [];
    for (const list of batchByPartition.values()) for (const m of list) messages.push(m);
    const topicMessages = [{ topic: cfg.outputTopic, messages }];
    const partitions = [...offsets].map(([partition, offset]) => ({ partition, offset: String(offset) }));
    let a = t;
    let b = t;
    let c = t;
    if (eos) {
      const txn = await producer.transaction();
      try {
        a = performance.now();
        await txn.sendBatch({ topicMessages, acks: -1 });
        b = performance.now();
        await txn.sendOffsets({
          consumerGroupId: cfg.groupId,
          topics: [{ topic: cfg.inputTopic, partitions }],
        });
        c = performance.now();
        await txn.commit();
      } catch (e) {
        await txn.abort().catch(() => undefined);
        throw e;
      }
    } else {
      await producer.sendBatch({ topicMessages, acks: -1 });
      b = performance.now();
      await consumer.commitOffsets(partitions.map((p) => ({ topic: cfg.inputTopic, ...p })));
      c = performance.now();
    }
    const done = performance.now();
    stepSend.add(b - a);
    stepOffsets.add(c - b);
    stepCommit.add(done - c);
    copiedTotal += n;
    flushMs.add(done - t);
    perCommit.add(n);
    if (done >= windowStart && done < windowEnd) {
      records += n;
      commits++;
    }
    buckets?.add(n, done);
    if (firstFlushDone === 0) {
      firstFlushDone = done;
      onFirstFlush();
    }
  };

  const flush = async (): Promise<void> => {
    // bounded: each turn either waits for the flush in progress or runs one
    for (let i = 0; i < 1000 && flushing; i++) await flushing;
    if (pendingCount === 0 || fatal) return;
    const run = (async () => {
      try {
        await flushNow();
      } catch (e) {
        errors++;
        firstError ||= e instanceof Error ? e.message : String(e);
        fatal ??= e instanceof Error ? e : new Error(String(e));
      }
    })();
    flushing = run;
    await run;
    if (flushing === run) flushing = null;
  };
  let fullest = 0;
  const due = () =>
    fullest >= cfg.maxRecordsPerPartition || performance.now() - lastFlushStart >= cfg.commitIntervalMs;

  const t0 = performance.now();
  let joinMs = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (joinMs === 0) joinMs = performance.now() - t0;
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.inputTopic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      // processing waits for a flush in progress (started by the idle timer)
      for (let i = 0; i < 1000 && flushing; i++) await flushing;
      if (stopping || fatal || !isRunning() || isStale()) return;
      const n = batch.messages.length;
      if (n === 0) return;
      inBatch = true;
      const p = batch.partition;
      let list = pending.get(p);
      if (!list) {
        list = [];
        pending.set(p, list);
      }
      for (const m of batch.messages) list.push({ key: m.key, value: m.value, partition: p });
      fullest = Math.max(fullest, list.length);
      pendingCount += n;
      consumedTotal += n;
      perBatch.add(n);
      nextOffsets.set(p, Number(batch.messages[n - 1].offset) + 1);
      try {
        if (due()) await flush();
      } finally {
        inBatch = false;
      }
      await heartbeat();
    },
  });
  // the idle-input flush: the same cadence when no batch arrives to trigger it
  const idle = setInterval(() => {
    if (!flushing && !inBatch && pendingCount > 0 && due() && !stopping) void flush();
  }, 10);

  await Promise.race([
    firstFlush,
    new Promise((_, rej) => setTimeout(() => rej(new Error("no flush completed within 60 s")), 60_000)),
  ]);
  windowStart = firstFlushDone + cfg.warmupMs;
  windowEnd = windowStart + cfg.durationMs;
  buckets = new Buckets(windowStart, cfg.bucketMs);
  await new Promise((r) => setTimeout(r, Math.max(0, windowStart - performance.now())));
  cpu.start();
  send({ type: "window-start" });
  // bounded by the window (and the process deadline)
  while (performance.now() < windowEnd && !fatal) await new Promise((r) => setTimeout(r, 20));
  clientCpu = cpu.stop();
  send({ type: "window-end" });
  const exhausted = consumedTotal >= cfg.inputRecords;
  stopping = true;
  clearInterval(idle);
  if (flushing) await flushing;
  await Promise.race([consumer.stop(), new Promise((r) => setTimeout(r, 10_000))]);
  await Promise.race([
    Promise.allSettled([consumer.disconnect(), producer.disconnect()]),
    new Promise((r) => setTimeout(r, 10_000)),
  ]);
  if (fatal && records === 0) throw fatal;
  const seconds = cfg.durationMs / 1000;
  return {
    mode: cfg.mode,
    records,
    recordsPerSec: records / seconds,
    copiedTotal,
    consumedTotal,
    commits,
    flushMs: flushMs.percentiles(),
    commitIntervalMs: intervals.percentiles(),
    sendMs: stepSend.percentiles(),
    offsetsMs: stepOffsets.percentiles(),
    commitMs: stepCommit.percentiles(),
    recordsPerCommit: perCommit.percentiles().p50,
    recordsPerBatch: perBatch.percentiles().p50,
    joinMs,
    clientCpu,
    series: buckets.rates(cfg.durationMs),
    exhausted,
    errors,
    firstError,
  };
}

runMain(main);
