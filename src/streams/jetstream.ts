/**
 * JetStream-style streams on the log: a stream captures messages published to its subjects on
 * the message bus and stores each as a record of its topic (partition 0), so what NATS clients
 * publish Kafka clients read, and the other way round. It answers JetStream's JSON API
 * (`$JS.API.*` requests on the bus) for streams, and acknowledges a publish that carries a reply
 * subject with a PubAck once the commit holding the message is fsynced.
 *
 * Stream sequence = topic offset + 1. A message is one record: key = subject, value = payload,
 * headers = the NATS headers (so Nats-Msg-Id is stored with the message it names), timestamp =
 * when it was captured.
 *
 * This lives beside the engine, over its public API (topics, append, reads, stream
 * definitions) and its bus; it knows the JetStream API's JSON but no socket protocol, so any
 * adapter that publishes on the bus reaches it. Pull consumers (consumer.ts) deliver stream
 * messages with ack subjects and keep their acknowledgements in the database; push consumers
 * are not offered yet.
 *
 * Invariants:
 * 1. A PubAck (with a sequence) is sent only after the append holding the message is durable.
 * 2. A message id seen within the duplicate window is stored once; later publishes of it are
 *    answered with the first one's sequence and `duplicate: true` (dedupe.ts).
 * 3. The captures on the bus are exactly the subjects of the engine's stream definitions
 *    (sync() after every "streams-changed").
 */
import type { Engine, StreamDefinition } from "../engine/engine.js";
import { EngineError } from "../engine/errors.js";
import { decodeRecords, encodeBatch, type RecordHeader } from "../log/records.js";
import { decodeHeaders, encodeHeaders } from "../messaging/headers.js";
import type { Subscriber, Subscription } from "../messaging/types.js";
import {
  normalizeStreamConfig,
  type StreamConfig,
  StreamConfigError,
  subjectsOverlap,
  tokensOverlap,
  topicConfigsOf,
} from "./config.js";
import {
  type ConsumerConfig,
  ConsumerConfigError,
  type ConsumerHost,
  normalizeConsumerConfig,
  PullConsumer,
} from "./consumer.js";
import { DedupeWindow, MSG_ID_BYTES_MAX } from "./dedupe.js";

const API = "$JS.API.";
const TYPE = "io.nats.jetstream.api.v1.";
/** Names or infos per STREAM.NAMES / STREAM.LIST page (nats-server's page sizes). */
export const STREAM_NAMES_PAGE_MAX = 1024;
export const STREAM_LIST_PAGE_MAX = 256;
/** Bytes read per step when rebuilding a dedupe window from the log. */
const RECOVERY_READ_BYTES = 4 * 1024 * 1024;
/** How long a stream's byte count is reused by INFO answers, and how many are kept. */
const STREAM_SIZE_CACHE_MS = 1000;
const STREAM_SIZE_CACHE_ENTRIES_MAX = 10_000;
/** STREAM.LIST pages stop growing past this many bytes of JSON (at least one stream per page). */
export const STREAM_LIST_PAGE_BYTES_MAX = 1024 * 1024;
/** Subjects captured by all streams together: bounds the overlap check of a create or update. */
export const STREAM_SUBJECTS_TOTAL_MAX = 65_536;
const CONTROL_ATTRIBUTE = 0x20;
/** How often consumers expire pull requests, send heartbeats and find overdue acks. */
const CONSUMER_TICK_MS = 100;
/** Consumers per stream, and per CONSUMER.NAMES / LIST page. */
export const CONSUMERS_PER_STREAM_MAX = 10_000;
export const CONSUMER_PAGE_MAX = 256;
const EMPTY = Buffer.alloc(0);

interface ApiError {
  code: number;
  err_code: number;
  description: string;
}

interface StreamStats {
  atMs: number;
  /** The log bounds they were computed for. */
  first: number;
  end: number;
  bytes: number;
  firstTs: string;
  lastTs: string;
}

class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.description);
  }
}

const fail = (code: number, errCode: number, description: string): never => {
  throw new ApiFailure({ code, err_code: errCode, description });
};
const streamNotFound = () => fail(404, 10059, "stream not found");

