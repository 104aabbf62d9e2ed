/**
 * A JetStream consumer of a stream. Pull: clients ask for batches (`CONSUMER.MSG.NEXT`), get
 * messages with an ack subject each, and acknowledge them (`$JS.ACK...`). Push (a
 * deliver_subject): the same machinery with one standing request to that subject, present while
 * something is subscribed there. Acknowledgements are
 * committed to the database (engine.recordConsumerAcks) before an ack that asked for
 * confirmation (a double ack) is answered, so an acknowledged message is never delivered again,
 * even after a crash; an unacknowledged one is delivered again after ack_wait (and after a
 * restart), so none is lost.
 *
 * State (stream sequences; seq = offset + 1):
 * - `next`: the next sequence not yet considered for delivery.
 * - `pending`: delivered and not acknowledged, in delivery order (a Map keeps insertion order,
 *   and first deliveries go in sequence order, so its first key is the smallest).
 * - ack floor = (smallest pending) - 1, or next - 1 when nothing is pending: every sequence at or
 *   below it is acknowledged or was never for this consumer (filtered out).
 * - `ackedAbove`: acknowledged above the floor (out of order); stored, so a restart that
 *   resumes from the floor skips them.
 *
 * Invariants:
 * 1. A message is in at most one of: pending, ackedAbove.
 * 2. floor < every pending sequence; ackedAbove holds only sequences > floor (pruned when the
 *    floor passes them, never when a read skips them: a cursor moved back must skip them again).
 * 3. At most max_ack_pending messages are pending; past it nothing new is delivered.
 * 4. `next` moves past a sequence only once its message was delivered, or was acked, filtered
 *    out, aborted or a transaction marker: a message that cannot be read stops the consumer
 *    (logged) rather than being skipped.
 */
import { randomBytes } from "node:crypto";
import type { Engine } from "../engine/engine.js";
import { decodeRecords } from "../log/records.js";
import { encodeHeaders } from "../messaging/headers.js";
import { isValidPublishSubject, subjectMatches, subjectProblem } from "../messaging/subject.js";
import { assert } from "../util/assert.js";

/** nats-server's defaults. */
export const ACK_WAIT_NS_DEFAULT = 30e9;
export const MAX_ACK_PENDING_DEFAULT = 1000;
export const MAX_WAITING_DEFAULT = 512;
/** Messages one pull request may ask for (nats-server leaves it unlimited unless configured). */
export const PULL_BATCH_MAX = 100_000;
/**
 * Caps on what a config may ask (-1, "unlimited" in NATS, means the cap): pending deliveries are
 * kept in memory, and so are waiting pull requests.
 */
export const MAX_ACK_PENDING_MAX = 100_000;
export const MAX_WAITING_MAX = 10_000;
/** Bytes read from the log per read (on the main thread: keep it small). */
const READ_BYTES = 256 * 1024;
/** Bytes scanned per event-loop turn (a filter that matches little must not hold the thread). */
const SCAN_BYTES_PER_TURN = 1024 * 1024;
/** Retry delay after a failed ack commit. */
const SAVE_RETRY_MS = 1000;
const CONTROL_ATTRIBUTE = 0x20;
const TRANSACTIONAL_ATTRIBUTE = 0x10;

export interface ConsumerConfig {
  name: string;
  durable_name?: string;
  description?: string;
  deliver_policy: "all" | "new" | "last" | "by_start_sequence" | "by_start_time";
  opt_start_seq?: number;
  opt_start_time?: string;
  ack_policy: "explicit" | "none" | "all";
  ack_wait: number;
  max_deliver: number;
  filter_subject?: string;
  filter_subjects?: string[];
  replay_policy: "instant";
  max_waiting: number;
  max_ack_pending: number;
  num_replicas: number;
  inactive_threshold?: number;
  /** Push consumers: where messages go, the queue group there, the idle heartbeat (ns). */
  deliver_subject?: string;
  deliver_group?: string;
  idle_heartbeat?: number;
  flow_control?: boolean;
}

