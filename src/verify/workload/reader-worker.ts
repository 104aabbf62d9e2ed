/**
 * A read_committed reader of the output: records every record it is given (partition, offset,
 * value, writing transaction) as one `poll` event per batch. Its own group, auto-committed, so a
 * restart or rebalance resumes near where it was (and says so with an info event, after which
 * its offsets may legitimately move back).
 */
import { errorText, kafkaFor, makeEmit, onTerm, readConfig, sleep, within } from "./common.js";

const STEP_TIMEOUT_MS = 20_000;

const cfg = readConfig();
const name = `r${cfg.id}`;
const emit = makeEmit(name, cfg.inc);
const stopping = onTerm(10_000);
const kafka = kafkaFor(cfg, `verify-${name}`);

async function main(): Promise<void> {
  emit({ type: "info", f: "start" });
  const consumer = kafka.consumer({
    groupId: `${cfg.runId}-reader-${cfg.id}`,
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 250,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000, restartOnFailure: async () => false },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) =>
    emit({ type: "info", f: "rebalance", assignment: e.payload.memberAssignment }),
  );
  consumer.on(consumer.events.CRASH, (e) => {
    emit({ type: "info", f: "crash", error: errorText(e.payload.error) });
    process.exit(3);
  });
  await within(consumer.connect(), STEP_TIMEOUT_MS, "connect");
  await within(
    consumer.subscribe({ topic: cfg.outputTopic, fromBeginning: true }),
    STEP_TIMEOUT_MS,
    "subscribe",
  );
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 1000,
    eachBatch: async ({ batch }) => {
      if (batch.messages.length === 0) return;
      emit({
        type: "ok",
        f: "poll",
        partition: batch.partition,
        records: batch.messages.map((m) => [
          Number(m.offset),
          m.value?.toString() ?? "",
          m.headers?.txn?.toString() ?? "",
        ]),
      });
    },
  });
  while (!stopping()) await sleep(200);
  await within(consumer.disconnect(), 5000, "disconnect").catch(() => undefined);
  emit({ type: "info", f: "exit" });
  process.exit(0);
}

main().catch((err) => {
  emit({ type: "info", f: "crash", error: errorText(err) });
  process.exit(2);
});