/** One stream's capture: its bus subscriptions and its dedupe window. */
class Capture implements Subscriber {
  readonly echo = true;
  subs: Subscription[] = [];
  config: StreamConfig;
  configText: string;
  readonly dedupe: DedupeWindow;
  /** False until the dedupe window is rebuilt from the log; messages wait in `ready`. */
  recovered = false;
  readonly consumers = new Map<string, PullConsumer>();
  ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly js: JetStream,
    readonly def: StreamDefinition,
  ) {
    this.configText = def.config;
    this.config = JSON.parse(def.config) as StreamConfig;
    this.dedupe = new DedupeWindow(Math.max(1, this.config.duplicate_window / 1e6));
  }

  deliver(
    _sub: Subscription,
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
  ): void {
    if (this.recovered) {
      this.js.store(this, subject, reply, headers, payload);
      return;
    }
    // The bus's buffers are reused after this call: keep copies until recovery is done.
    const h = headers ? Buffer.from(headers) : undefined;
    const p = Buffer.from(payload);
    this.ready = this.ready.then(() => this.js.store(this, subject, reply, h, p));
  }

  expired(): void {}
}

export class JetStream {
  private readonly captures = new Map<string, Capture>();
  private readonly api: Subscriber;
  private readonly acks: Subscriber;
  private readonly timer: NodeJS.Timeout;
  private apiTotal = 0;
  private apiErrors = 0;
  /**
   * Stream changes (create, update, delete, purge) run one at a time, each checking against what
   * the ones before it left: two racing requests can then never both claim a subject.
   */
  private changes: Promise<unknown> = Promise.resolve();
  /** STREAM.INFO's byte count per stream, cached briefly: it is a scan of the stream's index. */
  private readonly sizeCache = new Map<string, StreamStats>();

  constructor(private readonly engine: Engine) {
    this.api = {
      echo: true,
      deliver: (_sub, subject, reply, _headers, payload) => this.onApi(subject, reply, Buffer.from(payload)),
      expired: () => {},
    };
    engine.bus.subscribe(this.api, "$JS.API", `${API}>`);
    this.acks = {
      echo: true,
      deliver: (_sub, subject, reply, _headers, payload) =>
        this.onAck(subject, reply, Buffer.from(payload).toString("utf8")),
      expired: () => {},
    };
    engine.bus.subscribe(this.acks, "$JS.ACK", "$JS.ACK.>");
    this.timer = setInterval(() => this.tick(), CONSUMER_TICK_MS);
    this.timer.unref();
    engine.on("streams-changed", () => this.sync());
    this.sync();
  }

  // ------------------------------------------------------------------ captures

  /** Makes the bus captures match the engine's stream definitions (invariant 3). */
  private sync(): void {
    const defs = new Map(this.engine.streamDefinitions().map((d) => [d.name, d]));
    for (const [name, cap] of this.captures) {
      if (defs.get(name)?.createdMs !== cap.def.createdMs) {
        for (const s of cap.subs) this.engine.bus.unsubscribe(s);
        for (const c of cap.consumers.values()) c.close();
        this.captures.delete(name);
      }
    }
    for (const def of defs.values()) {
      let cap = this.captures.get(def.name);
      if (!cap) {
        cap = new Capture(this, def);
        this.captures.set(def.name, cap);
        for (const cd of this.engine.consumerDefinitions()) {
          if (cd.stream !== def.name) continue;
          const config = JSON.parse(cd.config) as ConsumerConfig;
          cap.consumers.set(
            cd.name,
            new PullConsumer(this.consumerHost(def), config, cd.createdMs, true, cd.ackFloor, cd.acked),
          );
        }
        const c = cap;
        cap.ready = this.recover(c).then(
          () => {
            c.recovered = true;
          },
          (err) => {
            this.engine.logger?.error({ err, stream: def.name }, "stream dedupe recovery failed");
            c.recovered = true;
          },
        );
      } else if (cap.configText !== def.config) {
        cap.configText = def.config;
        cap.config = JSON.parse(def.config) as StreamConfig;
        cap.dedupe.setWindow(Math.max(1, cap.config.duplicate_window / 1e6));
      } else continue;
      for (const s of cap.subs) this.engine.bus.unsubscribe(s);
      cap.subs = [];
      try {
        for (const subject of cap.config.subjects)
          cap.subs.push(this.engine.bus.subscribe(cap, def.name, subject));
      } catch (err) {
        // The bus is full: the stream captures only what it could subscribe; say so.
        this.engine.logger?.error({ err, stream: def.name }, "stream capture incomplete");
      }
    }
  }

