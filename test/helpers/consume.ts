/** Reading a whole topic with a kafkajs consumer. */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";

export interface ReadOptions {
  /** Fail once this long has passed without reaching `ends`. */
  timeoutMs: number;
  /** Interval between checks of the positions. */
  pollMs: number;
}

/**
 * Every value of `topic` up to `ends` (next offset per partition, counting control records),
 * read from the beginning with a fresh group, read_committed or read_uncommitted. Returns the
 * values per partition (in offset order) and all values in arrival order.
 */
export async function readValues(
  kafka: Kafka,
  topic: string,
  ends: Map<number, number>,
  readUncommitted: boolean,
  opts: ReadOptions,
): Promise<{ byPartition: Map<number, string[]>; all: string[] }> {
  const consumer = kafka.consumer({
    groupId: `reader-${Math.random().toString(36).slice(2)}`,
    readUncommitted,
    maxWaitTimeInMs: 100,
  });
  const byPartition = new Map<number, string[]>([...ends.keys()].map((p) => [p, []]));
  const all: string[] = [];
  const position = new Map<number, number>();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    position.set(
      payload.partition,
      Math.max(position.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1),
    );
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const value = String(message.value);
        all.push(value);
        let list = byPartition.get(partition);
        if (!list) byPartition.set(partition, (list = []));
        list.push(value);
      },
    });
    const deadline = Date.now() + opts.timeoutMs;
    while (![...ends].every(([p, end]) => (position.get(p) ?? 0) >= end)) {
      assert.ok(Date.now() < deadline, `reading ${topic} stuck at ${JSON.stringify([...position])}`);
      await new Promise((r) => setTimeout(r, opts.pollMs));
    }
  } finally {
    await consumer.disconnect();
  }
  return { byPartition, all };
}
