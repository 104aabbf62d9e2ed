/**
 * rest-put, rest-get, rest-query, subscribe-latency: the same load scripts (autocannon in
 * bench/load/http-cannon.ts; WebSocket/SSE subscriber + writers in bench/load/rest-subscribe.ts) against
 * OnceDB and HarperDB 4.7.29, each in its own process. HarperDB costs ~15 s to install an instance,
 * start and export its tables, so one instance (own root dir, loopback ports) serves every rest-*
 * scenario of a bench run and is stopped by PID when the run ends (bench/main.ts: stopSharedPeers).
 * OnceDB serves the same REST shape on its HTTP listener (src/protocol/http).
 */
import { randomBytes } from "node:crypto";
import { runMeteredPid } from "../harness/child.js";
import { removeDir, tempDir } from "../harness/dirs.js";
import { fmtNum } from "../harness/format.js";
import {
  basicAuth,
  ensurePeer,
  HARPERDB_VERSION,
  type HarperCredentials,
  harperOperation,
  type PeerProcess,
  shareable,
  sharedPeer,
  startHarperdb,
} from "../harness/peers.js";
import type { OnceServer } from "../harness/server.js";
import { serverNotes } from "../harness/server.js";
import type { RunOptions, Scenario, ScenarioContext, ScenarioResult } from "../harness/types.js";
import type { HttpCannonConfig, HttpCannonResult, HttpOp } from "../load/http-cannon.js";
import { recordBody } from "../load/record-body.js";
import type { RestSubscribeConfig, RestSubscribeResult } from "../load/rest-subscribe.js";
import {
  buildCharts,
  buildRows,
  clientBoundNotes,
  countMeasured,
  type FigureSpec,
  type Measurement,
  runInterleaved,
  startOnceDbWith,
  statusOf,
  type Target,
  type VariantSpec,
} from "./ab.js";

/** Every record of `items` is ~105 bytes of JSON; each `grp` value has exactly 10 records. */
const BODY_BYTES = 105;
const PER_GROUP = 10;
const CONNECTIONS = 50;

interface RestEndpoint {
  baseUrl: string;
  headers: Record<string, string>;
  /** Table of seeded records `k0`..`k<records-1>` (grp indexed) that PUTs also write to. */
  itemsPath: string;
  /** Table for subscriptions, holding only a few records (a table subscription replays them all). */
  eventsPath: string;
  records: number;
}

function timing(quick: boolean) {
  return quick
    ? { warmupMs: 300, durationMs: 800, records: 2000 }
    : { warmupMs: 1000, durationMs: 4000, records: 50_000 };
}
type Timing = ReturnType<typeof timing>;

const SCHEMA = `type items @table(database: "bench", table: "items") @export {
  id: ID @primaryKey
  grp: Int @indexed
  v: String
}
type events @table(database: "bench", table: "events") @export {
  id: ID @primaryKey
  t: Float
  v: String
}
`;