  /** Rebuilds a stream's dedupe window from the last duplicate_window of its log. */
  private async recover(cap: Capture): Promise<void> {
    const topic = cap.def.topic;
    const p = this.engine.partition(topic, 0);
    if (!p) return;
    const nowMs = Date.now();
    const since = nowMs - cap.config.duplicate_window / 1e6;
    let stamp = 0;
    const start = this.engine.listOffset(topic, 0, Math.max(0, Math.floor(since)), "read_committed");
    if (start.error !== "NONE" || start.offset < 0) return;
    const end = p.highWatermark;
    let offset = start.offset;
    while (offset < end) {
      const { results, release } = await this.engine.fetchMany(
        [{ topic, partition: 0, offset, maxBytes: RECOVERY_READ_BYTES }],
        RECOVERY_READ_BYTES,
        "read_committed",
      );
      const r = results[0]!;
      let next = offset;
      try {
        for (const batch of r.batches) {
          next = Math.max(next, Number(batch.readBigInt64BE(0)) + batch.readInt32BE(23) + 1);
          if (batch.readInt16BE(21) & CONTROL_ATTRIBUTE) continue;
          let records: ReturnType<typeof decodeRecords>;
          try {
            records = decodeRecords(batch);
          } catch (err) {
            // A Kafka client may have written a batch we cannot read; its ids are lost to dedupe.
            this.engine.logger?.warn(
              { err, stream: cap.def.name },
              "dedupe recovery skipped an unreadable batch",
            );
            continue;
          }
          for (const rec of records ?? []) {
            if (rec.offset < offset || rec.timestampMs < since) continue;
            const id = rec.headers.find((h) => h.key === "Nats-Msg-Id")?.value;
            if (!id || id.length === 0) continue;
            // Times kept in log order and never in the future, so expiry (oldest first) is
            // never held up by a record stamped ahead (a Kafka producer's clock).
            stamp = Math.max(stamp, Math.min(rec.timestampMs, nowMs));
            cap.dedupe.remember(id.toString("utf8"), rec.offset + 1, stamp);
          }
        }
      } finally {
        release();
      }
      if (r.error !== "NONE" || next <= offset) {
        if (next < end)
          this.engine.logger?.warn(
            { stream: cap.def.name, at: next, end, error: r.error },
            "dedupe recovery stopped early",
          );
        break;
      }
      offset = next;
    }
  }

