/**
 * An idempotent producer: sends unique values `p<id>-<seq>` to the input topic, one batch at a
 * time (one request in flight), to partitions in turn, at a fixed rate.
 *
 * After a failed send the kafkajs producer is thrown away and a new one (a new producer id) is
 * made: kafkajs rolls its sequence back on failure, so reusing it could make the broker answer a
 * different batch with the cached offsets of one that was written after all.
 */
import type { Producer } from "kafkajs";
import {
  errorText,
  kafkaFor,
  makeEmit,
  onTerm,
  readConfig,
  SEQ_PER_INCARNATION,
  sleep,
  within,
} from "./common.js";

/** A send that has not settled by then is abandoned (its outcome stays unknown). */
const SEND_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 15_000;
/** Batches per second at most; the batch size follows from the rate. */
const BATCHES_PER_SEC = 20;
const BATCH_RECORDS_MAX = 100;

const cfg = readConfig();
const name = `p${cfg.id}`;
const emit = makeEmit(name, cfg.inc);
const stopping = onTerm(15_000);
const kafka = kafkaFor(cfg, `verify-${name}`);

async function connect(): Promise<Producer> {
  for (let attempt = 0; ; attempt++) {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    try {
      await within(producer.connect(), CONNECT_TIMEOUT_MS, "connect");
      return producer;
    } catch (err) {
      emit({ type: "info", f: "connect", error: errorText(err), attempt });
      void producer.disconnect().catch(() => undefined);
      if (stopping()) throw err;
      await sleep(Math.min(2000, 200 * (attempt + 1)));
    }
  }
}

async function main(): Promise<void> {
  emit({ type: "info", f: "start" });
  const batch = Math.max(1, Math.min(BATCH_RECORDS_MAX, Math.round(cfg.ratePerSec / BATCHES_PER_SEC)));
  const intervalMs = (batch / Math.max(1, cfg.ratePerSec)) * 1000;
  let seq = cfg.inc * SEQ_PER_INCARNATION;
  let partition = cfg.id % cfg.partitions;
  let producer: Producer | null = null;
  let nextAt = Date.now();
  while (!stopping()) {
    if (!producer) producer = await connect();
    const now = Date.now();
    if (nextAt > now) await sleep(nextAt - now);
    nextAt = Math.max(nextAt + intervalMs, Date.now() - 1000);
    if (seq + batch >= (cfg.inc + 1) * SEQ_PER_INCARNATION) break;
    const values = Array.from({ length: batch }, () => `${name}-${seq++}`);
    emit({ type: "invoke", f: "send", partition, values });
    try {
      const res = await within(
        producer.send({
          topic: cfg.inputTopic,
          acks: -1,
          messages: values.map((value) => ({ value, partition })),
        }),
        SEND_TIMEOUT_MS,
        "send",
      );
      const md = res.find((r) => r.partition === partition);
      if (!md || md.baseOffset === undefined) throw new Error(`no offset in ${JSON.stringify(res)}`);
      emit({ type: "ok", f: "send", partition, offset: Number(md.baseOffset), values });
    } catch (err) {
      emit({ type: "info", f: "send", partition, values, error: errorText(err) });
      const old = producer;
      producer = null;
      void within(old.disconnect(), 5000, "disconnect").catch(() => undefined);
    }
    partition = (partition + 1) % cfg.partitions;
  }
  if (producer) await within(producer.disconnect(), 5000, "disconnect").catch(() => undefined);
  emit({ type: "info", f: "exit" });
  process.exit(0);
}

main().catch((err) => {
  emit({ type: "info", f: "crash", error: errorText(err) });
  process.exit(2);
});
