/**
 * Load generator for the nats-* scenarios: the same @nats-io/transport-node + @nats-io/jetstream
 * script against any NATS server (nats-server, or OnceDB once it has a NATS listener). One mode per
 * run; publishers, subscribers and responders share this one process (as in shared/PEERS.md), so its
 * CPU is reported: near one core, the figure is the client's.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Percentiles, Samples } from "../harness/stats.js";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export type NatsMode =
  /** core publish -> subscribe: `subscribers` plain subscriptions, or one queue group of them. */
  | { kind: "pubsub"; messages: number; subscribers: number; queue: boolean }
  /** request/reply against a responder in this process; `concurrency` sequential requesters. */
  | { kind: "request"; concurrency: number; warmupMs: number; durationMs: number }
  /** JetStream publish with a unique msgID (dedupe), `inflight` publishes outstanding (1 = sync). */
  | { kind: "js-publish"; inflight: number; warmupMs: number; durationMs: number }
  /** Fills `stream` (created if missing) with `messages` messages (1,000 publishes in flight). */
  | { kind: "js-fill"; stream: string; messages: number }
  /** A fresh durable pull consumer on `stream`: fetch batches of `batch`, ack or ackAck each message. */
  | {
      kind: "pull";
      stream: string;
      consumer: string;
      batch: number;
      ackAck: boolean;
      warmupMs: number;
      durationMs: number;
    };

export interface NatsClientConfig {
  servers: string;
  payloadBytes: number;
  /** Unique per run: subjects, streams and msgIDs are derived from it. */
  tag: string;
  mode: NatsMode;
  maxMs: number;
}