  /** Stores one captured message and answers its PubAck (invariants 1 and 2). */
  store(
    cap: Capture,
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
  ): void {
    const name = cap.def.name;
    const ack = (body: object) => {
      if (reply !== undefined && !cap.config.no_ack) this.reply(reply, body);
    };
    const ackError = (code: number, errCode: number, description: string) =>
      ack({ error: { code, err_code: errCode, description } });
    const nowMs = Date.now();
    const decoded = headers && headers.length > 0 ? decodeHeaders(headers) : null;
    const entries = decoded?.entries ?? [];
    const header = (k: string) => entries.find(([name]) => name === k)?.[1];
    // An empty id is no id (nats-server dedupes non-empty ids only).
    const msgId = header("Nats-Msg-Id") || undefined;
    if (msgId !== undefined && Buffer.byteLength(msgId) > MSG_ID_BYTES_MAX) {
      ackError(400, 10052, `Nats-Msg-Id longer than ${MSG_ID_BYTES_MAX} bytes`);
      return;
    }
    // The id is looked up before the other checks, as nats-server does: a retry of a publish
    // that was stored is a duplicate, whatever its expectations say now.
    if (msgId !== undefined) {
      const prior = cap.dedupe.lookup(msgId, nowMs);
      if (prior !== undefined) {
        // If the first one fails to commit after all, this one is stored instead; the bus's
        // buffers are reused after this call, so that retry gets copies.
        const h = headers && Buffer.from(headers);
        const pl = Buffer.from(payload);
        Promise.resolve(prior).then(
          (seq) => ack({ stream: name, seq, duplicate: true }),
          () => this.store(cap, subject, reply, h, pl),
        );
        return;
      }
    }
    const p = this.engine.partition(cap.def.topic, 0);
    const problem = publishProblem(cap, header, payload.length, p?.nextOffset);
    if (problem) {
      ackError(...problem);
      return;
    }
    const kafkaHeaders: RecordHeader[] = entries.map(([key, value]) => ({
      key,
      value: Buffer.from(value, "utf8"),
    }));
    const batch = encodeBatch({
      records: [
        {
          key: Buffer.from(subject, "utf8"),
          value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          headers: kafkaHeaders,
          timestampMs: nowMs,
        },
      ],
      nowMs,
    });
    let pending: Promise<number>;
    try {
      pending = this.engine.append(cap.def.topic, 0, batch).then((r) => r.baseOffset + 1);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (msgId !== undefined) cap.dedupe.remember(msgId, pending, nowMs);
    pending.then(
      (seq) => {
        if (msgId !== undefined) cap.dedupe.settle(msgId, pending, seq);
        ack({ stream: name, seq });
        for (const c of cap.consumers.values()) c.poke();
      },
      (err) => {
        if (msgId !== undefined) cap.dedupe.forget(msgId, pending);
        ackError(503, 10077, `message not stored: ${(err as Error).message}`);
      },
    );
  }

  // ------------------------------------------------------------------ the API

  private reply(subject: string, body: object): void {
    this.engine.bus.publish(subject, undefined, undefined, Buffer.from(JSON.stringify(body)));
  }

  private onApi(subject: string, reply: string | undefined, payload: Buffer): void {
    if (reply === undefined) return;
    this.apiTotal++;
    const op = subject.slice(API.length);
    if (op.startsWith("CONSUMER.MSG.NEXT.")) {
      this.pullNext(op.split("."), reply, payload);
      return;
    }
    const kind = apiKind(op);
    this.handle(op, payload).then(
      (body) => this.reply(reply, { type: `${TYPE}${kind}_response`, ...body }),
      (err) => {
        this.apiErrors++;
        const error: ApiError =
          err instanceof ApiFailure
            ? err.error
            : err instanceof StreamConfigError
              ? { code: 400, err_code: err.errCode, description: err.message }
              : { code: 500, err_code: 10000, description: (err as Error).message };
        if (!(err instanceof ApiFailure || err instanceof StreamConfigError))
          this.engine.logger?.error({ err, op }, "JetStream API request failed");
        this.reply(reply, { type: `${TYPE}${kind}_response`, error });
      },
    );
  }

  private async handle(op: string, payload: Buffer): Promise<object> {
    const body = parseBody(payload);
    const [a, b, c, d] = op.split(".");
    if (op === "INFO") return this.accountInfo();
    if (a === "STREAM") {
      if (b === "NAMES") return this.streamNames(body);
      if (b === "LIST") return this.streamList(body);
      if (c === undefined || (d !== undefined && b !== "MSG")) fail(400, 10003, "bad request");
      if (b === "CREATE") return this.serially(() => this.createStream(c!, body));
      if (b === "UPDATE") return this.serially(() => this.updateStream(c!, body));
      if (b === "INFO") return this.streamInfo(c!);
      if (b === "DELETE") return this.serially(() => this.deleteStream(c!));
      if (b === "PURGE") return this.serially(() => this.purgeStream(c!, body));
      if (b === "MSG" && c === "GET" && d !== undefined) return this.getMessage(d, body);
    }
    if (a === "CONSUMER") return this.consumerApi(op.split(".").slice(1), body);
    return fail(400, 10003, `unknown JetStream API request '${op}'`);
  }

  // ------------------------------------------------------------------ consumers

  private consumerHost(def: StreamDefinition): ConsumerHost {
    return { engine: this.engine, stream: def.name, topic: def.topic };
  }

  private capture(stream: string | undefined): Capture {
    return (stream !== undefined ? this.captures.get(stream) : undefined) ?? streamNotFound();
  }

  private consumerApi(t: string[], body: unknown): Promise<object> | object {
    const [verb, stream, name, filter] = t;
    switch (verb) {
      case "CREATE":
        return this.serially(() => this.createConsumer(stream, name, filter, body));
      case "DURABLE":
        if (stream !== "CREATE") break;
        return this.serially(() => this.createConsumer(name, filter, undefined, body, true));
      case "INFO":
        return this.consumerOf(stream, name).info();
      case "DELETE":
        return this.serially(() => this.deleteConsumer(stream, name));
      case "NAMES":
      case "LIST": {
        const cap = this.capture(stream);
        const all = [...cap.consumers.values()].sort((x, y) => x.name.localeCompare(y.name));
        const req = (body ?? {}) as { offset?: unknown };
        const offset = typeof req.offset === "number" && req.offset > 0 ? req.offset : 0;
        const page = all.slice(offset, offset + CONSUMER_PAGE_MAX);
        return {
          total: all.length,
          offset,
          limit: CONSUMER_PAGE_MAX,
          consumers: verb === "NAMES" ? page.map((c) => c.name) : page.map((c) => c.info()),
        };
      }
    }
    return fail(400, 10003, `unknown JetStream API request 'CONSUMER.${t.join(".")}'`);
  }

  private consumerOf(stream: string | undefined, name: string | undefined): PullConsumer {
    const cap = this.capture(stream);
    return (
      (name !== undefined ? cap.consumers.get(name) : undefined) ?? fail(404, 10014, "consumer not found")
    );
  }

  private async createConsumer(
    stream: string | undefined,
    name: string | undefined,
    filter: string | undefined,
    body: unknown,
    durableApi = false,
  ): Promise<object> {
    const cap = this.capture(stream);
    const req = (body ?? {}) as { stream_name?: unknown; config?: unknown; action?: unknown };
    if (req.stream_name !== undefined && req.stream_name !== stream)
      fail(400, 10003, "stream name in subject does not match request");
    let config: ConsumerConfig;
    try {
      const raw = { ...((req.config ?? {}) as object) } as Record<string, unknown>;
      if (durableApi && raw.durable_name === undefined) raw.durable_name = name;
      if (filter !== undefined && raw.filter_subject === undefined && raw.filter_subjects === undefined)
        raw.filter_subject = filter;
      config = normalizeConsumerConfig(raw, name);
    } catch (err) {
      if (err instanceof ConsumerConfigError) fail(400, err.errCode, err.message);
      throw err;
    }
    const existing = cap.consumers.get(config.name);
    if (existing) {
      if (req.action === "create" && JSON.stringify(existing.config) !== JSON.stringify(config))
        fail(400, 10148, "consumer already exists");
      if (JSON.stringify(existing.config) !== JSON.stringify(config))
        fail(400, 10012, "consumer configuration update is not offered: delete it and create it again");
      return existing.info();
    }
    if (req.action === "update") fail(404, 10149, "consumer does not exist");
    if (cap.config.max_consumers > 0 && cap.consumers.size >= cap.config.max_consumers)
      fail(400, 10026, "maximum consumers limit reached");
    if (cap.consumers.size >= CONSUMERS_PER_STREAM_MAX)
      fail(400, 10026, `maximum consumers limit reached (${CONSUMERS_PER_STREAM_MAX})`);
    const floor = this.startFloor(cap, config);
    const durable = config.durable_name !== undefined;
    const createdMs = Date.now();
    if (durable) {
      await this.engine
        .createConsumer(cap.def.name, config.name, JSON.stringify(config), floor)
        .catch(engineFailure);
      if (this.captures.get(cap.def.name) !== cap) streamNotFound();
    }
    const c = new PullConsumer(this.consumerHost(cap.def), config, createdMs, durable, floor, []);
    cap.consumers.set(config.name, c);
    // A push consumer starts delivering as soon as something listens on its subject.
    setImmediate(() => c.poke());
    return c.info();
  }

  /** The ack floor a new consumer starts from, by its deliver policy. */
  private startFloor(cap: Capture, config: ConsumerConfig): number {
    const p = this.engine.partition(cap.def.topic, 0) ?? streamNotFound();
    switch (config.deliver_policy) {
      case "all":
        return p.logStartOffset;
      case "new":
        return p.lastStableOffset;
      case "last":
        return Math.max(p.logStartOffset, p.lastStableOffset - 1);
      case "by_start_sequence":
        return Math.max(p.logStartOffset, (config.opt_start_seq ?? 1) - 1);
      case "by_start_time": {
        const at = this.engine.listOffset(
          cap.def.topic,
          0,
          Date.parse(config.opt_start_time!),
          "read_committed",
        );
        return at.offset >= 0 ? at.offset : p.lastStableOffset;
      }
    }
  }

  private async deleteConsumer(stream: string | undefined, name: string | undefined): Promise<object> {
    const cap = this.capture(stream);
    const c = this.consumerOf(stream, name);
    cap.consumers.delete(c.name);
    c.close();
    if (c.durable) await this.engine.deleteConsumer(cap.def.name, c.name).catch(engineFailure);
    return { success: true };
  }

  private pullNext(t: string[], reply: string, payload: Buffer): void {
    // CONSUMER.MSG.NEXT.<stream>.<consumer>: answered with messages or a status, not a response.
    const c = this.captures.get(t[3] ?? "")?.consumers.get(t[4] ?? "");
    if (!c || t.length !== 5) {
      // Nothing answers for a consumer that does not exist, as with nats-server: no responders.
      const headers = encodeHeaders({ status: 503, entries: [] });
      this.engine.bus.publish(reply, undefined, headers, Buffer.alloc(0));
      return;
    }
    let body: unknown;
    const text = payload.toString("utf8").trim();
    try {
      body = text.length === 0 ? 1 : JSON.parse(text);
    } catch {
      body = null;
    }
    c.pull(reply, body);
  }

  /** `$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<ts>.<pending>`. */
  private onAck(subject: string, reply: string | undefined, body: string): void {
    const t = subject.split(".");
    const confirm =
      reply === undefined
        ? undefined
        : () => this.engine.bus.publish(reply, undefined, undefined, Buffer.alloc(0));
    const c = t.length === 9 ? this.captures.get(t[2]!)?.consumers.get(t[3]!) : undefined;
    const seq = Number(t[5]);
    if (!c || !Number.isSafeInteger(seq) || seq < 1) {
      confirm?.();
      return;
    }
    c.ack(seq, body, confirm);
  }

  private tick(): void {
    const now = Date.now();
    for (const cap of this.captures.values()) {
      for (const c of cap.consumers.values()) {
        c.tick(now);
        const idleNs = c.config.inactive_threshold;
        if (!c.durable && idleNs && c.waitingCount === 0 && now - c.lastActiveMs > idleNs / 1e6) {
          cap.consumers.delete(c.name);
          c.close();
        }
      }
    }
  }

  /** Stops the timer (the engine is closing). */
  close(): void {
    clearInterval(this.timer);
  }

  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.then(change);
    this.changes = run.catch(() => undefined);
    return run;
  }

