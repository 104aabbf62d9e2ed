/**
 * A transactional copier: consumes the input with read_committed in the copiers' group and, per
 * chunk of one input partition, copies the records to the output and commits the input offsets
 * (`sendOffsets`) in the same transaction.
 *
 * Fencing. kafkajs speaks TxnOffsetCommit v0-1, which carries no group generation (KIP-447), so a
 * copier that lost a partition in a rebalance could still commit a copy of it. The pattern Kafka
 * prescribes for such clients is used instead: one transactional id per input partition
 * (`<run>-copier-in-<p>`). Whenever a copier (re)gains partition p in a generation it makes a new
 * producer with that id — InitProducerId bumps the epoch, fencing the previous owner and settling
 * its open transaction — and only then reads the committed offset of p, skipping anything below it.
 *
 * Outcomes in the history: ok (committed), fail (EndTxn(commit) never sent, so it must never be
 * visible), info (commit sent, outcome unknown).
 */
import type { Consumer, EachBatchPayload, KafkaMessage, Producer, Transaction } from "kafkajs";
import {
  errorText,
  kafkaFor,
  makeEmit,
  onTerm,
  outputPartition,
  readConfig,
  sleep,
  within,
} from "./common.js";

/** Records per transaction at most: bounds the history events and each transaction's size. */
const TXN_RECORDS_MAX = 100;
/** A transaction that has not finished by then makes the copier exit (the supervisor restarts it). */
const TXN_DEADLINE_MS = 40_000;
const STEP_TIMEOUT_MS = 20_000;
/** Open transactions of a dead copier hold the output's last stable offset back this long at most. */
const TRANSACTION_TIMEOUT_MS = 10_000;

interface Owned {
  generation: number;
  producer: Producer;
  /** A transaction begun at acquisition (that is what makes kafkajs send InitProducerId). */
  txn: Transaction | null;
  /** Next input offset to copy. */
  next: number;
}

const cfg = readConfig();
const name = `c${cfg.id}`;
const emit = makeEmit(name, cfg.inc);
const stopping = onTerm(20_000);
const kafka = kafkaFor(cfg, `verify-${name}`);
const admin = kafka.admin();
const owned = new Map<number, Owned>();
let generation = 0;
let txnCount = 0;
let consumer: Consumer;

function drop(p: number): void {
  const o = owned.get(p);
  if (!o) return;
  owned.delete(p);
  void within(o.producer.disconnect(), 5000, "disconnect").catch(() => undefined);
}

async function committedOffset(p: number): Promise<number> {
  const res = await admin.fetchOffsets({ groupId: cfg.copierGroup, topics: [cfg.inputTopic] });
  const part = res.find((t) => t.topic === cfg.inputTopic)?.partitions.find((x) => x.partition === p);
  const off = Number(part?.offset ?? -1);
  return Math.max(off, 0);
}

async function acquire(p: number): Promise<Owned> {
  const have = owned.get(p);
  if (have && have.generation === generation) return have;
  drop(p);
  const gen = generation;
  const producer = kafka.producer({
    transactionalId: `${cfg.runId}-copier-in-${p}`,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: TRANSACTION_TIMEOUT_MS,
    allowAutoTopicCreation: false,
  });
  try {
    await within(producer.connect(), STEP_TIMEOUT_MS, "connect");
    const txn = await within(producer.transaction(), STEP_TIMEOUT_MS, "init producer id");
    const next = await within(committedOffset(p), STEP_TIMEOUT_MS, "fetch offsets");
    const o: Owned = { generation: gen, producer, txn, next };
    owned.set(p, o);
    emit({ type: "info", f: "acquire", partition: p, offset: next, generation: gen });
    return o;
  } catch (err) {
    void within(producer.disconnect(), 5000, "disconnect").catch(() => undefined);
    throw err;
  }
}

function seek(p: number, offset: number): void {
  consumer.seek({ topic: cfg.inputTopic, partition: p, offset: String(offset) });
}