export interface NatsClientResult {
  /** Messages (or requests, or acked publishes) per second over the measurement window. */
  rate: number;
  count: number;
  windowMs: number;
  latencyMs?: Percentiles;
  clientCpu: number;
  errors: number;
  firstError: string;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<NatsClientResult> {
  const cfg = loadConfig<NatsClientConfig>();
  const deadline = setTimeout(() => {
    send({ type: "error", message: `nats client exceeded its deadline of ${cfg.maxMs} ms` });
    setTimeout(() => process.exit(2), 100);
  }, cfg.maxMs);
  deadline.unref();
  const payload = new Uint8Array(cfg.payloadBytes).fill(0x2e);
  const conns: NatsConnection[] = [];
  const open = async (name: string) => {
    const nc = await connect({ servers: cfg.servers, name, maxReconnectAttempts: 0, timeout: 10_000 });
    conns.push(nc);
    return nc;
  };
  try {
    switch (cfg.mode.kind) {
      case "pubsub":
        return await pubsub(cfg, cfg.mode, payload, open);
      case "request":
        return await request(cfg, cfg.mode, payload, open);
      case "js-publish":
        return await jsPublish(cfg, cfg.mode, payload, await open("bench-js-pub"));
      case "js-fill":
        return await jsFill(cfg, cfg.mode, payload, await open("bench-js-fill"));
      case "pull":
        return await pull(cfg.mode, await open("bench-pull"));
      default:
        throw new Error(`unknown mode ${JSON.stringify(cfg.mode)}`);
    }
  } finally {
    for (const nc of conns) await Promise.race([nc.close(), sleep(3000)]).catch(() => undefined);
  }
}

type Open = (name: string) => Promise<NatsConnection>;

async function pubsub(
  cfg: NatsClientConfig,
  m: Extract<NatsMode, { kind: "pubsub" }>,
  payload: Uint8Array,
  open: Open,
): Promise<NatsClientResult> {
  const subject = `bench.core.${cfg.tag}`;
  let received = 0;
  let lastAt = 0;
  for (let i = 0; i < m.subscribers; i++) {
    const nc = await open(`bench-sub-${i}`);
    nc.subscribe(subject, {
      queue: m.queue ? "bench-q" : undefined,
      callback: () => {
        received++;
        lastAt = performance.now();
      },
    });
    await nc.flush();
  }
  const expected = m.queue ? m.messages : m.messages * m.subscribers;
  const pub = await open("bench-pub");
  // warm-up: 5% of the messages (at least 50,000), all received before the clock starts
  const warm = Math.max(50_000, Math.floor(m.messages / 20));
  for (let i = 0; i < warm; i++) pub.publish(subject, payload);
  await pub.flush();
  const warmExpected = m.queue ? warm : warm * m.subscribers;
  for (let i = 0; i < 2000 && received < warmExpected; i++) await sleep(5);
  received = 0;
  const cpu = new SelfCpu();
  send({ type: "window-start" });
  const t0 = performance.now();
  // Publish in chunks; at most two flushes (PING/PONG) outstanding, and the subscribers never more than
  // 100,000 messages behind (a slow consumer would otherwise be cut off by the server).
  let prevFlush: Promise<void> = Promise.resolve();
  for (let sent = 0; sent < m.messages; ) {
    const n = Math.min(5000, m.messages - sent);
    for (let i = 0; i < n; i++) pub.publish(subject, payload);
    sent += n;
    const f = pub.flush();
    await prevFlush;
    prevFlush = f;
    const behind = () => (m.queue ? sent : sent * m.subscribers) - received;
    for (let i = 0; i < 4000 && behind() > 100_000 * m.subscribers; i++) await sleep(1);
  }
  await prevFlush;
  for (let i = 0; i < 6000 && received < expected; i++) await sleep(5);
  const clientCpu = cpu.stop();
  send({ type: "window-end" });
  const windowMs = (received >= expected ? lastAt : performance.now()) - t0;
  const notes: string[] = [];
  if (received < expected) notes.push(`pubsub: ${expected - received} of ${expected} messages not received`);
  return {
    rate: (received * 1000) / windowMs,
    count: received,
    windowMs,
    clientCpu,
    errors: 0,
    firstError: "",
    notes,
  };
}

async function request(
  cfg: NatsClientConfig,
  m: Extract<NatsMode, { kind: "request" }>,
  payload: Uint8Array,
  open: Open,
): Promise<NatsClientResult> {
  const subject = `bench.rr.${cfg.tag}`;
  const resp = await open("bench-responder");
  resp.subscribe(subject, {
    callback: (_e, msg) => {
      msg.respond(payload);
    },
  });
  await resp.flush();
  const nc = await open("bench-requester");
  const lat = new Samples(500_000);
  let count = 0;
  let errors = 0;
  let firstError = "";
  const t0 = performance.now();
  const warmEnd = t0 + m.warmupMs;
  const end = warmEnd + m.durationMs;
  const cpu = new SelfCpu();
  let clientCpu = Number.NaN;
  const window = setTimeout(() => {
    cpu.start();
    send({ type: "window-start" });
  }, m.warmupMs);
  const worker = async () => {
    for (let now = performance.now(); now < end; now = performance.now()) {
      try {
        await nc.request(subject, payload, { timeout: 5000 });
        const done = performance.now();
        if (now >= warmEnd && done <= end) {
          count++;
          lat.add(done - now);
        }
      } catch (e) {
        errors++;
        if (!firstError) firstError = e instanceof Error ? e.message : String(e);
        if (errors > 1000) return;
      }
    }
  };
  const ender = sleep(m.warmupMs + m.durationMs).then(() => {
    clientCpu = cpu.stop();
    send({ type: "window-end" });
  });
  await Promise.all([...Array.from({ length: m.concurrency }, worker), ender]);
  clearTimeout(window);
  return {
    rate: (count * 1000) / m.durationMs,
    count,
    windowMs: m.durationMs,
    latencyMs: lat.percentiles(),
    clientCpu,
    errors,
    firstError,
    notes: errors > 0 ? [`request: ${errors} errors, first: ${firstError}`] : [],
  };
}

/** A bounded number of outstanding async operations. */
class Window {
  private n = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async acquire(): Promise<void> {
    while (this.n >= this.max) await new Promise<void>((r) => this.waiters.push(r));
    this.n++;
  }
  release(): void {
    this.n--;
    this.waiters.shift()?.();
  }
  async drain(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    while (this.n > 0 && performance.now() - t0 < timeoutMs) await sleep(5);
  }
}

async function ensureStream(nc: NatsConnection, name: string, subjects: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams.add({
      name,
      subjects,
      storage: StorageType.File,
      duplicate_window: 120 * 1e9,
    });
  }
}

async function jsPublish(
  cfg: NatsClientConfig,
  m: Extract<NatsMode, { kind: "js-publish" }>,
  payload: Uint8Array,
  nc: NatsConnection,
): Promise<NatsClientResult> {
  const stream = `BENCH_PUB_${cfg.tag}`;
  const subject = `bench.js.${cfg.tag}`;
  await ensureStream(nc, stream, [subject]);
  const js = jetstream(nc);
  const lat = new Samples(500_000);
  const win = new Window(m.inflight);
  let seq = 0;
  let count = 0;
  let dupes = 0;
  let errors = 0;
  let firstError = "";
  const t0 = performance.now();
  const warmEnd = t0 + m.warmupMs;
  const end = warmEnd + m.durationMs;
  const cpu = new SelfCpu();
  let inWindow = false;
  for (let now = performance.now(); now < end; now = performance.now()) {
    if (!inWindow && now >= warmEnd) {
      inWindow = true;
      cpu.start();
      send({ type: "window-start" });
    }
    await win.acquire();
    const a = performance.now();
    const id = `${cfg.tag}-${seq++}`;
    js.publish(subject, payload, { msgID: id }).then(
      (ack) => {
        win.release();
        const done = performance.now();
        if (ack.duplicate) dupes++;
        if (a >= warmEnd && done <= end) {
          count++;
          lat.add(done - a);
        }
      },
      (e: unknown) => {
        win.release();
        errors++;
        if (!firstError) firstError = e instanceof Error ? e.message : String(e);
      },
    );
    if (errors > 1000) break;
  }
  const clientCpu = cpu.stop();
  send({ type: "window-end" });
  await win.drain(10_000);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  await jsm.streams.delete(stream).catch(() => undefined);
  const notes: string[] = [];
  if (errors > 0) notes.push(`js-publish: ${errors} errors, first: ${firstError}`);
  if (dupes > 0)
    notes.push(`js-publish: ${dupes} publishes acked as duplicates (unexpected: every msgID is unique)`);
  if (info.state.messages !== seq - errors)
    notes.push(`js-publish: stream holds ${info.state.messages} messages, ${seq - errors} acked`);
  return {
    rate: (count * 1000) / m.durationMs,
    count,
    windowMs: m.durationMs,
    latencyMs: lat.percentiles(),
    clientCpu,
    errors,
    firstError,
    notes,
  };
}