  private accountInfo(): object {
    const defs = this.engine.streamDefinitions();
    let storage = 0;
    for (const d of defs) storage += this.streamBytes(d);
    return {
      memory: 0,
      storage,
      streams: defs.length,
      consumers: [...this.captures.values()].reduce((n, c) => n + c.consumers.size, 0),
      limits: {
        max_memory: -1,
        max_storage: -1,
        max_streams: -1,
        max_consumers: -1,
        max_ack_pending: -1,
        memory_max_stream_bytes: -1,
        storage_max_stream_bytes: -1,
        max_bytes_required: false,
      },
      api: { total: this.apiTotal, errors: this.apiErrors },
    };
  }

  private async createStream(name: string, body: unknown): Promise<object> {
    const config = normalizeStreamConfig(body);
    if (config.name !== name) fail(400, 10056, "stream name in subject does not match request");
    const text = JSON.stringify(config);
    const existing = this.engine.streamDefinition(name);
    if (existing) {
      if (existing.config !== text)
        fail(400, 10058, "stream name already in use with a different configuration");
      return this.info(existing);
    }
    if (this.engine.topic(name)) fail(400, 10058, `stream name already in use by a Kafka topic '${name}'`);
    this.checkOverlap(config, name);
    const def = await this.engine.createStream(name, text, topicConfigsOf(config)).catch(engineFailure);
    return { ...this.info(def), did_create: true };
  }