/** Copies one chunk in one transaction; returns false when the partition must be re-acquired. */
async function copy(o: Owned, p: number, chunk: KafkaMessage[]): Promise<boolean> {
  const id = `${name}.${cfg.inc}.${txnCount++}`;
  const reads: [number, string][] = chunk.map((m) => [Number(m.offset), m.value?.toString() ?? ""]);
  const commit = reads[reads.length - 1]![0] + 1;
  emit({ type: "invoke", f: "txn", txn: id, partition: p, reads });
  const deadline = setTimeout(() => {
    emit({ type: "info", f: "txn", txn: id, error: `no outcome within ${TXN_DEADLINE_MS} ms` });
    process.exit(4);
  }, TXN_DEADLINE_MS);
  let commitSent = false;
  let txn: Transaction | null = null;
  try {
    txn = o.txn ?? (await within(o.producer.transaction(), STEP_TIMEOUT_MS, "begin"));
    o.txn = null;
    const messages = reads.map(([off, value]) => ({
      value,
      partition: outputPartition(value, p, cfg.partitions),
      headers: { src: `${p}:${off}`, txn: id },
    }));
    const md = await within(
      txn.send({ topic: cfg.outputTopic, acks: -1, messages }),
      STEP_TIMEOUT_MS,
      "send",
    );
    await within(
      txn.sendOffsets({
        consumerGroupId: cfg.copierGroup,
        topics: [{ topic: cfg.inputTopic, partitions: [{ partition: p, offset: String(commit) }] }],
      }),
      STEP_TIMEOUT_MS,
      "send offsets",
    );
    commitSent = true;
    await within(txn.commit(), STEP_TIMEOUT_MS, "commit");
    const base = new Map(md.map((r) => [r.partition, Number(r.baseOffset)]));
    const nth = new Map<number, number>();
    const writes: [number, number, string][] = messages.map((m) => {
      const k = nth.get(m.partition) ?? 0;
      nth.set(m.partition, k + 1);
      return [m.partition, (base.get(m.partition) ?? Number.NaN) + k, m.value];
    });
    o.next = commit;
    emit({ type: "ok", f: "txn", txn: id, partition: p, commit, writes });
    return true;
  } catch (err) {
    if (commitSent) emit({ type: "info", f: "txn", txn: id, error: errorText(err) });
    else {
      emit({ type: "fail", f: "txn", txn: id, error: errorText(err) });
      // Best effort: the next owner's InitProducerId or the transaction timeout aborts it anyway.
      if (txn) await within(txn.abort(), 5000, "abort").catch(() => undefined);
    }
    return false;
  } finally {
    clearTimeout(deadline);
  }
}

async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
  const p = batch.partition;
  if (!isRunning() || isStale() || stopping()) return;
  let o: Owned;
  try {
    o = await acquire(p);
  } catch (err) {
    emit({ type: "info", f: "acquire", partition: p, error: errorText(err) });
    await sleep(500);
    return; // not resolved: kafkajs fetches the same offsets again
  }
  const msgs = batch.messages.filter((m) => Number(m.offset) >= o.next);
  if (msgs.length > 0 && Number(msgs[0]!.offset) !== o.next) {
    emit({ type: "info", f: "gap", partition: p, offset: Number(msgs[0]!.offset), expected: o.next });
    seek(p, o.next);
    return;
  }
  for (let i = 0; i < msgs.length; i += TXN_RECORDS_MAX) {
    if (!isRunning() || isStale() || stopping()) return;
    const chunk = msgs.slice(i, i + TXN_RECORDS_MAX);
    if (!(await copy(o, p, chunk))) {
      const next = o.next;
      drop(p);
      seek(p, next);
      return;
    }
    resolveOffset(chunk[chunk.length - 1]!.offset);
    await heartbeat();
  }
  if (msgs.length === 0 && batch.messages.length > 0) resolveOffset(batch.lastOffset());
}

async function main(): Promise<void> {
  emit({ type: "info", f: "start" });
  consumer = kafka.consumer({
    groupId: cfg.copierGroup,
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 250,
    maxBytesPerPartition: 256 * 1024,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000, restartOnFailure: async () => false },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    generation++;
    emit({ type: "info", f: "rebalance", generation, assignment: e.payload.memberAssignment });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    emit({ type: "info", f: "crash", error: errorText(e.payload.error) });
    process.exit(3);
  });
  await within(admin.connect(), STEP_TIMEOUT_MS, "admin connect");
  await within(consumer.connect(), STEP_TIMEOUT_MS, "consumer connect");
  await within(
    consumer.subscribe({ topic: cfg.inputTopic, fromBeginning: true }),
    STEP_TIMEOUT_MS,
    "subscribe",
  );
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch,
  });
  while (!stopping()) await sleep(200);
  await within(consumer.disconnect(), 10_000, "consumer disconnect").catch(() => undefined);
  for (const p of [...owned.keys()]) drop(p);
  await within(admin.disconnect(), 3000, "admin disconnect").catch(() => undefined);
  emit({ type: "info", f: "exit" });
  process.exit(0);
}

main().catch((err) => {
  emit({ type: "info", f: "crash", error: errorText(err) });
  process.exit(2);
});
