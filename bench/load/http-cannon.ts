/**
 * Load generator for rest-put, rest-get, rest-query: autocannon (keep-alive HTTP/1.1, `connections`
 * connections, closed loop) against a HarperDB-style REST table (`PUT /items/<id>`, `GET /items/<id>`,
 * `GET /items/?grp=<n>`). Latency is taken from autocannon's per-response event (sub-millisecond, where
 * its own histogram has 1 ms resolution), and only responses that complete inside the measurement
 * window after the warm-up are counted.
 */
import autocannon from "autocannon";
import { type Percentiles, Samples } from "../harness/stats.js";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";
import { recordBody } from "./record-body.js";

export type HttpOp =
  /** PUT a new record with a unique id; the JSON body is exactly `bodyBytes` long. */
  | { kind: "put"; idPrefix: string; bodyBytes: number; grpBase: number }
  /** GET one of the seeded records `k0` .. `k<records-1>` at random. */
  | { kind: "get"; records: number }
  /** GET the records of one `grp` value at random (each of `groups` values has 10 records). */
  | { kind: "query"; groups: number };

export interface HttpCannonConfig {
  /** e.g. http://127.0.0.1:9926 */
  baseUrl: string;
  /** e.g. /items/ */
  tablePath: string;
  headers: Record<string, string>;
  op: HttpOp;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

export interface HttpCannonResult {
  rate: number;
  count: number;
  latencyMs: Percentiles;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  clientCpu: number;
}

async function main(): Promise<HttpCannonResult> {
  const cfg = loadConfig<HttpCannonConfig>();
  const op = cfg.op;
  let seq = 0;
  const table = cfg.tablePath.endsWith("/") ? cfg.tablePath : `${cfg.tablePath}/`;
  const request: autocannon.Request =
    op.kind === "put"
      ? {
          method: "PUT",
          setupRequest: (req) => {
            const n = seq++;
            const id = `${op.idPrefix}${n}`;
            return {
              ...req,
              method: "PUT",
              path: `${table}${id}`,
              headers: { ...req.headers, "content-type": "application/json" },
              body: recordBody(id, op.grpBase + (n % 1000), op.bodyBytes),
            };
          },
        }
      : op.kind === "get"
        ? {
            method: "GET",
            setupRequest: (req) => ({
              ...req,
              path: `${table}k${Math.floor(Math.random() * op.records)}`,
            }),
          }
        : {
            method: "GET",
            setupRequest: (req) => ({
              ...req,
              path: `${table}?grp=${Math.floor(Math.random() * op.groups)}`,
            }),
          };
  const lat = new Samples(1_000_000);
  const codes: Record<string, number> = {};
  let count = 0;
  let non2xx = 0;
  const t0 = performance.now();
  const warmEnd = t0 + cfg.warmupMs;
  const end = warmEnd + cfg.durationMs;
  const cpu = new SelfCpu();
  let clientCpu = Number.NaN;
  const ws = setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, cfg.warmupMs);
  const we = setTimeout(() => {
    clientCpu = cpu.stop();
    send({ type: "window-end" });
  }, cfg.warmupMs + cfg.durationMs);
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: cfg.baseUrl,
        connections: cfg.connections,
        pipelining: 1,
        duration: Math.ceil((cfg.warmupMs + cfg.durationMs) / 1000) + 0.5,
        headers: cfg.headers,
        requests: [request],
        timeout: 10,
      },
      (err: unknown, res: autocannon.Result) => (err ? reject(err) : resolve(res)),
    );
  });
  instance?.on("response", (_client, statusCode: number, _bytes: number, responseTime: number) => {
    const now = performance.now();
    if (now < warmEnd || now > end) return;
    codes[statusCode] = (codes[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) {
      count++;
      lat.add(responseTime);
    } else non2xx++;
  });
  const result = await done;
  clearTimeout(ws);
  clearTimeout(we);
  if (Number.isNaN(clientCpu)) clientCpu = cpu.stop();
  return {
    rate: (count * 1000) / cfg.durationMs,
    count,
    latencyMs: lat.percentiles(),
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: codes,
    clientCpu,
  };
}

runMain(main);
