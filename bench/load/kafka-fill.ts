/**
 * Load generator: fills a topic with an exact number of pre-encoded batches per partition
 * (acks=-1), with a chosen record timestamp (old timestamps make the batches expire under
 * retention.ms). Used to pre-fill inputs and backlogs before a measurement, never measured itself.
 */
import { randomFillSync } from "node:crypto";
import {
  API_PRODUCE,
  ERROR_NAMES,
  encodeRecordBatch,
  FrameReader,
  ProduceV3Builder,
  parseProduceV3Response,
} from "../kafka/produce-encoder.js";
import { loadConfig, runMain, send } from "./ipc.js";
import { connect, requireApi } from "./kafka-conn.js";

export interface FillConfig {
  host: string;
  port: number;
  topic: string;
  partitions: number;
  batchesPerPartition: number;
  recordsPerBatch: number;
  valueBytes: number;
  /** CreateTime of every record (ms since epoch). */
  timestamp: number;
  connections: number;
  inflight: number;
  /** Give up after this long. */
  maxMs: number;
}

export interface FillResult {
  records: number;
  batches: number;
  payloadBytes: number;
  batchBytes: number;
  seconds: number;
  mbPerSec: number;
  errors: number;
  firstError: string;
}

async function main(): Promise<FillResult> {
  const cfg = loadConfig<FillConfig>();
  const pool = randomFillSync(Buffer.alloc(cfg.valueBytes * cfg.recordsPerBatch));
  const values: Buffer[] = [];
  for (let i = 0; i < cfg.recordsPerBatch; i++)
    values.push(pool.subarray(i * cfg.valueBytes, (i + 1) * cfg.valueBytes));
  const batch = encodeRecordBatch({ values, timestamp: cfg.timestamp });
  const builder = new ProduceV3Builder({
    clientId: "oncedb-bench-fill",
    topic: cfg.topic,
    acks: -1,
    timeoutMs: 60_000,
  });
  const socks: import("node:net").Socket[] = [];
  for (let i = 0; i < cfg.connections; i++) socks.push(await connect(cfg.host, cfg.port));
  await requireApi(socks[0], API_PRODUCE, 3, "Produce", "oncedb-bench-fill");

  const total = cfg.partitions * cfg.batchesPerPartition;
  let issued = 0;
  let acked = 0;
  let errors = 0;
  let firstError = "";
  let corr = 1;
  const t0 = performance.now();
  let lastReport = t0;

  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => {
      for (const s of socks) s.destroy();
      reject(new Error(`fill of ${cfg.topic} not done after ${cfg.maxMs} ms (${acked}/${total} batches)`));
    }, cfg.maxMs);
    let open = socks.length;
    for (const sock of socks) {
      const pending: number[] = [];
      const reader = new FrameReader();
      const sendOne = () => {
        if (issued >= total || errors > 100) return false;
        const partition = issued % cfg.partitions;
        issued++;
        const id = corr++ & 0x7fffffff;
        pending.push(id);
        const { chunks } = builder.build(id, [{ partition, batch }]);
        sock.cork();
        for (const c of chunks) sock.write(c);
        sock.uncork();
        return true;
      };
      const finish = () => {
        sock.destroy();
        if (--open === 0) {
          clearTimeout(deadline);
          resolve();
        }
      };
      sock.on("data", (d: Buffer) => {
        reader.push(d);
        for (let f = reader.next(), guard = 0; f && guard < 100_000; f = reader.next(), guard++) {
          const res = parseProduceV3Response(f);
          const want = pending.shift();
          if (res.correlationId !== want) {
            errors++;
            firstError ||= `correlation id ${res.correlationId}, expected ${want}`;
          } else if (res.errors.length > 0) {
            errors++;
            const e = res.errors[0];
            firstError ||= `partition ${e.partition}: ${ERROR_NAMES[e.code] ?? "error"} (${e.code})`;
            // a failed batch is re-issued (bounded by the error cap above)
            issued--;
          } else acked++;
          sendOne();
        }
        const now = performance.now();
        if (now - lastReport > 1000) {
          lastReport = now;
          send({ type: "progress", acked, total });
        }
        if (pending.length === 0) finish();
      });
      sock.on("error", (e) => {
        clearTimeout(deadline);
        reject(e);
      });
      for (let i = 0; i < cfg.inflight; i++) if (!sendOne()) break;
      if (pending.length === 0) finish();
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  if (acked < total)
    throw new Error(
      `fill of ${cfg.topic}: ${acked}/${total} batches acknowledged; first error: ${firstError}`,
    );
  const payloadBytes = acked * cfg.recordsPerBatch * cfg.valueBytes;
  return {
    records: acked * cfg.recordsPerBatch,
    batches: acked,
    payloadBytes,
    batchBytes: batch.length,
    seconds,
    mbPerSec: payloadBytes / 1e6 / seconds,
    errors,
    firstError,
  };
}

runMain(main);