async function jsFill(
  _cfg: NatsClientConfig,
  m: Extract<NatsMode, { kind: "js-fill" }>,
  payload: Uint8Array,
  nc: NatsConnection,
): Promise<NatsClientResult> {
  const subject = `bench.fill.${m.stream}`;
  await ensureStream(nc, m.stream, [subject]);
  const js: JetStreamClient = jetstream(nc);
  const win = new Window(1000);
  let errors = 0;
  let firstError = "";
  const t0 = performance.now();
  for (let i = 0; i < m.messages && errors < 100; i++) {
    await win.acquire();
    js.publish(subject, payload).then(
      () => win.release(),
      (e: unknown) => {
        win.release();
        errors++;
        if (!firstError) firstError = e instanceof Error ? e.message : String(e);
      },
    );
    if (i % 10_000 === 0) send({ type: "progress", done: i, total: m.messages });
  }
  await win.drain(30_000);
  const windowMs = performance.now() - t0;
  if (errors > 0) throw new Error(`fill: ${errors} publish errors, first: ${firstError}`);
  return {
    rate: (m.messages * 1000) / windowMs,
    count: m.messages,
    windowMs,
    clientCpu: Number.NaN,
    errors,
    firstError,
    notes: [],
  };
}

async function pull(m: Extract<NatsMode, { kind: "pull" }>, nc: NatsConnection): Promise<NatsClientResult> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(m.stream, {
    durable_name: m.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 20_000,
  });
  const js = jetstream(nc);
  const consumer = await js.consumers.get(m.stream, m.consumer);
  let count = 0;
  let errors = 0;
  let firstError = "";
  let exhausted = false;
  const batchLat = new Samples(100_000);
  const t0 = performance.now();
  const warmEnd = t0 + m.warmupMs;
  const end = warmEnd + m.durationMs;
  const cpu = new SelfCpu();
  let windowStart = 0;
  let windowEnd = 0;
  while (performance.now() < end) {
    if (windowStart === 0 && performance.now() >= warmEnd) {
      windowStart = performance.now();
      cpu.start();
      send({ type: "window-start" });
    }
    const a = performance.now();
    const iter = await consumer.fetch({ max_messages: m.batch, expires: 2000 });
    let got = 0;
    const acks: Promise<boolean>[] = [];
    for await (const msg of iter) {
      got++;
      if (m.ackAck) acks.push(msg.ackAck());
      else msg.ack();
    }
    if (m.ackAck) {
      const r = await Promise.allSettled(acks);
      for (const x of r)
        if (x.status === "rejected" || x.value !== true) {
          errors++;
          if (!firstError)
            firstError = x.status === "rejected" ? String(x.reason) : "ackAck answered false (not confirmed)";
        }
    }
    const done = performance.now();
    if (windowStart > 0 && done <= end) {
      count += got;
      if (got > 0) batchLat.add(done - a);
      windowEnd = done;
    }
    if (got === 0) {
      exhausted = true;
      break;
    }
  }
  const clientCpu = cpu.stop();
  send({ type: "window-end" });
  await nc.flush();
  await jsm.consumers.delete(m.stream, m.consumer).catch(() => undefined);
  const windowMs = exhausted ? windowEnd - windowStart : end - windowStart;
  const notes: string[] = [];
  if (exhausted)
    notes.push(`pull: the stream ran out before the window ended (rate over ${Math.round(windowMs)} ms)`);
  if (errors > 0) notes.push(`pull: ${errors} ack errors, first: ${firstError}`);
  if (windowStart === 0)
    throw new Error("pull: the stream ran out during warm-up; fill it with more messages");
  return {
    rate: windowMs > 0 ? (count * 1000) / windowMs : Number.NaN,
    count,
    windowMs,
    latencyMs: batchLat.percentiles(),
    clientCpu,
    errors,
    firstError,
    notes,
  };
}

runMain(main);
