/**
 * nats-core, nats-request, nats-jetstream-publish, nats-pull-consume: the same @nats-io client script
 * (bench/load/nats-client.ts, own process) against OnceDB and nats-server 2.9.10, each started here on
 * its own loopback port with its own data dir and stopped by PID. Rounds interleave OnceDB and the
 * peer; ratios are pair by pair. Where OnceDB lacks what a scenario needs (JetStream consumers for
 * nats-pull-consume), only nats-server is measured and a note says so.
 */

import { connect } from "@nats-io/transport-node";
import { runMeteredPid } from "../harness/child.js";
import { removeDir, tempDir } from "../harness/dirs.js";
import { fmtNum } from "../harness/format.js";
import { ensurePeer, NATS_SERVER_VERSION, type PeerProcess, startNatsServer } from "../harness/peers.js";
import type { OnceServer } from "../harness/server.js";
import { serverNotes } from "../harness/server.js";
import type { RunOptions, Scenario, ScenarioContext, ScenarioResult } from "../harness/types.js";
import type { NatsClientConfig, NatsClientResult, NatsMode } from "../load/nats-client.js";
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

const PAYLOAD = 100;

interface NatsEndpoint {
  servers: string;
}

function timing(quick: boolean) {
  return quick
    ? { warmupMs: 200, durationMs: 800, pubsubMessages: 150_000, pullFill: 15_000 }
    : { warmupMs: 500, durationMs: 3000, pubsubMessages: 1_000_000, pullFill: 200_000 };
}
type Timing = ReturnType<typeof timing>;

// ---------------------------------------------------------------------------------------------------
// OnceDB-specific setup for the NATS family. Everything the scenarios need (streams, consumers) is
// created by the client script through the ordinary JetStream API, the same calls against both
// servers, so nothing OnceDB-specific is needed today beyond its address. If OnceDB's NATS listener
// ever needs more (e.g. JetStream enabled per account, a stream template), do it here, and only here.
// ---------------------------------------------------------------------------------------------------
async function oncedbNatsSetup(_server: OnceServer, address: string): Promise<NatsEndpoint> {
  return { servers: address };
}

/**
 * How much of JetStream the NATS server at `servers` answers: nothing, streams (the account-info
 * request), or consumers too (a consumer request is answered with anything but "not offered", 501).
 */
async function jetStreamLevel(servers: string): Promise<"none" | "streams" | "consumers"> {
  const nc = await connect({ servers, maxReconnectAttempts: 0, timeout: 5000 });
  try {
    await nc.request("$JS.API.INFO", "", { timeout: 2000 });
    const r = await nc.request("$JS.API.CONSUMER.NAMES.oncedb_bench_probe", "", { timeout: 2000 });
    const body = JSON.parse(r.string()) as { error?: { code?: number } };
    return body.error?.code === 501 ? "streams" : "consumers";
  } catch {
    return "none";
  } finally {
    await nc.close();
  }
}

async function runClient(t: Target<NatsEndpoint>, tag: string, mode: NatsMode, maxMs: number) {
  const cfg: NatsClientConfig = { servers: t.endpoint.servers, payloadBytes: PAYLOAD, tag, mode, maxMs };
  return runMeteredPid<NatsClientResult>(t.pid, "nats-client", cfg, maxMs + 15_000);
}

function measurement(r: { result: NatsClientResult; serverCpu: number }, extra = {}): Measurement {
  const l = r.result.latencyMs;
  return {
    figures: {
      rate: r.result.rate,
      p50: l && l.count > 0 ? l.p50 : Number.NaN,
      p99: l && l.count > 0 ? l.p99 : Number.NaN,
      ...extra,
    },
    latencyMs: l && l.count > 0 ? l : undefined,
    clientCpu: r.result.clientCpu,
    serverCpu: r.serverCpu,
    notes: r.result.notes,
  };
}

const uniq = (t: Target<NatsEndpoint>, round: number, v: string) =>
  `${v}${round}${t.kind === "oncedb" ? "o" : "p"}${process.pid}${Date.now() % 1_000_000}`;

interface NatsFamilySpec {
  name: string;
  description: string;
  notes: (t: Timing) => string[];
  variants: (t: Timing) => VariantSpec<NatsEndpoint>[];
  /** Per-target preparation before the rounds (e.g. filling a stream); returns notes. */
  prepare?: (ctx: ScenarioContext, t: Target<NatsEndpoint>, timing: Timing) => Promise<string[]>;
  estimatePerRoundMs: (t: Timing) => number;
  /** Needs JetStream (streams, or consumers too): OnceDB is measured only if it answers that much. */
  jetstream?: "streams" | "consumers";
}