  private async updateStream(name: string, body: unknown): Promise<object> {
    const config = normalizeStreamConfig(body);
    if (config.name !== name) fail(400, 10056, "stream name in subject does not match request");
    const existing = this.engine.streamDefinition(name) ?? streamNotFound();
    this.checkOverlap(config, name);
    const before = JSON.parse(existing.config) as StreamConfig;
    if (before.storage !== config.storage)
      fail(500, 10052, "stream configuration update can not change storage type");
    await this.engine.updateStream(name, JSON.stringify(config), topicConfigsOf(config)).catch(engineFailure);
    return this.info(this.engine.streamDefinition(name) ?? streamNotFound());
  }

  /**
   * No subject may be captured by two streams (it would be stored twice). All pairs are
   * compared, on subjects split once; STREAM_SUBJECTS_MAX and STREAM_SUBJECTS_TOTAL_MAX bound
   * the work one request can cause.
   */
  private checkOverlap(config: StreamConfig, self: string): void {
    const mine = config.subjects.map((s) => s.split("."));
    let total = mine.length;
    for (const cap of this.captures.values()) {
      if (cap.def.name === self) continue;
      total += cap.config.subjects.length;
      if (total > STREAM_SUBJECTS_TOTAL_MAX)
        fail(400, 10052, `streams capture more than ${STREAM_SUBJECTS_TOTAL_MAX} subjects in all`);
      for (const theirs of cap.config.subjects) {
        const t = theirs.split(".");
        if (mine.some((m) => tokensOverlap(m, t)))
          fail(400, 10065, "subjects overlap with an existing stream");
      }
    }
  }

  private streamInfo(name: string): object {
    return this.info(this.engine.streamDefinition(name) ?? streamNotFound());
  }

  private async deleteStream(name: string): Promise<object> {
    if (!this.engine.streamDefinition(name)) streamNotFound();
    await this.engine.deleteStream(name).catch(engineFailure);
    return { success: true };
  }