// ---------------------------------------------------------------------------------------------------
// OnceDB-specific setup for the REST family. The load scripts speak HarperDB's REST shape: tables at
// /items/ and /events/, PUT/GET /<table>/<id> with a JSON body, GET /<table>/?attr=value queries, and
// subscriptions by WebSocket or SSE on the same paths. OnceDB serves that shape for every table; the
// two tables are created through the Operations API (POST /, create_table) with the same attributes
// as HarperDB's schema above, and seeded through the Operations API as HarperDB is.
// ---------------------------------------------------------------------------------------------------
async function oncedbRestSetup(
  _server: OnceServer,
  address: string,
  t: Timing,
  seed: boolean,
): Promise<RestEndpoint> {
  const ep: RestEndpoint = {
    baseUrl: `http://${address}`,
    headers: {},
    itemsPath: "/items/",
    eventsPath: "/events/",
    records: t.records,
  };
  const tables = [
    {
      table: "items",
      attributes: [
        { name: "grp", type: "Int", indexed: true },
        { name: "v", type: "String" },
      ],
    },
    {
      table: "events",
      attributes: [
        { name: "t", type: "Float" },
        { name: "v", type: "String" },
      ],
    },
  ];
  for (const def of tables) {
    const res = await fetch(`${ep.baseUrl}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ operation: "create_table", primary_key: "id", ...def }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`create_table ${def.table}: HTTP ${res.status} ${await res.text()}`);
  }
  if (seed) await seedByOperations(ep, t.records);
  return ep;
}

/**
 * Seeds `k0`..`k<n-1>` through the Operations API (`insert`, 1,000 records per call, one commit
 * each), the way HarperDB is seeded.
 */
async function seedByOperations(ep: RestEndpoint, n: number): Promise<void> {
  for (let from = 0; from < n; from += 1000) {
    const records = [];
    for (let i = from; i < Math.min(n, from + 1000); i++)
      records.push(JSON.parse(recordBody(`k${i}`, Math.floor(i / PER_GROUP), BODY_BYTES)) as unknown);
    const res = await fetch(`${ep.baseUrl}/`, {
      method: "POST",
      headers: { ...ep.headers, "content-type": "application/json" },
      body: JSON.stringify({ operation: "insert", table: "items", records }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`seed insert at k${from}: HTTP ${res.status} ${text}`);
  }
}

interface HarperState {
  endpoint: RestEndpoint;
  notes: string[];
}

const SHARED_KEY = "harperdb-rest";

/**
 * The HarperDB instance shared by the rest-* scenarios of this bench run: installed into its own root
 * dir, started, tables exported through a component, `items` seeded through the Operations API.
 */
async function sharedHarper(
  ctx: ScenarioContext,
  t: Timing,
): Promise<{ peer: PeerProcess; state: HarperState }> {
  const existing = sharedPeer<HarperState>(SHARED_KEY);
  if (existing) return existing;
  const { opts, progress } = ctx;
  const inst = await ensurePeer("harperdb", opts.peerCache, ctx.log);
  if (!inst.ok || !inst.path) throw new Error(`harperdb unavailable: ${inst.reason}`);
  progress.step("HarperDB: installing an instance and starting it (shared by the rest-* scenarios)", 15_000);
  const t0 = performance.now();
  const creds: HarperCredentials = { user: "bench", password: randomBytes(12).toString("hex") };
  const root = tempDir(opts.dataRoot, "harperdb");
  const peer = await startHarperdb(inst.path, root, creds);
  try {
    const startMs = performance.now() - t0;
    progress.step("HarperDB: exporting the tables (component + restart_service)", 6000);
    await harperOperation(peer, creds, {
      operation: "set_component_file",
      project: "bench",
      file: "config.yaml",
      payload: "rest: true\ngraphqlSchema:\n  files: schema.graphql\n",
    });
    await harperOperation(peer, creds, {
      operation: "set_component_file",
      project: "bench",
      file: "schema.graphql",
      payload: SCHEMA,
    });
    const job = (await harperOperation(peer, creds, {
      operation: "restart_service",
      service: "http_workers",
    })) as {
      job_id?: string;
    };
    const endpoint: RestEndpoint = {
      baseUrl: `http://127.0.0.1:${peer.ports.http}`,
      headers: { authorization: basicAuth(creds) },
      itemsPath: "/items/",
      eventsPath: "/events/",
      records: t.records,
    };
    await waitExported(peer, creds, endpoint, job.job_id);
    progress.step(`HarperDB: seeding ${fmtNum(t.records)} records`, t.records / 5);
    const s0 = performance.now();
    const chunks: number[] = [];
    for (let i = 0; i < t.records; i += 1000) chunks.push(i);
    let next = 0;
    const worker = async () => {
      for (let c = next++; c < chunks.length; c = next++) {
        const from = chunks[c];
        const records = [];
        for (let i = from; i < Math.min(t.records, from + 1000); i++)
          records.push(JSON.parse(recordBody(`k${i}`, Math.floor(i / PER_GROUP), BODY_BYTES)));
        await harperOperation(peer, creds, {
          operation: "upsert",
          database: "bench",
          table: "items",
          records,
        });
      }
    };
    await Promise.all([worker(), worker()]);
    const seedMs = performance.now() - s0;
    const state: HarperState = {
      endpoint,
      notes: [
        `Peer: HarperDB ${inst.version} (npm, ${inst.path?.includes(opts.peerCache) ? "peer cache" : "installed"}), one instance for every rest-* scenario of this run, THREADS_COUNT=2, DEFAULTS_MODE=dev, Basic auth on every request, loopback; started in ${fmtNum(startMs / 1000)} s; ${fmtNum(t.records)} records seeded through the Operations API (upsert, 1,000 per call) at ${fmtNum((t.records * 1000) / seedMs)} rec/s.`,
      ],
    };
    shareable(SHARED_KEY, peer, state);
    return { peer, state };
  } catch (e) {
    await peer.stop();
    throw e;
  }
}

