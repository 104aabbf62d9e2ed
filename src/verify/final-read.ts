/**
 * After healing: the copier group's committed offsets against the input's end offsets, and a
 * fresh read_committed consumer that reads a whole topic. kafkajs has no "read to the end", so
 * a partition is done when a fetched batch (control records included) reaches its end offset.
 */
import type { Admin, Kafka } from "kafkajs";
import type { ReadRecord } from "./checker/types.js";
import { kafkajs } from "./kafkajs.js";

const POLL_MS = 250;

export function verifierKafka(broker: string): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  return new kafkajs.Kafka({
    clientId: "oncedb-verify",
    brokers: [broker],
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 8 },
  });
}

/** End offset (high watermark) of every partition of `topic`. */
export async function endOffsets(admin: Admin, topic: string): Promise<Record<number, number>> {
  const res = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(res.map((r) => [r.partition, Number(r.high)]));
}

export async function groupOffsets(
  admin: Admin,
  group: string,
  topic: string,
): Promise<Record<number, number>> {
  const res = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const t = res.find((x) => x.topic === topic);
  return Object.fromEntries((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

/**
 * Waits until the group's committed offsets reach the topic's end offsets, or the deadline.
 * Returns whether they did, and the last offsets seen.
 */
export async function waitCaughtUp(
  admin: Admin,
  group: string,
  topic: string,
  deadlineMs: number,
): Promise<{ caughtUp: boolean; committed: Record<number, number>; ends: Record<number, number> }> {
  let committed: Record<number, number> = {};
  let ends: Record<number, number> = {};
  while (Date.now() < deadlineMs) {
    try {
      ends = await endOffsets(admin, topic);
      committed = await groupOffsets(admin, group, topic);
      const done = Object.entries(ends).every(([p, end]) => end === 0 || (committed[Number(p)] ?? -1) >= end);
      if (done) return { caughtUp: true, committed, ends };
    } catch {
      // The server may still be restarting; try again until the deadline.
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return { caughtUp: false, committed, ends };
}

/** Reads every committed record of `topic` with a fresh read_committed consumer group. */
export async function readAll(
  kafka: Kafka,
  topic: string,
  group: string,
  ends: Record<number, number>,
  deadlineMs: number,
): Promise<{ records: ReadRecord[]; complete: boolean }> {
  const records: ReadRecord[] = [];
  // A re-delivery of the same offset (after a rejoin) is not a duplicate; a different value at
  // the same offset is kept so the checker reports it.
  const seen = new Map<string, string>();
  const reached = new Set<number>();
  for (const [p, end] of Object.entries(ends)) if (end === 0) reached.add(Number(p));
  const partitions = Object.keys(ends).length;
  if (reached.size === partitions) return { records, complete: true };
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 200 });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { partition, lastOffset } = e.payload;
    if (Number(lastOffset) >= (ends[partition] ?? 0) - 1) reached.add(partition);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = `${batch.partition}:${m.offset}`;
          const value = m.value?.toString() ?? "";
          if (seen.get(key) === value) continue;
          seen.set(key, value);
          records.push({
            partition: batch.partition,
            offset: Number(m.offset),
            value,
            ...(m.headers?.txn !== undefined ? { txn: m.headers.txn.toString() } : {}),
            ...(m.headers?.src !== undefined ? { src: m.headers.src.toString() } : {}),
          });
        }
      },
    });
    while (reached.size < partitions && Date.now() < deadlineMs)
      await new Promise((r) => setTimeout(r, POLL_MS));
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return { records, complete: reached.size >= partitions };
}