export class ConsumerConfigError extends Error {
  constructor(
    readonly errCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Checks a CONSUMER.CREATE config and fills nats-server's defaults; `name` from the subject. */
export function normalizeConsumerConfig(raw: unknown, name: string | undefined): ConsumerConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new ConsumerConfigError(10003, "bad request: a consumer config is required");
  const r = raw as Record<string, unknown>;
  const bad = (why: string, code = 10052): never => {
    throw new ConsumerConfigError(code, why);
  };
  const durable =
    typeof r.durable_name === "string" && r.durable_name.length > 0 ? r.durable_name : undefined;
  const given = typeof r.name === "string" && r.name.length > 0 ? r.name : undefined;
  if (durable && given && durable !== given)
    bad("consumer name in subject does not match durable name in request");
  // An ephemeral consumer created without a name gets one, as nats-server does.
  const resolved = name ?? given ?? durable ?? randomBytes(8).toString("hex").toUpperCase();
  if (name && (given ?? durable) && name !== (given ?? durable))
    bad("consumer name in subject does not match name in request", 10057);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(resolved!))
    bad("consumer name may contain only ASCII letters, digits, '_' and '-'");
  const push = typeof r.deliver_subject === "string" && r.deliver_subject.length > 0;
  if (push && !isValidPublishSubject(r.deliver_subject as string))
    bad(`invalid deliver subject '${String(r.deliver_subject)}'`);
  const ackPolicy = (r.ack_policy ?? "explicit") as string;
  if (!["explicit", "none", "all"].includes(ackPolicy)) bad(`unknown ack_policy '${ackPolicy}'`);
  const deliver = (r.deliver_policy ?? "all") as string;
  if (!["all", "new", "last", "by_start_sequence", "by_start_time"].includes(deliver))
    bad(`deliver_policy '${deliver}' is not offered`);
  if (
    deliver === "by_start_sequence" &&
    !(Number.isSafeInteger(r.opt_start_seq) && (r.opt_start_seq as number) > 0)
  )
    bad("consumer deliver policy by_start_sequence needs opt_start_seq");
  if (
    deliver === "by_start_time" &&
    (typeof r.opt_start_time !== "string" || Number.isNaN(Date.parse(r.opt_start_time)))
  )
    bad("consumer deliver policy by_start_time needs opt_start_time");
  if (r.replay_policy !== undefined && r.replay_policy !== "instant")
    bad("only replay_policy instant is offered");
  if (typeof r.num_replicas === "number" && r.num_replicas > 1)
    bad("replicas > 1 not supported in non-clustered mode", 10074);
  // mem_storage (ordered consumers ask for it) is taken and ignored: the state is in the database,
  // which is more than was asked.
  if (r.headers_only === true) bad("headers_only is not offered");
  // flow_control (ordered consumers ask for it) is taken: the server never sends flow-control
  // requests, which the protocol allows; push consumers are paced by max_ack_pending instead.
  if (r.flow_control === true && !push) bad("flow control is for push consumers");
  if (!push && r.idle_heartbeat) bad("idle heartbeats are for push consumers", 10088);
  if (!push && r.deliver_group) bad("deliver_group is for push consumers");
  const filters: string[] = [];
  if (typeof r.filter_subject === "string" && r.filter_subject.length > 0) filters.push(r.filter_subject);
  if (Array.isArray(r.filter_subjects))
    for (const f of r.filter_subjects) if (typeof f === "string") filters.push(f);
  for (const f of filters) if (subjectProblem(f, "subscribe")) bad(`invalid filter subject '${f}'`);
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : d);
  const config: ConsumerConfig = {
    name: resolved!,
    deliver_policy: deliver as ConsumerConfig["deliver_policy"],
    ack_policy: ackPolicy as ConsumerConfig["ack_policy"],
    ack_wait: num(r.ack_wait, ACK_WAIT_NS_DEFAULT),
    max_deliver: typeof r.max_deliver === "number" && r.max_deliver > 0 ? r.max_deliver : -1,
    replay_policy: "instant",
    max_waiting:
      r.max_waiting === -1
        ? MAX_WAITING_MAX
        : Math.min(num(r.max_waiting, MAX_WAITING_DEFAULT), MAX_WAITING_MAX),
    max_ack_pending:
      r.max_ack_pending === -1
        ? MAX_ACK_PENDING_MAX
        : Math.min(num(r.max_ack_pending, MAX_ACK_PENDING_DEFAULT), MAX_ACK_PENDING_MAX),
    num_replicas: 0,
  };
  if (durable) config.durable_name = durable;
  if (typeof r.description === "string") config.description = r.description;
  if (deliver === "by_start_sequence") config.opt_start_seq = r.opt_start_seq as number;
  if (deliver === "by_start_time") config.opt_start_time = r.opt_start_time as string;
  if (filters.length === 1) config.filter_subject = filters[0];
  else if (filters.length > 1) config.filter_subjects = filters;
  if (!durable) config.inactive_threshold = num(r.inactive_threshold, 5e9);
  if (push) {
    config.deliver_subject = r.deliver_subject as string;
    if (typeof r.deliver_group === "string" && r.deliver_group.length > 0)
      config.deliver_group = r.deliver_group;
    if (typeof r.idle_heartbeat === "number" && r.idle_heartbeat > 0)
      config.idle_heartbeat = r.idle_heartbeat;
  }
  return config;
}

