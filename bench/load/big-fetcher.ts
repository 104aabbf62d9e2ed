/**
 * Load generator: a consumer catching up on a big backlog with raw Fetch v4 requests of up to
 * `maxBytes` (partition max the same), one request at a time, back to back. It starts at the log
 * start offset, continues after the last batch returned, and wraps around to the start at the end,
 * so every fetch is a full-size read. Reports the window it was active in (wall clock) so the
 * parent can match other measurements against it.
 */

import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import {
  BigFrameReader,
  type FetchShape,
  fetchV4Request,
  parseFetchV4Response,
} from "../kafka/fetch-encoder.js";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";
import { connect, requireApi, wallNow } from "./kafka-conn.js";

export interface BigFetcherConfig {
  host: string;
  port: number;
  topic: string;
  partition: number;
  maxBytes: number;
  durationMs: number;
  /** Hard stop for a single fetch. */
  fetchTimeoutMs: number;
  /** Client id on the requests (default oncedb-bench-fetch); the server's quotas go by it. */
  clientId?: string;
}

export interface BigFetcherResult {
  fetches: number;
  bytes: number;
  seconds: number;
  mbPerSec: number;
  fetchMs: Percentiles;
  bytesPerFetch: number;
  wraps: number;
  windowStartWall: number;
  windowEndWall: number;
  clientCpu: number;
  fetchVersions: string;
}

async function main(): Promise<BigFetcherResult> {
  const cfg = loadConfig<BigFetcherConfig>();
  const sock = await connect(cfg.host, cfg.port);
  const clientId = cfg.clientId ?? "oncedb-bench-fetch";
  const fetchVersions = await requireApi(sock, 1, 4, "Fetch", clientId);
  const shape: FetchShape = {
    clientId,
    topic: cfg.topic,
    partition: cfg.partition,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: cfg.maxBytes,
    partitionMaxBytes: cfg.maxBytes,
    isolationLevel: 0,
  };
  const reader = new BigFrameReader();
  let waiter: ((f: Buffer) => void) | null = null;
  let fatal: Error | undefined;
  sock.on("data", (d: Buffer) => {
    reader.push(d);
    const f = reader.next();
    if (f && waiter) {
      const w = waiter;
      waiter = null;
      w(f);
    }
  });
  sock.on("error", (e) => {
    fatal ??= e;
  });
  const roundTrip = (req: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      if (fatal) return reject(fatal);
      const t = setTimeout(() => {
        waiter = null;
        reject(new Error(`no Fetch response within ${cfg.fetchTimeoutMs} ms`));
      }, cfg.fetchTimeoutMs);
      waiter = (f) => {
        clearTimeout(t);
        resolve(f);
      };
      sock.write(req);
    });

  const lat = new Samples(100_000);
  const cpu = new SelfCpu();
  let offset = 0;
  let fetches = 0;
  let bytes = 0;
  let wraps = 0;
  let corr = 1;
  const t0 = performance.now();
  const windowStartWall = wallNow();
  send({ type: "window-start", wall: windowStartWall });
  const end = t0 + cfg.durationMs;
  for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
    const id = corr++;
    const a = performance.now();
    const res = parseFetchV4Response(await roundTrip(fetchV4Request(id, shape, offset)));
    lat.add(performance.now() - a);
    if (res.correlationId !== id) throw new Error(`correlation id ${res.correlationId}, expected ${id}`);
    if (res.errorCode === 1 && offset !== 0) {
      // OFFSET_OUT_OF_RANGE: the log moved under us (not expected here); start over
      offset = 0;
      wraps++;
      continue;
    }
    if (res.errorCode !== 0) throw new Error(`Fetch error code ${res.errorCode}`);
    fetches++;
    bytes += res.recordBytes;
    if (res.lastOffset < 0 || res.lastOffset + 1 >= res.highWatermark) {
      offset = 0;
      wraps++;
    } else offset = res.lastOffset + 1;
  }
  const windowEndWall = wallNow();
  const clientCpu = cpu.stop();
  send({ type: "window-end", wall: windowEndWall });
  const seconds = (performance.now() - t0) / 1000;
  sock.destroy();
  return {
    fetches,
    bytes,
    seconds,
    mbPerSec: bytes / 1e6 / seconds,
    fetchMs: lat.percentiles(),
    bytesPerFetch: fetches > 0 ? bytes / fetches : 0,
    wraps,
    windowStartWall,
    windowEndWall,
    clientCpu,
    fetchVersions,
  };
}

runMain(main);
