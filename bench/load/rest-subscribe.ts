/**
 * Load generator for subscribe-latency: write-to-receipt latency over a HarperDB-style subscription, with
 * the subscriber and the writers in this one process (one clock). Two modes:
 * - "ws-record": a WebSocket subscription to one record (`ws://.../events/<id>`); one writer PUTs that
 *   record, waits for its notification, then writes again (sequential).
 * - "sse-table": a Server-Sent Events subscription to the whole table (`GET /events/`, Accept
 *   text/event-stream); `writers` writers each PUT their own record in a closed loop (next PUT when the
 *   previous one is answered). Each record carries its write time `t`; latency = receipt - t.
 */
import http from "node:http";
import WebSocket from "ws";
import { type Percentiles, Samples } from "../harness/stats.js";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export interface RestSubscribeConfig {
  baseUrl: string;
  /** e.g. /events/ (a table holding only the subscription records). */
  tablePath: string;
  headers: Record<string, string>;
  mode: "ws-record" | "sse-table";
  writers: number;
  /** Record ids are `<idPrefix><n>`. */
  idPrefix: string;
  warmupMs: number;
  durationMs: number;
}

export interface RestSubscribeResult {
  /** Notifications received per second in the window. */
  rate: number;
  writes: number;
  received: number;
  latencyMs: Percentiles;
  writeLatencyMs: Percentiles;
  errors: number;
  firstError: string;
  missed: number;
  clientCpu: number;
}

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<RestSubscribeResult> {
  const cfg = loadConfig<RestSubscribeConfig>();
  const url = new URL(cfg.baseUrl);
  const table = cfg.tablePath.endsWith("/") ? cfg.tablePath : `${cfg.tablePath}/`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, cfg.writers) });
  const lat = new Samples(500_000);
  const writeLat = new Samples(500_000);
  let errors = 0;
  let firstError = "";
  let received = 0;
  let writes = 0;
  let missed = 0;
  const fail = (e: unknown) => {
    errors++;
    if (!firstError) firstError = e instanceof Error ? e.message : String(e);
  };

  const put = (id: string, t: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ id, t, v: "x".repeat(64) });
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: "PUT",
          path: `${table}${id}`,
          agent,
          headers: {
            ...cfg.headers,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode && res.statusCode < 300
              ? resolve()
              : reject(new Error(`PUT: HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error("PUT timed out")));
      req.on("error", reject);
      req.end(body);
    });

  const t0 = performance.now();
  const warmEnd = t0 + cfg.warmupMs;
  const end = warmEnd + cfg.durationMs;
  const inWindow = (now: number) => now >= warmEnd && now <= end;
  // every notification carries the record's value; `t` is its write time (wall clock, ms)
  const onValue = (value: unknown) => {
    const v = value as { t?: unknown } | undefined;
    if (!v || typeof v.t !== "number" || v.t < performance.timeOrigin + t0) return; // replayed or old
    const now = performance.now();
    if (inWindow(now)) {
      received++;
      lat.add(wallNow() - v.t);
    }
    waiter?.(v.t);
  };
  let waiter: ((t: number) => void) | undefined;
  const cleanup: (() => void)[] = [];

  if (cfg.mode === "ws-record") {
    const id = `${cfg.idPrefix}0`;
    await put(id, 0); // the record exists before the subscription
    const wsUrl = `ws://${url.host}${table}${id}`;
    const ws = new WebSocket(wsUrl, { headers: cfg.headers });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("error", fail);
    ws.on("message", (d) => {
      try {
        onValue((JSON.parse(d.toString()) as { value?: unknown }).value);
      } catch (e) {
        fail(e);
      }
    });
    cleanup.push(() => ws.terminate());
  } else {
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: "GET",
          path: table,
          headers: { ...cfg.headers, accept: "text/event-stream" },
        },
        (res) => {
          if (res.statusCode !== 200) {
            reject(new Error(`SSE subscribe: HTTP ${res.statusCode}`));
            res.resume();
            return;
          }
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buf += chunk;
            let i = buf.indexOf("\n");
            while (i >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line.startsWith("data:")) {
                try {
                  onValue((JSON.parse(line.slice(5)) as { value?: unknown }).value);
                } catch (e) {
                  fail(e);
                }
              }
              i = buf.indexOf("\n");
            }
            if (buf.length > 1 << 20) buf = "";
          });
          res.on("error", fail);
          resolve();
        },
      );
      req.on("error", reject);
      req.end();
      cleanup.push(() => req.destroy());
    });
    await sleep(200); // the subscription is registered (and any replay delivered) before writing
  }

  const cpu = new SelfCpu();
  let clientCpu = Number.NaN;
  const ws = setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, cfg.warmupMs);
  const writer = async (w: number) => {
    const id = `${cfg.idPrefix}${w}`;
    while (performance.now() < end && errors < 1000) {
      const t = wallNow();
      const a = performance.now();
      let seen: Promise<boolean> | undefined;
      if (cfg.mode === "ws-record")
        seen = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            waiter = undefined;
            resolve(false);
          }, 2000);
          waiter = (got) => {
            if (got === t) {
              clearTimeout(timer);
              waiter = undefined;
              resolve(true);
            }
          };
        });
      try {
        await put(id, t);
        if (inWindow(a)) {
          writes++;
          writeLat.add(performance.now() - a);
        }
      } catch (e) {
        fail(e);
      }
      if (seen && !(await seen) && inWindow(a)) missed++;
    }
  };
  await Promise.all(Array.from({ length: cfg.mode === "ws-record" ? 1 : cfg.writers }, (_, w) => writer(w)));
  clearTimeout(ws);
  clientCpu = cpu.stop();
  send({ type: "window-end" });
  await sleep(300); // late notifications of the last writes (outside the window anyway)
  for (const c of cleanup) c();
  agent.destroy();
  return {
    rate: (received * 1000) / cfg.durationMs,
    writes,
    received,
    latencyMs: lat.percentiles(),
    writeLatencyMs: writeLat.percentiles(),
    errors,
    firstError,
    missed,
    clientCpu,
  };
}

runMain(main);
