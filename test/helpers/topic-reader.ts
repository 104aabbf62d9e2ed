/**
 * A consumer that follows a topic from the beginning and records what it sees per partition,
 * with its position counting control records (which eachMessage never sees), for tests that
 * must tell "not visible yet" from "not fetched yet".
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";

/** How long a reader waits for what a test expects before failing. */
const WAIT_MS = 30_000;

export type Rec = { offset: number; value: string };

/** A consumer of one topic from the beginning that records values and positions. */
export class TopicReader {
  readonly records = new Map<number, Rec[]>();
  /** Next offset per partition, counting control records (which eachMessage never sees). */
  readonly position = new Map<number, number>();
  fetches = 0;
  private readonly consumer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    readUncommitted: boolean,
  ) {
    this.consumer = kafka.consumer({
      groupId: `reader-${topic}-${Math.random().toString(36).slice(2)}`,
      readUncommitted,
      maxWaitTimeInMs: 100,
    });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const next = Number(payload.lastOffset) + 1;
      if (next > (this.position.get(payload.partition) ?? 0)) this.position.set(payload.partition, next);
    });
    this.consumer.on(this.consumer.events.FETCH, () => {
      this.fetches++;
    });
  }

  async start(): Promise<this> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        let list = this.records.get(partition);
        if (!list) this.records.set(partition, (list = []));
        list.push({ offset: Number(message.offset), value: String(message.value) });
      },
    });
    return this;
  }

  values(partition: number): string[] {
    return (this.records.get(partition) ?? []).map((r) => r.value);
  }

  allValues(): string[] {
    return [...this.records.values()].flat().map((r) => r.value);
  }

  async waitFor(what: string, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!cond()) {
      assert.ok(
        Date.now() < deadline,
        `${this.topic}: timed out waiting for ${what}; positions ${JSON.stringify([...this.position])}`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits until every partition's position reaches its end offset. */
  waitForEnds(ends: Map<number, number>): Promise<void> {
    return this.waitFor(`ends ${JSON.stringify([...ends])}`, () =>
      [...ends].every(([p, end]) => (this.position.get(p) ?? 0) >= end),
    );
  }

  /** Waits for `n` more fetch responses: whatever they could return has been seen. */
  async waitForFetches(n: number): Promise<void> {
    const target = this.fetches + n;
    await this.waitFor(`${n} more fetches`, () => this.fetches >= target);
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** Reads `topic` until every partition reaches its end offset, then stops. */
export async function readAll(
  kafka: Kafka,
  topic: string,
  ends: Map<number, number>,
  readUncommitted: boolean,
): Promise<TopicReader> {
  const r = await new TopicReader(kafka, topic, readUncommitted).start();
  try {
    await r.waitForEnds(ends);
  } finally {
    await r.stop();
  }
  return r;
}