function natsScenario(spec: NatsFamilySpec): Scenario {
  return {
    name: spec.name,
    description: spec.description,
    needsServer: true,
    peers: ["nats-server"],
    estimateMs(opts: RunOptions) {
      const t = timing(opts.quick);
      return 3000 + opts.runs * spec.estimatePerRoundMs(t) + (spec.prepare ? t.pullFill / 15 : 0);
    },
    async run(ctx: ScenarioContext): Promise<ScenarioResult> {
      const { opts, progress } = ctx;
      const t = timing(opts.quick);
      const t0 = Date.now();
      const notes: string[] = [...spec.notes(t)];
      const failures: string[] = [];
      const targets: Target<NatsEndpoint>[] = [];
      const dirs: string[] = [];
      let once: OnceServer | undefined;
      let peer: PeerProcess | undefined;
      try {
        progress.step(`${spec.name}: starting OnceDB (is there a NATS listener?)`, 1500);
        const onceDir = tempDir(opts.dataRoot, `${spec.name}-oncedb`);
        dirs.push(onceDir);
        const probe = await startOnceDbWith(opts.oncedbCli, onceDir, "nats", "NATS");
        if (probe.note) notes.push(probe.note);
        const level = probe.address && spec.jetstream ? await jetStreamLevel(probe.address) : "consumers";
        if (
          probe.server &&
          spec.jetstream &&
          (level === "none" || (spec.jetstream === "consumers" && level !== "consumers"))
        ) {
          notes.push(
            `OnceDB's NATS listener does not offer JetStream ${spec.jetstream} yet: peer figures only; the ratio appears when they land.`,
          );
          await probe.server.stop();
        } else if (probe.server && probe.address) {
          once = probe.server;
          targets.push({
            kind: "oncedb",
            name: "OnceDB",
            short: "OnceDB",
            pid: once.pid,
            endpoint: await oncedbNatsSetup(once, probe.address),
          });
        }
        progress.step(`${spec.name}: starting nats-server`, 1000);
        const inst = await ensurePeer("nats-server", opts.peerCache, ctx.log);
        if (inst.ok && inst.path) {
          const peerDir = tempDir(opts.dataRoot, `${spec.name}-nats-server`);
          dirs.push(peerDir);
          try {
            peer = await startNatsServer(inst.path, peerDir);
            targets.push({
              kind: "peer",
              name: "nats-server",
              short: "nats",
              pid: peer.pid,
              endpoint: { servers: `127.0.0.1:${peer.ports.nats}` },
            });
            notes.push(
              `Peer: nats-server ${inst.version}${inst.version === NATS_SERVER_VERSION ? "" : ` (expected ${NATS_SERVER_VERSION})`} (Debian package), -js with its own store dir, 127.0.0.1, pid ${peer.pid}.`,
            );
          } catch (e) {
            notes.push(
              `nats-server did not start: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
            );
          }
        }
        if (spec.prepare)
          for (const tg of targets) {
            progress.step(`${spec.name}: preparing ${tg.name}`, t.pullFill / 15);
            notes.push(...(await spec.prepare(ctx, tg, t)));
          }
        const variants = spec.variants(t);
        const alive = (tg: Target<NatsEndpoint>) =>
          tg.kind === "oncedb" ? once?.exited : peer?.running ? undefined : "nats-server exited";
        const grid = await runInterleaved(ctx, spec.name, targets, variants, opts.runs, failures, alive);
        const rows = buildRows(targets, variants, grid, "nats-server");
        notes.push(...clientBoundNotes(targets, variants, grid), ...failures.slice(0, 8));
        return {
          scenario: spec.name,
          date: new Date().toISOString(),
          durationMs: Date.now() - t0,
          status: statusOf(targets, countMeasured(grid), failures),
          notes,
          rows,
          charts: buildCharts(targets, variants, grid),
          raw: Object.fromEntries(
            [...grid].map(([v, byT]) => [v, Object.fromEntries([...byT].map(([k, ms]) => [k, ms]))]),
          ),
        };
      } finally {
        if (once) notes.push(...serverNotes(once, await once.stop()));
        if (peer) await peer.stop();
        for (const d of dirs) removeDir(d);
      }
    },
  };
}

const rateFig = (unit: string, target?: FigureSpec["target"]): FigureSpec => ({
  key: "rate",
  metric: "throughput",
  unit,
  bar: true,
  target,
});
const p50 = (what: string): FigureSpec => ({ key: "p50", metric: `${what} p50`, unit: "ms" });
const p99 = (what: string): FigureSpec => ({ key: "p99", metric: `${what} p99`, unit: "ms" });
const atLeast = (x: number, what = "nats-server") => ({ text: `>= ${x}x ${what}`, minRatio: x });

const PEER_NOTE =
  "Client: @nats-io/transport-node + @nats-io/jetstream 3.4.0 in one load process of its own (publishers, subscribers and responders share it, as in shared/PEERS.md); 100-byte payloads.";

export const natsCoreScenario = natsScenario({
  name: "nats-core",
  description: "core NATS publish -> subscribe of 100-byte messages, one subscriber and a queue group of two",
  notes: (t) => [
    PEER_NOTE,
    `Each run publishes ${fmtNum(t.pubsubMessages)} messages (after a warm-up of 5%) on one connection as fast as the server takes them (a flush every 5,000, at most two outstanding) and counts them at the subscribers (own connections); msg/s = received / (last receipt - first publish).`,
  ],
  estimatePerRoundMs: (t) => 2 * (2 * (t.pubsubMessages / 300) + 1500),
  variants: (t) => [
    {
      id: "pubsub-1",
      label: "pub -> 1 subscriber",
      short: "pub->sub",
      figures: [rateFig("msg/s", atLeast(1))],
      expectMs: t.pubsubMessages / 300 + 1500,
      run: async (tg, r) =>
        measurement(
          await runClient(
            tg,
            uniq(tg, r, "c"),
            { kind: "pubsub", messages: t.pubsubMessages, subscribers: 1, queue: false },
            60_000 + t.pubsubMessages / 10,
          ),
        ),
    },
    {
      id: "queue-2",
      label: "queue group of 2 subscribers",
      short: "queue group x2",
      figures: [rateFig("msg/s", atLeast(1))],
      expectMs: t.pubsubMessages / 300 + 1500,
      run: async (tg, r) =>
        measurement(
          await runClient(
            tg,
            uniq(tg, r, "q"),
            { kind: "pubsub", messages: t.pubsubMessages, subscribers: 2, queue: true },
            60_000 + t.pubsubMessages / 10,
          ),
        ),
    },
  ],
});

export const natsRequestScenario = natsScenario({
  name: "nats-request",
  description: "NATS request/reply: one sequential requester and 50 concurrent, req/s with p50/p99",
  notes: (t) => [
    PEER_NOTE,
    `A responder subscription answers every request with 100 bytes; requesters on another connection send 100-byte requests back to back (closed loop) for ${t.durationMs / 1000} s after ${t.warmupMs / 1000} s of warm-up; latency = request() call to reply.`,
  ],
  estimatePerRoundMs: (t) => 2 * 2 * (t.warmupMs + t.durationMs + 1200),
  variants: (t) =>
    [1, 50].map((c) => ({
      id: `request-${c}`,
      label: c === 1 ? "request/reply, 1 sequential requester" : `request/reply, ${c} concurrent requesters`,
      short: c === 1 ? "req/rep x1" : `req/rep x${c}`,
      figures: [rateFig("req/s", atLeast(1)), p50("latency"), p99("latency")],
      expectMs: t.warmupMs + t.durationMs + 1200,
      run: async (tg: Target<NatsEndpoint>, r: number) =>
        measurement(
          await runClient(
            tg,
            uniq(tg, r, `r${c}`),
            { kind: "request", concurrency: c, warmupMs: t.warmupMs, durationMs: t.durationMs },
            t.warmupMs + t.durationMs + 30_000,
          ),
        ),
    })),
});

const JS_NOTE =
  "nats-server's JetStream acknowledges a publish before fsync (it syncs on an interval of minutes), while OnceDB fsyncs before it acknowledges: the comparison is conservative for OnceDB.";

export const natsJetstreamPublishScenario = natsScenario({
  name: "nats-jetstream-publish",
  jetstream: "streams",
  description: "JetStream publish with a unique msgID (dedupe window 2 min): sync, and 1,000 in flight",
  notes: (t) => [
    PEER_NOTE,
    JS_NOTE,
    `Each run creates a fresh file-backed stream (duplicate_window 2 min) and publishes 100-byte messages, each with a unique msgID (Nats-Msg-Id), for ${t.durationMs / 1000} s after ${t.warmupMs / 1000} s of warm-up, counting the acks (PubAck) that arrive in the window; then checks the stream's message count and deletes the stream.`,
  ],
  estimatePerRoundMs: (t) => 2 * 2 * (t.warmupMs + t.durationMs + 1500),
  variants: (t) =>
    [1, 1000].map((n) => ({
      id: `js-publish-${n}`,
      label:
        n === 1 ? "publish with msgID, sync (1 in flight)" : `publish with msgID, ${fmtNum(n)} in flight`,
      short: n === 1 ? "sync" : `${fmtNum(n)} in flight`,
      figures: [
        rateFig("msg/s", atLeast(3, "nats-server (OnceDB fsyncs)")),
        p50("ack latency"),
        p99("ack latency"),
      ],
      expectMs: t.warmupMs + t.durationMs + 1500,
      run: async (tg: Target<NatsEndpoint>, r: number) =>
        measurement(
          await runClient(
            tg,
            uniq(tg, r, `j${n}`),
            { kind: "js-publish", inflight: n, warmupMs: t.warmupMs, durationMs: t.durationMs },
            t.warmupMs + t.durationMs + 40_000,
          ),
        ),
    })),
});

const pullStream = (tg: Target<NatsEndpoint>) => `BENCH_PULL_${tg.kind}_${process.pid}`;

export const natsPullConsumeScenario = natsScenario({
  name: "nats-pull-consume",
  jetstream: "consumers",
  description:
    "JetStream pull consumer: fetch 1,000 + ack, and fetch + ackAck (double ack) awaited per batch",
  notes: (t) => [
    PEER_NOTE,
    JS_NOTE,
    `Before the rounds, a file-backed stream is filled with ${fmtNum(t.pullFill)} messages of 100 bytes on each server. Every run creates a fresh durable pull consumer (explicit ack, deliver all, max_ack_pending 20,000) and fetches batches of 1,000 (expires 2 s) for ${t.durationMs / 1000} s after ${t.warmupMs / 1000} s of warm-up: "ack" acks each message without waiting; "ackAck" asks the server to confirm each ack and awaits all confirmations of a batch before the next fetch. Latency = one fetch + its acks.`,
  ],
  estimatePerRoundMs: (t) => 2 * 2 * (t.warmupMs + t.durationMs + 1500),
  prepare: async (ctx, tg, t) => {
    const cfg: NatsClientConfig = {
      servers: tg.endpoint.servers,
      payloadBytes: PAYLOAD,
      tag: "fill",
      mode: { kind: "js-fill", stream: pullStream(tg), messages: t.pullFill },
      maxMs: 600_000,
    };
    const r = await runMeteredPid<NatsClientResult>(tg.pid, "nats-client", cfg, cfg.maxMs + 15_000);
    ctx.log(
      `  ${tg.name}: stream filled with ${fmtNum(r.result.count)} messages at ${fmtNum(r.result.rate)} msg/s`,
    );
    return [
      `${tg.name}: stream filled at ${fmtNum(r.result.rate)} msg/s (1,000 publishes in flight, no msgID).`,
    ];
  },
  variants: (t) =>
    [false, true].map((ackAck) => ({
      id: ackAck ? "pull-ackack" : "pull-ack",
      label: ackAck ? "fetch 1,000 + ackAck (double ack)" : "fetch 1,000 + ack",
      short: ackAck ? "fetch+ackAck" : "fetch+ack",
      figures: [
        rateFig("msg/s", ackAck ? atLeast(2) : undefined),
        p50("batch (fetch + acks)"),
        p99("batch (fetch + acks)"),
      ],
      expectMs: t.warmupMs + t.durationMs + 1500,
      run: async (tg: Target<NatsEndpoint>, r: number) =>
        measurement(
          await runClient(
            tg,
            "pull",
            {
              kind: "pull",
              stream: pullStream(tg),
              consumer: `c_${ackAck ? "aa" : "a"}_${r}`,
              batch: 1000,
              ackAck,
              warmupMs: t.warmupMs,
              durationMs: t.durationMs,
            },
            t.warmupMs + t.durationMs + 40_000,
          ),
        ),
    })),
});