interface PullRequest {
  readonly reply: string;
  remaining: number;
  /** Bytes it may still take; 0 = no byte limit. */
  remainingBytes: number;
  readonly byteLimited: boolean;
  readonly expiresAtMs: number;
  readonly heartbeatMs: number;
  lastSentMs: number;
}

interface Pending {
  deliveries: number;
  cseq: number;
  /** The consumer sequence of its first delivery (what the ack floor reports). */
  firstCseq: number;
  deadlineMs: number;
  /** In the redeliver queue (so a second NAK or timeout does not queue it twice). */
  queued: boolean;
}

/** A message ready to go out (read from the log). */
interface Ready {
  seq: number;
  subject: string;
  headers: Uint8Array | undefined;
  payload: Buffer;
  timestampMs: number;
}

export interface ConsumerHost {
  readonly engine: Engine;
  readonly stream: string;
  readonly topic: string;
}

const HEADER_NAME = /^[^\r\n:]+$/;
const HEADER_VALUE = /^[^\r\n]*$/;

/** A record's headers as a NATS header block; entries NATS cannot carry (CR, LF) are dropped. */
function natsHeaders(headers: readonly { key: string; value: Buffer | null }[]): Uint8Array | undefined {
  const entries: [string, string][] = [];
  for (const h of headers) {
    if (h.value === null) continue;
    const v = h.value.toString("utf8");
    if (HEADER_NAME.test(h.key) && HEADER_VALUE.test(v)) entries.push([h.key, v]);
  }
  return entries.length > 0 ? encodeHeaders({ entries }) : undefined;
}

export class PullConsumer {
  next: number;
  /** Last consumer (delivery) sequence handed out. */
  cseq = 0;
  readonly pending = new Map<number, Pending>();
  readonly ackedAbove = new Set<number>();
  /** Sequences whose ack_wait passed (or were NAKed), to deliver again before new ones. */
  private redeliver: number[] = [];
  private readonly waiting: PullRequest[] = [];
  private delivering = false;
  /** Acks waiting for the next commit, and the confirmations that wait on it. */
  private unsaved: number[] = [];
  private floorSaved: number;
  private saveWaiters: (() => void)[] = [];
  private saving = false;
  /** Set when a message cannot be read: the consumer stops there (logged once). */
  private stuckAt = 0;
  lastActiveMs = Date.now();
  deleted = false;

  constructor(
    private readonly host: ConsumerHost,
    readonly config: ConsumerConfig,
    readonly createdMs: number,
    readonly durable: boolean,
    ackFloor: number,
    acked: readonly number[],
  ) {
    this.next = ackFloor + 1;
    this.floorSaved = ackFloor;
    for (const s of acked) if (s > ackFloor) this.ackedAbove.add(s);
  }

  get name(): string {
    return this.config.name;
  }

