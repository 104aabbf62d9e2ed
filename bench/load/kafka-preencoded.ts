/**
 * Load generator: durable Produce v3 requests built once (RecordBatch v2, ~1,000 records) and
 * written as-is, with several requests in flight per connection. Client-side cost is minimal,
 * so the figure shows what the server can ingest.
 */
import { randomFillSync } from "node:crypto";
import type net from "node:net";
import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import {
  API_PRODUCE,
  apiVersionsRequest,
  ERROR_NAMES,
  encodeRecordBatch,
  FrameReader,
  ProduceV3Builder,
  parseApiVersionsResponse,
  parseProduceV3Response,
} from "../kafka/produce-encoder.js";
import { Buckets, loadConfig, runMain, SelfCpu, send } from "./ipc.js";
import { connect, oneFrame } from "./kafka-conn.js";

export interface PreencodedConfig {
  host: string;
  port: number;
  topic: string;
  /** Partitions 0..partitionCount-1 are written round-robin. */
  partitionCount: number;
  /** Batches (each to a different partition) per request. */
  partitionsPerRequest: number;
  recordsPerBatch: number;
  valueBytes: number;
  connections: number;
  /** Requests in flight per connection. */
  inflight: number;
  warmupMs: number;
  durationMs: number;
  bucketMs: number;
  acks: number;
}

export interface PreencodedResult {
  records: number;
  /** Records acknowledged without error over the whole run (warm-up and drain included). */
  ackedTotal: number;
  payloadBytes: number;
  wireBytes: number;
  requests: number;
  seconds: number;
  recordsPerSec: number;
  /** Payload (record values) MB/s. */
  mbPerSec: number;
  wireMbPerSec: number;
  requestLatencyMs: Percentiles;
  errors: number;
  firstError: string;
  correlationMismatches: number;
  unanswered: number;
  clientCpu: number;
  series: [number, number][];
  batchBytes: number;
  produceVersions: string;
}

interface Pending {
  corr: number;
  sentAt: number;
  records: number;
  payload: number;
  wire: number;
}