  private async purgeStream(name: string, body: unknown): Promise<object> {
    const def = this.engine.streamDefinition(name) ?? streamNotFound();
    const cfg = JSON.parse(def.config) as StreamConfig;
    if (cfg.deny_purge) fail(400, 10052, "stream purge is not permitted");
    const req = (body ?? {}) as { filter?: unknown; seq?: unknown; keep?: unknown };
    if (req.filter !== undefined || req.keep !== undefined)
      fail(400, 10052, "purge by filter or keep is not offered: a log purges a prefix (seq)");
    const p = this.engine.partition(def.topic, 0) ?? streamNotFound();
    const before = p.logStartOffset;
    // Purging up to (not including) seq N moves the log start to offset N-1.
    if (req.seq !== undefined && (!Number.isSafeInteger(req.seq) || (req.seq as number) < 0))
      fail(400, 10003, "bad request: seq must be a non-negative integer");
    const seq = (req.seq as number | undefined) ?? 0;
    const to = seq > 0 ? Math.min(seq - 1, p.highWatermark) : -1;
    await this.engine.deleteRecords(def.topic, 0, to).catch(engineFailure);
    return { success: true, purged: Math.max(0, p.logStartOffset - before) };
  }

  private getMessage(name: string, body: unknown): object {
    const def = this.engine.streamDefinition(name) ?? streamNotFound();
    const req = (body ?? {}) as { seq?: unknown; last_by_subj?: unknown; next_by_subj?: unknown };
    if (req.last_by_subj !== undefined || req.next_by_subj !== undefined)
      fail(400, 10052, "message lookups by subject are not offered yet: get by seq");
    if (typeof req.seq !== "number" || !Number.isSafeInteger(req.seq) || req.seq < 1)
      fail(400, 10003, "bad request: a seq is required");
    const offset = (req.seq as number) - 1;
    // Committed data only: nothing past the last stable offset, no transaction markers.
    const p = this.engine.partition(def.topic, 0);
    if (!p || offset >= p.lastStableOffset) fail(404, 10037, "no message found");
    for (const batch of this.engine.readBatchesNow(def.topic, 0, offset, 1)) {
      if (batch.readInt16BE(21) & CONTROL_ATTRIBUTE) continue;
      const rec = decodeRecords(batch)?.find((r) => r.offset === offset);
      if (!rec) continue;
      const hdrs = rec.headers.filter((h) => h.value !== null);
      const hdrBlock = hdrs.length
        ? Buffer.from(
            `NATS/1.0\r\n${hdrs.map((h) => `${h.key}: ${h.value!.toString("utf8")}\r\n`).join("")}\r\n`,
          )
        : undefined;
      return {
        message: {
          subject: rec.key?.toString("utf8") ?? "",
          seq: req.seq,
          ...(hdrBlock ? { hdrs: hdrBlock.toString("base64") } : {}),
          data: (rec.value ?? EMPTY).toString("base64"),
          time: new Date(rec.timestampMs).toISOString(),
        },
      };
    }
    return fail(404, 10037, "no message found");
  }

  private streamNames(body: unknown): object {
    const req = (body ?? {}) as { offset?: unknown; subject?: unknown };
    let defs = this.engine.streamDefinitions().sort((x, y) => x.name.localeCompare(y.name));
    if (typeof req.subject === "string" && req.subject.length > 0) {
      const subject = req.subject;
      defs = defs.filter((d) =>
        (JSON.parse(d.config) as StreamConfig).subjects.some((s) => subjectsOverlap(s, subject)),
      );
    }
    const offset = typeof req.offset === "number" && req.offset > 0 ? req.offset : 0;
    const page = defs.slice(offset, offset + STREAM_NAMES_PAGE_MAX);
    return { total: defs.length, offset, limit: STREAM_NAMES_PAGE_MAX, streams: page.map((d) => d.name) };
  }

  private streamList(body: unknown): object {
    const req = (body ?? {}) as { offset?: unknown };
    const defs = this.engine.streamDefinitions().sort((x, y) => x.name.localeCompare(y.name));
    const offset = typeof req.offset === "number" && req.offset > 0 ? req.offset : 0;
    const streams: object[] = [];
    let bytes = 0;
    for (const d of defs.slice(offset, offset + STREAM_LIST_PAGE_MAX)) {
      const info = this.info(d);
      bytes += JSON.stringify(info).length;
      if (streams.length > 0 && bytes > STREAM_LIST_PAGE_BYTES_MAX) break;
      streams.push(info);
    }
    return { total: defs.length, offset, limit: streams.length, streams };
  }