  get ackFloor(): number {
    const first = this.pending.keys().next();
    return first.done ? this.next - 1 : first.value - 1;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Messages in the stream not yet delivered (filtered ones included: an estimate). */
  numPending(): number {
    const p = this.host.engine.partition(this.host.topic, 0);
    return p ? Math.max(0, p.lastStableOffset + 1 - this.next) : 0;
  }

  info(): object {
    const floor = this.ackFloor;
    const firstPending = this.pending.values().next();
    let redelivered = 0;
    for (const p of this.pending.values()) if (p.deliveries > 1) redelivered++;
    return {
      stream_name: this.host.stream,
      name: this.name,
      created: new Date(this.createdMs).toISOString(),
      config: this.config,
      delivered: { consumer_seq: this.cseq, stream_seq: this.next - 1 },
      ack_floor: {
        consumer_seq: firstPending.done ? this.cseq : firstPending.value.firstCseq - 1,
        stream_seq: floor,
      },
      num_ack_pending: this.pending.size,
      // Redelivered messages still waiting for an ack, as nats-server counts them.
      num_redelivered: redelivered,
      num_waiting: this.waiting.length,
      num_pending: this.numPending(),
      ts: new Date().toISOString(),
    };
  }

  // ------------------------------------------------------------------ pull requests

  /** A MSG.NEXT request; answers with messages to `reply`, or a status. */
  pull(reply: string, body: unknown): void {
    this.lastActiveMs = Date.now();
    let batch = 1;
    let expiresNs = 0;
    let noWait = false;
    let maxBytes = 0;
    let heartbeatNs = 0;
    if (typeof body === "number") batch = body;
    else if (body && typeof body === "object") {
      const b = body as Record<string, unknown>;
      if (typeof b.batch === "number") batch = b.batch;
      if (typeof b.expires === "number") expiresNs = b.expires;
      noWait = b.no_wait === true;
      if (typeof b.max_bytes === "number") maxBytes = b.max_bytes;
      if (typeof b.idle_heartbeat === "number") heartbeatNs = b.idle_heartbeat;
    }
    const refused: [number, string] | null =
      this.config.deliver_subject !== undefined
        ? [409, "Consumer is push based"]
        : !Number.isSafeInteger(batch) || batch < 1
          ? [400, "Bad Request"]
          : batch > PULL_BATCH_MAX
            ? [409, `Exceeded MaxRequestBatch of ${PULL_BATCH_MAX}`]
            : this.waiting.length >= this.config.max_waiting
              ? [409, "Exceeded MaxWaiting"]
              : null;
    if (refused) {
      this.status(reply, ...refused);
      return;
    }
    const now = Date.now();
    const req: PullRequest = {
      reply,
      remaining: batch,
      remainingBytes: Math.max(maxBytes, 0),
      byteLimited: maxBytes > 0,
      expiresAtMs: expiresNs > 0 ? now + expiresNs / 1e6 : noWait ? now : Number.POSITIVE_INFINITY,
      heartbeatMs: heartbeatNs > 0 ? heartbeatNs / 1e6 : 0,
      lastSentMs: now,
    };
    this.waiting.push(req);
    this.deliver(noWait ? req : undefined);
  }

  /** Timer tick: expire requests, send heartbeats, make overdue messages redeliverable. */
  tick(nowMs: number): void {
    for (const [seq, p] of this.pending) {
      if (p.deadlineMs > nowMs || p.queued) continue;
      p.deadlineMs = Number.POSITIVE_INFINITY;
      this.queueRedelivery(seq, p);
    }
    for (let i = 0; i < this.waiting.length; ) {
      const r = this.waiting[i]!;
      if (r.expiresAtMs <= nowMs) {
        this.waiting.splice(i, 1);
        this.status(r.reply, 408, "Request Timeout", r);
        continue;
      }
      if (r.heartbeatMs > 0 && nowMs - r.lastSentMs >= r.heartbeatMs) {
        r.lastSentMs = nowMs;
        this.heartbeat(r.reply);
      }
      i++;
    }
    // ack_policy none: delivery is the acknowledgement; the floor is stored now and then.
    if (this.config.ack_policy === "none" && this.durable && this.ackFloor !== this.floorSaved)
      this.save(undefined);
    this.standPush();
    if (this.waiting.length > 0) this.deliver();
  }

  /** New messages may be in the stream. */
  poke(): void {
    this.standPush();
    if (this.waiting.length > 0) this.deliver();
  }

  /**
   * A push consumer is a standing request to its deliver subject, there while something listens
   * on it (nats-server delivers to interest only) and dropped when nothing does.
   */
  private standPush(): void {
    const to = this.config.deliver_subject;
    if (to === undefined || this.deleted || this.waiting.length > 0) return;
    if (!this.host.engine.bus.hasInterest(to)) return;
    this.lastActiveMs = Date.now();
    this.waiting.push({
      reply: to,
      remaining: Number.MAX_SAFE_INTEGER,
      remainingBytes: 0,
      byteLimited: false,
      expiresAtMs: Number.POSITIVE_INFINITY,
      heartbeatMs: (this.config.idle_heartbeat ?? 0) / 1e6,
      lastSentMs: Date.now(),
    });
  }

  /** Ends every waiting request (the consumer or its stream is going away). */
  close(): void {
    this.deleted = true;
    // Pullers are told; a push consumer's subscribers get nothing more (as from nats-server).
    for (const r of this.waiting.splice(0))
      if (r.reply !== this.config.deliver_subject) this.status(r.reply, 409, "Consumer Deleted", r);
    for (const w of this.saveWaiters.splice(0)) w();
  }

  // ------------------------------------------------------------------ delivery

  private deliver(noWaitReq?: PullRequest): void {
    if (this.delivering || this.deleted) {
      // A no-wait pull that arrives during a pass is answered when that pass ends.
      if (noWaitReq) this.noWaitAfterPass.push(noWaitReq);
      return;
    }
    this.delivering = true;
    this.deliverLoop()
      .catch((err) =>
        this.host.engine.logger?.error({ err, consumer: this.name }, "consumer delivery failed"),
      )
      .finally(() => {
        this.delivering = false;
        const ended = noWaitReq
          ? [noWaitReq, ...this.noWaitAfterPass.splice(0)]
          : this.noWaitAfterPass.splice(0);
        for (const req of ended) {
          const at = this.waiting.indexOf(req);
          if (at < 0) continue;
          this.waiting.splice(at, 1);
          if (req.remaining > 0) this.status(req.reply, 404, "No Messages", req);
        }
      });
  }

  private readonly noWaitAfterPass: PullRequest[] = [];

  /** Drops waiting requests whose client is gone (nothing subscribed to their inbox any more). */
  private dropAbandoned(): void {
    for (let i = 0; i < this.waiting.length; ) {
      if (this.host.engine.bus.hasInterest(this.waiting[i]!.reply)) i++;
      else this.waiting.splice(i, 1);
    }
  }

  private async deliverLoop(): Promise<void> {
    while (!this.deleted) {
      this.dropAbandoned();
      const req = this.waiting[0];
      if (!req) return;
      const room =
        this.config.ack_policy === "none" ? PULL_BATCH_MAX : this.config.max_ack_pending - this.pending.size;
      const queued = this.redeliver.length > 0;
      if (room <= 0 && !queued) return;
      // Redeliveries are already pending, so they need no room.
      const want = queued ? req.remaining : Math.min(req.remaining, room);
      const { ready, more } = queued
        ? { ready: this.readRedeliveries(want), more: true }
        : this.readNew(want, req);
      for (const m of ready) {
        const to = this.waiting[0];
        if (!to) {
          // Nobody waits any more: what was read is delivered later (acked ones stay skipped).
          const p = this.pending.get(m.seq);
          if (p) this.queueRedelivery(m.seq, p);
          else this.next = Math.min(this.next, m.seq);
          continue;
        }
        this.send(to, m);
        if (to.remaining === 0 || (to.byteLimited && to.remainingBytes <= 0)) this.waiting.shift();
      }
      if (ready.length === 0 && !more) return;
      // One step per event-loop turn, so a big pull does not hold the thread.
      await new Promise((r) => setImmediate(r));
    }
  }

  private send(req: PullRequest, m: Ready): void {
    const now = Date.now();
    let p = this.pending.get(m.seq);
    if (this.config.ack_policy !== "none") {
      if (!p) {
        p = { deliveries: 0, cseq: 0, firstCseq: this.cseq + 1, deadlineMs: 0, queued: false };
        this.pending.set(m.seq, p);
      }
      p.deliveries++;
      p.cseq = ++this.cseq;
      p.deadlineMs = now + this.config.ack_wait / 1e6;
    } else this.cseq++;
    const deliveries = p?.deliveries ?? 1;
    const tsNanos = `${BigInt(m.timestampMs) * 1_000_000n}`;
    // Messages not delivered yet: after this one for a first delivery, after the consumer's
    // position for a redelivery (what nats-server puts there).
    const lso = this.host.engine.partition(this.host.topic, 0)?.lastStableOffset ?? m.seq;
    const ack = `$JS.ACK.${this.host.stream}.${this.name}.${deliveries}.${m.seq}.${this.cseq}.${tsNanos}.${Math.max(0, lso - (deliveries > 1 ? this.next - 1 : m.seq))}`;
    req.remaining--;
    if (req.byteLimited) req.remainingBytes -= m.payload.length + (m.headers?.length ?? 0) + m.subject.length;
    req.lastSentMs = now;
    this.lastActiveMs = now;
    // To the puller's inbox, under the message's own subject (as nats-server delivers).
    this.host.engine.bus.publish(req.reply, ack, m.headers, m.payload, undefined, m.subject);
  }

  /**
   * Up to `want` new messages from `next` on (and within `req`'s byte limit): committed only,
   * no markers, no aborted records, filtered, skipping acked ones. `more`: stopped at the scan
   * budget with more to look at.
   */
  private readNew(want: number, req: PullRequest): { ready: Ready[]; more: boolean } {
    const { engine, topic } = this.host;
    const p = engine.partition(topic, 0);
    const ready: Ready[] = [];
    if (!p || want <= 0) return { ready, more: false };
    if (this.next - 1 < p.logStartOffset) this.next = p.logStartOffset + 1;
    let scanned = 0;
    let bytesLeft = req.byteLimited ? req.remainingBytes : Number.POSITIVE_INFINITY;
    while (ready.length < want && this.next - 1 < p.lastStableOffset) {
      if (scanned >= SCAN_BYTES_PER_TURN) return { ready, more: true };
      // Read on this thread, a bounded amount: a stream stores one message per batch, and
      // handing thousands of tiny batches to and from a read worker costs more than the read.
      const batches = engine.readBatchesNow(topic, 0, this.next - 1, READ_BYTES);
      if (batches.length === 0) break;
      const aborted = engine.abortedRangesNow(topic, 0, this.next - 1, p.lastStableOffset);
      for (const batch of batches) {
        scanned += batch.length;
        const base = Number(batch.readBigInt64BE(0));
        const last = base + batch.readInt32BE(23);
        if (base >= p.lastStableOffset) return { ready, more: false };
        if (last + 1 < this.next) continue;
        const attributes = batch.readInt16BE(21);
        const producerId = Number(batch.readBigInt64BE(43));
        const skipWhole =
          (attributes & CONTROL_ATTRIBUTE) !== 0 ||
          ((attributes & TRANSACTIONAL_ATTRIBUTE) !== 0 &&
            aborted.some(
              (a) => a.producerId === producerId && a.firstOffset <= base && base < a.markerOffset,
            ));
        if (skipWhole) {
          this.next = Math.max(this.next, last + 2);
          continue;
        }
        let records: ReturnType<typeof decodeRecords>;
        try {
          records = decodeRecords(batch);
        } catch {
          records = null;
        }
        if (records === null) {
          // Compressed with a codec this process cannot read (snappy, lz4, zstd) or corrupt:
          // stop here rather than skip it (invariant 4).
          this.stuck(base + 1);
          return { ready, more: false };
        }
        for (const rec of records) {
          const seq = rec.offset + 1;
          if (seq < this.next) continue;
          if (ready.length >= want || rec.offset >= p.lastStableOffset) return { ready, more: false };
          if (this.ackedAbove.has(seq)) {
            this.next = seq + 1;
            continue;
          }
          const subject = rec.key?.toString("utf8") ?? "";
          if (!this.wants(subject)) {
            this.next = seq + 1;
            continue;
          }
          const m: Ready = {
            seq,
            subject,
            headers: natsHeaders(rec.headers),
            payload: rec.value ? Buffer.from(rec.value) : Buffer.alloc(0),
            timestampMs: rec.timestampMs,
          };
          const size = m.payload.length + (m.headers?.length ?? 0) + m.subject.length;
          // A byte-limited request takes what fits (at least one message).
          if (ready.length > 0 && size > bytesLeft) return { ready, more: false };
          bytesLeft -= size;
          ready.push(m);
          this.next = seq + 1;
        }
        if (ready.length < want && last + 1 >= this.next) this.next = last + 2;
      }
    }
    return { ready, more: false };
  }

  private stuck(seq: number): void {
    if (this.stuckAt === seq) return;
    this.stuckAt = seq;
    this.host.engine.logger?.error(
      { stream: this.host.stream, consumer: this.name, seq },
      "consumer stopped: the message at this sequence cannot be read (compressed with snappy, lz4 or zstd by a Kafka producer, or corrupt)",
    );
  }

  /** Messages to deliver again, in sequence order, read back from the log. */
  private readRedeliveries(want: number): Ready[] {
    const seqs = this.redeliver.splice(0, Math.max(1, want)).sort((a, b) => a - b);
    const out: Ready[] = [];
    for (const seq of seqs) {
      const p = this.pending.get(seq);
      if (!p?.queued) continue;
      p.queued = false;
      const batches = this.host.engine.readBatchesNow(this.host.topic, 0, seq - 1, 1);
      let rec: NonNullable<ReturnType<typeof decodeRecords>>[number] | undefined;
      try {
        rec = batches.flatMap((b) => decodeRecords(b) ?? []).find((r) => r.offset === seq - 1);
      } catch {
        rec = undefined;
      }
      if (!rec) {
        // Gone (retention or purge): it can never be delivered, so it stops holding the floor.
        this.pending.delete(seq);
        continue;
      }
      out.push({
        seq,
        subject: rec.key?.toString("utf8") ?? "",
        headers: natsHeaders(rec.headers),
        payload: rec.value ? Buffer.from(rec.value) : Buffer.alloc(0),
        timestampMs: rec.timestampMs,
      });
    }
    return out;
  }

  /** Queues a pending message for redelivery, unless it has had max_deliver deliveries. */
  private queueRedelivery(seq: number, p: Pending): void {
    if (p.queued) return;
    if (this.config.max_deliver > 0 && p.deliveries >= this.config.max_deliver) {
      // Done with it, as nats-server is: no more deliveries, and it stops holding the floor.
      this.settle(seq);
      this.save(undefined);
      return;
    }
    p.queued = true;
    this.redeliver.push(seq);
  }

  private wants(subject: string): boolean {
    const { filter_subject: one, filter_subjects: many } = this.config;
    if (one) return subjectMatches(one, subject);
    if (many) return many.some((f) => subjectMatches(f, subject));
    return true;
  }

  // ------------------------------------------------------------------ acks

  /**
   * An ack message for stream sequence `seq`. `confirm` is called once what it changed is
   * durable (for a double ack); NAK and progress answers need no commit.
   */
  ack(seq: number, body: string, confirm: (() => void) | undefined): void {
    this.lastActiveMs = Date.now();
    const text = body.trim();
    const kind = text.split(/\s/)[0] || "+ACK";
    const p = this.pending.get(seq);
    if (kind === "-NAK") {
      if (p) {
        const delayNs = nakDelayNs(text);
        if (delayNs > 0) p.deadlineMs = Date.now() + delayNs / 1e6;
        else {
          p.deadlineMs = Number.POSITIVE_INFINITY;
          this.queueRedelivery(seq, p);
          this.poke();
        }
      }
      confirm?.();
      return;
    }
    if (kind === "+WPI") {
      if (p) {
        p.deadlineMs = Date.now() + this.config.ack_wait / 1e6;
        p.queued = false;
      }
      confirm?.();
      return;
    }
    // +ACK, +TERM, +NXT: done with it.
    const p2 = this.host.engine.partition(this.host.topic, 0);
    const committed = p2 ? p2.lastStableOffset : 0;
    if (this.config.ack_policy === "all") {
      // Everything up to it, including what was delivered before a restart.
      for (const s of [...this.pending.keys()]) if (s <= seq) this.pending.delete(s);
      if (seq >= this.next && seq <= committed) this.next = seq + 1;
      for (const s of this.ackedAbove) if (s <= seq) this.ackedAbove.delete(s);
    } else if (p) this.settle(seq);
    else if (seq > this.ackFloor && seq <= committed && !this.ackedAbove.has(seq)) {
      // Delivered before a restart (so not pending here): acked all the same.
      this.ackedAbove.add(seq);
      this.unsaved.push(seq);
    }
    this.save(confirm);
    this.poke();
  }

  private settle(seq: number): void {
    this.pending.delete(seq);
    if (seq > this.ackFloor) {
      this.ackedAbove.add(seq);
      this.unsaved.push(seq);
    }
  }

  /** Commits the acks so far (one commit per turn for all of them), then confirms. */
  private save(confirm: (() => void) | undefined): void {
    if (confirm) this.saveWaiters.push(confirm);
    if (this.saving) return;
    this.saving = true;
    setImmediate(() => {
      const floor = this.ackFloor;
      for (const s of this.ackedAbove) if (s <= floor) this.ackedAbove.delete(s);
      const acked = this.unsaved.filter((s) => s > floor && this.ackedAbove.has(s));
      this.unsaved = [];
      const waiters = this.saveWaiters.splice(0);
      const floorMoved = floor !== this.floorSaved ? floor : null;
      const done = () => {
        this.saving = false;
        for (const w of waiters) w();
        if (this.unsaved.length > 0 || this.saveWaiters.length > 0) this.save(undefined);
      };
      if (!this.durable || this.deleted || (acked.length === 0 && floorMoved === null)) {
        done();
        return;
      }
      assert(
        acked.every((s) => s > floor),
        "acks above the floor only",
      );
      this.host.engine.recordConsumerAcks(this.host.stream, this.name, acked, floorMoved).then(
        () => {
          if (floorMoved !== null) this.floorSaved = floorMoved;
          done();
        },
        (err) => {
          this.host.engine.logger?.error({ err, consumer: this.name }, "consumer acks not stored; retrying");
          // Not confirmed yet: the waiters wait for the retry (or the client acks again).
          this.saving = false;
          for (const s of acked) this.unsaved.push(s);
          this.saveWaiters.unshift(...waiters);
          setTimeout(() => this.save(undefined), SAVE_RETRY_MS).unref();
        },
      );
    });
  }

  // ------------------------------------------------------------------ statuses

  private status(reply: string, code: number, description: string, req?: PullRequest): void {
    const entries: [string, string][] = [];
    if (req) {
      entries.push(["Nats-Pending-Messages", String(Math.max(0, req.remaining))]);
      entries.push(["Nats-Pending-Bytes", String(Math.max(0, req.remainingBytes))]);
    }
    this.host.engine.bus.publish(
      reply,
      undefined,
      encodeHeaders({ status: code, description, entries }),
      Buffer.alloc(0),
    );
  }

  private heartbeat(reply: string): void {
    const headers = encodeHeaders({
      status: 100,
      description: "Idle Heartbeat",
      entries: [
        ["Nats-Last-Consumer", String(this.cseq)],
        ["Nats-Last-Stream", String(this.next - 1)],
      ],
    });
    this.host.engine.bus.publish(reply, undefined, headers, Buffer.alloc(0));
  }
}

/** `-NAK {"delay": <ns>}`: the delay asked for, or 0. */
function nakDelayNs(text: string): number {
  const json = text.slice(4).trim();
  if (!json.startsWith("{")) return 0;
  try {
    const d = (JSON.parse(json) as { delay?: unknown }).delay;
    return typeof d === "number" && d > 0 ? d : 0;
  } catch {
    return 0;
  }
}