async function main(): Promise<PreencodedResult> {
  const cfg = loadConfig<PreencodedConfig>();
  const values: Buffer[] = [];
  const pool = randomFillSync(Buffer.alloc(cfg.valueBytes * cfg.recordsPerBatch));
  for (let i = 0; i < cfg.recordsPerBatch; i++)
    values.push(pool.subarray(i * cfg.valueBytes, (i + 1) * cfg.valueBytes));
  const batch = encodeRecordBatch({ values, timestamp: Date.now() });
  const builder = new ProduceV3Builder({
    clientId: "oncedb-bench",
    topic: cfg.topic,
    acks: cfg.acks,
    timeoutMs: 30_000,
  });

  const socks: net.Socket[] = [];
  for (let i = 0; i < cfg.connections; i++) socks.push(await connect(cfg.host, cfg.port));
  const av = parseApiVersionsResponse(
    await oneFrame(socks[0], apiVersionsRequest(0x7fff0000, "oncedb-bench"), 10_000, "ApiVersions"),
  );
  const produce = av.apis.find((a) => a.apiKey === API_PRODUCE);
  const produceVersions = produce ? `${produce.min}-${produce.max}` : "absent";
  if (!produce || produce.min > 3 || produce.max < 3)
    throw new Error(
      `server does not offer Produce v3 (ApiVersions error ${av.errorCode}, Produce ${produceVersions})`,
    );

  const latency = new Samples(500_000);
  const cpu = new SelfCpu();
  const t0 = performance.now();
  const windowStart = t0 + cfg.warmupMs;
  const windowEnd = windowStart + cfg.durationMs;
  const buckets = new Buckets(t0, cfg.bucketMs);
  let records = 0;
  let ackedTotal = 0;
  let payloadBytes = 0;
  let wireBytes = 0;
  let requests = 0;
  let errors = 0;
  let firstError = "";
  let mismatches = 0;
  let corr = 1;
  let cursor = 0;
  let stopped = false;
  let fatal: Error | undefined;
  const k = Math.max(1, Math.min(cfg.partitionsPerRequest, cfg.partitionCount));

  let clientCpu = Number.NaN;
  setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, cfg.warmupMs);
  setTimeout(() => {
    clientCpu = cpu.stop();
    send({ type: "window-end" });
  }, cfg.warmupMs + cfg.durationMs);

  const nextParts = () => {
    const parts: { partition: number; batch: Buffer }[] = [];
    for (let j = 0; j < k; j++) parts.push({ partition: (cursor + j) % cfg.partitionCount, batch });
    cursor = (cursor + k) % cfg.partitionCount;
    return parts;
  };

  const done = socks.map(
    (sock) =>
      new Promise<number>((resolve) => {
        const pending: Pending[] = [];
        const reader = new FrameReader();
        const finishIfDrained = () => {
          if (stopped && pending.length === 0) {
            sock.destroy();
            resolve(0);
          }
        };
        const sendOne = () => {
          const id = corr++ & 0x7fffffff;
          const { chunks, bytes } = builder.build(id, nextParts());
          pending.push({
            corr: id,
            sentAt: performance.now(),
            records: k * cfg.recordsPerBatch,
            payload: k * cfg.recordsPerBatch * cfg.valueBytes,
            wire: bytes + 4,
          });
          sock.cork();
          for (const c of chunks) sock.write(c);
          sock.uncork();
        };
        sock.on("data", (d: Buffer) => {
          reader.push(d);
          for (let f = reader.next(), guard = 0; f && guard < 100_000; f = reader.next(), guard++) {
            const now = performance.now();
            const p = pending.shift();
            if (!p) {
              mismatches++;
              continue;
            }
            const res = parseProduceV3Response(f);
            if (res.correlationId !== p.corr) mismatches++;
            if (res.errors.length > 0) {
              errors++;
              if (!firstError) {
                const e = res.errors[0];
                firstError = `partition ${e.partition}: ${ERROR_NAMES[e.code] ?? "error"} (${e.code})`;
              }
            } else if (now >= windowStart && now < windowEnd) {
              records += p.records;
              payloadBytes += p.payload;
              wireBytes += p.wire;
              requests++;
              latency.add(now - p.sentAt);
            }
            if (res.errors.length === 0) {
              buckets.add(p.records, now);
              ackedTotal += p.records;
            }
            if (now < windowEnd && !fatal) sendOne();
            else stopped = true;
          }
          finishIfDrained();
        });
        sock.on("error", (e) => {
          fatal ??= e;
          stopped = true;
          resolve(pending.length);
        });
        sock.on("close", () => resolve(pending.length));
        for (let i = 0; i < cfg.inflight; i++) sendOne();
      }),
  );

  // bounded wait: the run, then a grace period for in-flight requests
  const unansweredList = await Promise.race([
    Promise.all(done),
    new Promise<number[]>((r) =>
      setTimeout(
        () => {
          stopped = true;
          for (const s of socks) s.destroy();
          r(socks.map(() => -1));
        },
        cfg.warmupMs + cfg.durationMs + 30_000,
      ),
    ),
  ]);
  if (fatal && records === 0) throw fatal;
  const seconds = cfg.durationMs / 1000;
  return {
    records,
    ackedTotal,
    payloadBytes,
    wireBytes,
    requests,
    seconds,
    recordsPerSec: records / seconds,
    mbPerSec: payloadBytes / 1e6 / seconds,
    wireMbPerSec: wireBytes / 1e6 / seconds,
    requestLatencyMs: latency.percentiles(),
    errors,
    firstError: firstError || (fatal ? String(fatal) : ""),
    correlationMismatches: mismatches,
    unanswered: unansweredList.reduce((a, b) => a + Math.max(0, b), 0),
    clientCpu,
    series: buckets.rates(cfg.warmupMs + cfg.durationMs),
    batchBytes: batch.length,
    produceVersions,
  };
}

runMain(main);
