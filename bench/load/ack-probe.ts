/**
 * Load generator: a steady, small, durable produce load that records every acknowledgement's
 * latency. Open loop: one Produce v3 request (acks=-1, a batch of `recordsPerRequest` records)
 * is due every 1/rate seconds whether or not earlier ones were answered, so a stall in the server
 * shows as the latency of every request sent during it (no coordinated omission). One connection,
 * as one producer would use. Runs until the parent sends "stop" (or `maxMs`), then returns every
 * sample as (wall-clock send time, latency) so the parent can cut them into phases.
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
import { loadConfig, nextMessage, runMain, SelfCpu, send } from "./ipc.js";
import { connect, requireApi, wallNow } from "./kafka-conn.js";

export interface AckProbeConfig {
  host: string;
  port: number;
  topic: string;
  ratePerSec: number;
  recordsPerRequest: number;
  valueBytes: number;
  /** Hard stop. */
  maxMs: number;
  /** Samples kept at most (the rest are counted, not kept). */
  maxSamples: number;
}

export interface AckProbeResult {
  sent: number;
  acked: number;
  /** Wall-clock send time of each acknowledged request (ms since epoch), in send order. */
  sendWallMs: number[];
  /** Its acknowledgement latency (ms), same order. */
  latencyMs: number[];
  errors: number;
  firstError: string;
  /** Requests unanswered when the probe stopped. */
  unanswered: number;
  /** Worst delay between a request's due time and its write (the probe's own lag), ms. */
  maxSendLagMs: number;
  clientCpu: number;
  seconds: number;
}

async function main(): Promise<AckProbeResult> {
  const cfg = loadConfig<AckProbeConfig>();
  const values: Buffer[] = [];
  for (let i = 0; i < cfg.recordsPerRequest; i++) values.push(randomFillSync(Buffer.alloc(cfg.valueBytes)));
  const batch = encodeRecordBatch({ values, timestamp: Date.now() });
  const builder = new ProduceV3Builder({
    clientId: "oncedb-bench-probe",
    topic: cfg.topic,
    acks: -1,
    timeoutMs: 60_000,
  });
  const sock = await connect(cfg.host, cfg.port);
  await requireApi(sock, API_PRODUCE, 3, "Produce", "oncedb-bench-probe");
  const sendWall = new Float64Array(cfg.maxSamples);
  const lat = new Float64Array(cfg.maxSamples);
  let n = 0;
  const pending: { corr: number; at: number; wall: number }[] = [];
  const reader = new FrameReader();
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError = "";
  let maxLag = 0;
  let corr = 1;
  let fatal: Error | undefined;
  sock.on("data", (d: Buffer) => {
    reader.push(d);
    for (let f = reader.next(), guard = 0; f && guard < 100_000; f = reader.next(), guard++) {
      const now = performance.now();
      const p = pending.shift();
      const res = parseProduceV3Response(f);
      if (!p || res.correlationId !== p.corr) {
        errors++;
        firstError ||= `correlation id ${res.correlationId}, expected ${p?.corr}`;
        continue;
      }
      if (res.errors.length > 0) {
        errors++;
        const e = res.errors[0];
        firstError ||= `partition ${e.partition}: ${ERROR_NAMES[e.code] ?? "error"} (${e.code})`;
        continue;
      }
      acked++;
      if (n < cfg.maxSamples) {
        sendWall[n] = p.wall;
        lat[n] = now - p.at;
        n++;
      }
    }
  });
  sock.on("error", (e) => {
    fatal ??= e;
  });
  sock.on("close", () => {
    fatal ??= new Error("server closed the connection");
  });

  const cpu = new SelfCpu();
  const t0 = performance.now();
  const interval = 1000 / cfg.ratePerSec;
  send({ type: "ready" });
  const stopped = nextMessage("stop", cfg.maxMs).catch(() => undefined);
  let running = true;
  void stopped.then(() => {
    running = false;
  });
  const timer = setInterval(() => {
    if (!running || fatal) return;
    const now = performance.now();
    // bounded per tick: a probe starved of CPU catches up at most 50 requests at a time
    for (let i = 0; i < 50; i++) {
      const due = t0 + sent * interval;
      if (due > now) break;
      maxLag = Math.max(maxLag, now - due);
      const id = corr++ & 0x7fffffff;
      const { chunks } = builder.build(id, [{ partition: 0, batch }]);
      pending.push({ corr: id, at: performance.now(), wall: wallNow() });
      sock.cork();
      for (const c of chunks) sock.write(c);
      sock.uncork();
      sent++;
    }
  }, 1);
  await stopped;
  running = false;
  clearInterval(timer);
  // bounded wait for the last answers
  for (let i = 0; i < 200 && pending.length > 0 && !fatal; i++) await new Promise((r) => setTimeout(r, 25));
  const clientCpu = cpu.stop();
  const seconds = (performance.now() - t0) / 1000;
  sock.destroy();
  if (fatal && acked === 0) throw fatal;
  return {
    sent,
    acked,
    sendWallMs: Array.from(sendWall.subarray(0, n)),
    latencyMs: Array.from(lat.subarray(0, n)),
    errors,
    firstError: firstError || (fatal ? String(fatal) : ""),
    unanswered: pending.length,
    maxSendLagMs: maxLag,
    clientCpu,
    seconds,
  };
}

runMain(main);