/** Waits for restart_service to finish and the exported table to take a REST PUT. */
async function waitExported(
  peer: PeerProcess,
  creds: HarperCredentials,
  ep: RestEndpoint,
  jobId: string | undefined,
): Promise<void> {
  const deadline = performance.now() + 90_000;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (jobId)
    while (performance.now() < deadline) {
      const j = (await harperOperation(peer, creds, { operation: "get_job", id: jobId }).catch(() => [])) as {
        status?: string;
      }[];
      const st = Array.isArray(j) ? j[0]?.status : undefined;
      if (st === "COMPLETE") break;
      if (st === "ERROR") throw new Error("harperdb restart_service job failed");
      await sleep(250);
    }
  let last = "";
  while (performance.now() < deadline) {
    try {
      const res = await fetch(`${ep.baseUrl}${ep.eventsPath}probe`, {
        method: "PUT",
        headers: { ...ep.headers, "content-type": "application/json" },
        body: JSON.stringify({ id: "probe", t: 0, v: "" }),
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(250);
  }
  throw new Error(`harperdb tables not exported over REST after 90 s (${last})`);
}

/** Checks that a query by grp returns exactly 10 records on this target. */
async function checkQuery(ep: RestEndpoint): Promise<string | undefined> {
  const g = Math.floor(ep.records / PER_GROUP / 2);
  const res = await fetch(`${ep.baseUrl}${ep.itemsPath}?grp=${g}`, {
    headers: ep.headers,
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => undefined)) as unknown;
  const n = Array.isArray(body) ? body.length : -1;
  return n === PER_GROUP
    ? undefined
    : `query ?grp=${g} returned ${n} records (HTTP ${res.status}), not ${PER_GROUP}`;
}

interface RestFamilySpec {
  name: string;
  description: string;
  /** Needs the seeded `items` records (GET, query). */
  seeded: boolean;
  notes: (t: Timing) => string[];
  variants: (t: Timing) => VariantSpec<RestEndpoint>[];
  check?: (ep: RestEndpoint) => Promise<string | undefined>;
}

function restScenario(spec: RestFamilySpec): Scenario {
  return {
    name: spec.name,
    description: spec.description,
    needsServer: true,
    peers: ["harperdb"],
    estimateMs(opts: RunOptions) {
      const t = timing(opts.quick);
      const perRound = spec.variants(t).reduce((a, v) => a + v.expectMs, 0);
      // HarperDB start-up (~15 s) is paid by the first rest-* scenario of a run only; 12 s each on average
      return 3000 + opts.runs * perRound + 12_000;
    },
    async run(ctx: ScenarioContext): Promise<ScenarioResult> {
      const { opts, progress } = ctx;
      const t = timing(opts.quick);
      const t0 = Date.now();
      const notes: string[] = [...spec.notes(t)];
      const failures: string[] = [];
      const targets: Target<RestEndpoint>[] = [];
      const dirs: string[] = [];
      let once: OnceServer | undefined;
      let harper: PeerProcess | undefined;
      try {
        progress.step(`${spec.name}: starting OnceDB (is there an HTTP listener?)`, 1500);
        const onceDir = tempDir(opts.dataRoot, `${spec.name}-oncedb`);
        dirs.push(onceDir);
        const probe = await startOnceDbWith(opts.oncedbCli, onceDir, "http", "HTTP");
        if (probe.note) notes.push(probe.note);
        if (probe.server && probe.address) {
          once = probe.server;
          try {
            targets.push({
              kind: "oncedb",
              name: "OnceDB",
              short: "OnceDB",
              pid: once.pid,
              endpoint: await oncedbRestSetup(once, probe.address, t, spec.seeded),
            });
          } catch (e) {
            notes.push(
              `OnceDB REST setup failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
            );
          }
        }
        try {
          const h = await sharedHarper(ctx, t);
          harper = h.peer;
          targets.push({
            kind: "peer",
            name: "HarperDB",
            short: "Harper",
            pid: h.peer.pid,
            endpoint: h.state.endpoint,
          });
          notes.push(...h.state.notes);
        } catch (e) {
          notes.push(
            `HarperDB ${HARPERDB_VERSION} unavailable: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
          );
        }
        if (spec.check)
          for (const tg of targets) {
            const bad = await spec.check(tg.endpoint).catch((e: unknown) => String(e));
            if (bad) notes.push(`${tg.name}: ${bad}`);
          }
        const variants = spec.variants(t);
        const alive = (tg: Target<RestEndpoint>) =>
          tg.kind === "oncedb" ? once?.exited : harper?.running ? undefined : "HarperDB exited";
        const grid = await runInterleaved(ctx, spec.name, targets, variants, opts.runs, failures, alive);
        notes.push(...clientBoundNotes(targets, variants, grid), ...failures.slice(0, 8));
        return {
          scenario: spec.name,
          date: new Date().toISOString(),
          durationMs: Date.now() - t0,
          status: statusOf(targets, countMeasured(grid), failures),
          notes,
          rows: buildRows(targets, variants, grid, "HarperDB"),
          charts: buildCharts(targets, variants, grid),
          raw: Object.fromEntries(
            [...grid].map(([v, byT]) => [v, Object.fromEntries([...byT].map(([k, ms]) => [k, ms]))]),
          ),
        };
      } finally {
        if (once) notes.push(...serverNotes(once, await once.stop()));
        for (const d of dirs) removeDir(d);
      }
    },
  };
}

function cannonMeasurement(r: { result: HttpCannonResult; serverCpu: number }, what: string): Measurement {
  const x = r.result;
  const notes: string[] = [];
  if (x.non2xx > 0 || x.errors > 0 || x.timeouts > 0)
    notes.push(
      `${what}: ${x.non2xx} non-2xx answers (${JSON.stringify(x.statusCodes)}), ${x.errors} errors, ${x.timeouts} timeouts.`,
    );
  return {
    figures: { rate: x.rate, p50: x.latencyMs.p50, p99: x.latencyMs.p99 },
    latencyMs: x.latencyMs.count > 0 ? x.latencyMs : undefined,
    clientCpu: x.clientCpu,
    serverCpu: r.serverCpu,
    notes,
  };
}

const reqFigures = (minRatio: number): FigureSpec[] => [
  {
    key: "rate",
    metric: "throughput",
    unit: "req/s",
    bar: true,
    target: { text: `>= ${minRatio}x HarperDB`, minRatio },
  },
  { key: "p50", metric: "latency p50", unit: "ms" },
  { key: "p99", metric: "latency p99", unit: "ms", target: { text: "lower than HarperDB", maxRatio: 1 } },
];

function cannonVariant(
  id: string,
  label: string,
  short: string,
  minRatio: number,
  t: Timing,
  op: (tg: Target<RestEndpoint>, round: number) => HttpOp,
): VariantSpec<RestEndpoint> {
  return {
    id,
    label,
    short,
    figures: reqFigures(minRatio),
    expectMs: t.warmupMs + t.durationMs + 1500,
    run: async (tg, r) => {
      const cfg: HttpCannonConfig = {
        baseUrl: tg.endpoint.baseUrl,
        tablePath: tg.endpoint.itemsPath,
        headers: tg.endpoint.headers,
        op: op(tg, r),
        connections: CONNECTIONS,
        warmupMs: t.warmupMs,
        durationMs: t.durationMs,
      };
      return cannonMeasurement(
        await runMeteredPid<HttpCannonResult>(tg.pid, "http-cannon", cfg, t.warmupMs + t.durationMs + 60_000),
        `${label} against ${tg.name}`,
      );
    },
  };
}

const CANNON_NOTE = `Load: autocannon 9 in its own process, ${CONNECTIONS} keep-alive connections, closed loop (a connection sends its next request when the previous one is answered); only 2xx answers count; latency from autocannon's per-response timing (sub-millisecond); warm-up excluded.`;

export const restPutScenario = restScenario({
  name: "rest-put",
  description: "REST PUT of a new record (unique id, 105-byte JSON body), 50 connections: req/s, p50/p99",
  seeded: false,
  notes: (t) => [
    CANNON_NOTE,
    `Every request is PUT /items/<unique id> with a ${BODY_BYTES}-byte JSON body {id, grp (indexed), v}; ${t.durationMs / 1000} s window after ${t.warmupMs / 1000} s of warm-up.`,
  ],
  variants: (t) => [
    cannonVariant("put", "PUT unique id, 105-byte body", "PUT", 4, t, (tg, r) => ({
      kind: "put",
      idPrefix: `p${r}${tg.kind[0]}${process.pid}-${Date.now() % 100_000}-`,
      bodyBytes: BODY_BYTES,
      grpBase: 10_000_000,
    })),
  ],
});

export const restGetScenario = restScenario({
  name: "rest-get",
  description: "REST GET of one record by id (random among the seeded), 50 connections: req/s, p50/p99",
  seeded: true,
  notes: (t) => [
    CANNON_NOTE,
    `Every request is GET /items/k<random> over ${fmtNum(t.records)} seeded records of ${BODY_BYTES} bytes; ${t.durationMs / 1000} s window after ${t.warmupMs / 1000} s of warm-up.`,
  ],
  variants: (t) => [
    cannonVariant("get", "GET by id", "GET by id", 2, t, () => ({ kind: "get", records: t.records })),
  ],
});

export const restQueryScenario = restScenario({
  name: "rest-query",
  description: "REST query on an indexed attribute returning 10 records, 50 connections: req/s, p50/p99",
  seeded: true,
  check: checkQuery,
  notes: (t) => [
    CANNON_NOTE,
    `Every request is GET /items/?grp=<random> on the indexed attribute grp; each of the ${fmtNum(t.records / PER_GROUP)} values has exactly ${PER_GROUP} records (checked once per server before the rounds); ${t.durationMs / 1000} s window after ${t.warmupMs / 1000} s of warm-up.`,
  ],
  variants: (t) => [
    cannonVariant("query", "query returning 10 records (indexed attribute)", "query 10", 4, t, () => ({
      kind: "query",
      groups: Math.floor(t.records / PER_GROUP),
    })),
  ],
});

function subscribeVariant(
  id: string,
  label: string,
  short: string,
  mode: RestSubscribeConfig["mode"],
  writers: number,
  t: Timing,
): VariantSpec<RestEndpoint> {
  return {
    id,
    label,
    short,
    figures: [
      { key: "p50", metric: "write -> receipt p50", unit: "ms" },
      {
        key: "p99",
        metric: "write -> receipt p99",
        unit: "ms",
        target: { text: "lower than HarperDB", maxRatio: 1 },
      },
      { key: "rate", metric: "notifications received", unit: "msg/s", bar: true },
    ],
    expectMs: t.warmupMs + t.durationMs + 1500,
    run: async (tg, r) => {
      const cfg: RestSubscribeConfig = {
        baseUrl: tg.endpoint.baseUrl,
        tablePath: tg.endpoint.eventsPath,
        headers: tg.endpoint.headers,
        mode,
        writers,
        idPrefix: `${mode === "ws-record" ? "ws" : "sse"}${r}-`,
        warmupMs: t.warmupMs,
        durationMs: t.durationMs,
      };
      const m = await runMeteredPid<RestSubscribeResult>(
        tg.pid,
        "rest-subscribe",
        cfg,
        t.warmupMs + t.durationMs + 60_000,
      );
      const x = m.result;
      const notes: string[] = [];
      if (x.errors > 0) notes.push(`${label} against ${tg.name}: ${x.errors} errors, first: ${x.firstError}`);
      if (x.missed > 0) notes.push(`${label} against ${tg.name}: ${x.missed} writes not notified within 2 s`);
      return {
        figures: { rate: x.rate, p50: x.latencyMs.p50, p99: x.latencyMs.p99 },
        latencyMs: x.latencyMs.count > 0 ? x.latencyMs : undefined,
        clientCpu: x.clientCpu,
        serverCpu: m.serverCpu,
        notes,
      };
    },
  };
}

export const subscribeLatencyScenario = restScenario({
  name: "subscribe-latency",
  description:
    "write-to-receipt latency over a subscription: WebSocket to one record, SSE on a table with 50 writers",
  seeded: false,
  notes: (t) => [
    "Subscriber and writers share one load process of their own (one clock); each write carries its wall-clock send time t and latency = receipt - t. Writes go to a separate table (events) holding only the written records, since a table subscription first replays every record.",
    `WebSocket: ws://.../events/<id>, one writer PUTs that record and waits for its notification before the next write. SSE: GET /events/ (text/event-stream); 50 writers each PUT their own record in a closed loop (next PUT when the previous is answered). ${t.durationMs / 1000} s window after ${t.warmupMs / 1000} s of warm-up.`,
  ],
  variants: (t) => [
    subscribeVariant(
      "ws-record",
      "WebSocket on one record, 1 sequential writer",
      "WS 1 record",
      "ws-record",
      1,
      t,
    ),
    subscribeVariant(
      "sse-table",
      "SSE on the table, 50 concurrent writers",
      "SSE table x50",
      "sse-table",
      50,
      t,
    ),
  ],
});