  /**
   * A stream's byte count and first/last message times. Computing them scans the stream's index,
   * so they are kept while the log's bounds are unchanged (and for at most a second after).
   */
  private streamStats(def: StreamDefinition): StreamStats {
    const now = Date.now();
    const p = this.engine.partition(def.topic, 0);
    const first = p?.logStartOffset ?? 0;
    const end = p?.highWatermark ?? 0;
    const hit = this.sizeCache.get(def.name);
    if (hit && hit.first === first && hit.end === end && now - hit.atMs < STREAM_SIZE_CACHE_MS) return hit;
    const zero = "0001-01-01T00:00:00Z";
    const stats: StreamStats = { atMs: now, first, end, bytes: 0, firstTs: zero, lastTs: zero };
    if (p && end > first) {
      stats.bytes = this.engine.partitionSizeBytes(p);
      const head = this.engine.readBatchesNow(def.topic, 0, first, 1)[0];
      const tail = this.engine.readBatchesNow(def.topic, 0, end - 1, 1)[0];
      if (head) stats.firstTs = new Date(Number(head.readBigInt64BE(27))).toISOString();
      if (tail) stats.lastTs = new Date(Number(tail.readBigInt64BE(35))).toISOString();
    }
    if (this.sizeCache.size > STREAM_SIZE_CACHE_ENTRIES_MAX) this.sizeCache.clear();
    this.sizeCache.set(def.name, stats);
    return stats;
  }

  private streamBytes(def: StreamDefinition): number {
    return this.streamStats(def).bytes;
  }

  /** A StreamInfo: config, creation time and state (sequences are offsets + 1). */
  private info(def: StreamDefinition): object {
    const p = this.engine.partition(def.topic, 0);
    const first = p ? p.logStartOffset : 0;
    const last = p ? p.highWatermark : 0;
    const stats = this.streamStats(def);
    return {
      config: JSON.parse(def.config),
      created: new Date(def.createdMs).toISOString(),
      ts: new Date().toISOString(),
      state: {
        messages: last - first,
        bytes: stats.bytes,
        first_seq: last === 0 ? 0 : first + 1,
        first_ts: stats.firstTs,
        last_seq: last,
        last_ts: stats.lastTs,
        consumer_count: this.captures.get(def.name)?.consumers.size ?? 0,
      },
    };
  }
}

/** Why a publish to `cap`'s stream is refused: [code, err_code, description], or null. */
function publishProblem(
  cap: Capture,
  header: (name: string) => string | undefined,
  payloadBytes: number,
  nextOffset: number | undefined,
): [number, number, string] | null {
  if (nextOffset === undefined) return [503, 10077, "stream's topic is gone"];
  const expectedStream = header("Nats-Expected-Stream");
  if (expectedStream !== undefined && expectedStream !== cap.def.name)
    return [400, 10060, "expected stream does not match"];
  // The last sequence is the next offset: sequences are offsets + 1.
  const expectedLast = header("Nats-Expected-Last-Sequence");
  if (expectedLast !== undefined && Number(expectedLast) !== nextOffset)
    return [400, 10071, `wrong last sequence: ${nextOffset}`];
  for (const unsupported of ["Nats-Expected-Last-Msg-Id", "Nats-Expected-Last-Subject-Sequence"])
    if (header(unsupported) !== undefined) return [400, 10052, `${unsupported} is not offered yet`];
  if (cap.config.max_msg_size > 0 && payloadBytes > cap.config.max_msg_size)
    return [400, 10054, "message size exceeds maximum allowed"];
  if (header("Nats-Rollup") !== undefined) return [400, 10052, "rollups are not offered"];
  return null;
}

/** The API kind in a response's `type` (stream_create, account_info, ...). */
function apiKind(op: string): string {
  if (op === "INFO") return "account_info";
  const [a, b, c] = op.split(".");
  if (a === "STREAM" && b === "MSG") return `stream_msg_${(c ?? "get").toLowerCase()}`;
  return `${(a ?? "").toLowerCase()}_${(b ?? "").toLowerCase()}`;
}

function parseBody(payload: Buffer): unknown {
  if (payload.length === 0) return undefined;
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return fail(400, 10025, "invalid JSON");
  }
}

function engineFailure(err: unknown): never {
  if (err instanceof EngineError) return fail(500, 10077, `${err.code}: ${err.message}`);
  throw err;
}
