/**
 * A JetStream pull consumer of a stream: clients ask for batches (`CONSUMER.MSG.NEXT`), get
 * messages with an ack subject each, and acknowledge them (`$JS.ACK...`). Acknowledgements are
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
 * 2. floor < every pending sequence; ackedAbove holds only sequences > floor.
 * 3. At most max_ack_pending messages are pending; past it nothing new is delivered.
 */
import type { Engine } from "../engine/engine.js";
import { decodeRecords } from "../log/records.js";
import { encodeHeaders } from "../messaging/headers.js";
import { subjectMatches, subjectProblem } from "../messaging/subject.js";
import { assert } from "../util/assert.js";

/** nats-server's defaults. */
export const ACK_WAIT_NS_DEFAULT = 30e9;
export const MAX_ACK_PENDING_DEFAULT = 1000;
export const MAX_WAITING_DEFAULT = 512;
/** Messages one pull request may ask for (nats-server leaves it unlimited unless configured). */
export const PULL_BATCH_MAX = 100_000;
/** Bytes read from the log per delivery step (on the main thread: keep it small). */
const READ_BYTES = 256 * 1024;
const CONTROL_ATTRIBUTE = 0x20;

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
  const resolved = name ?? given ?? durable;
  if (!resolved) bad("consumer name is required");
  if (name && (given ?? durable) && name !== (given ?? durable))
    bad("consumer name in subject does not match name in request", 10057);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(resolved!))
    bad("consumer name may contain only ASCII letters, digits, '_' and '-'");
  if (r.deliver_subject !== undefined && r.deliver_subject !== "")
    bad("push consumers are not offered yet: use a pull consumer (no deliver_subject)");
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
  if (r.mem_storage === true) bad("memory storage is not offered");
  if (r.headers_only === true) bad("headers_only is not offered");
  if (r.flow_control === true || r.idle_heartbeat)
    bad("flow control and idle heartbeats are for push consumers");
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
    max_waiting: num(r.max_waiting, MAX_WAITING_DEFAULT),
    max_ack_pending: num(r.max_ack_pending, MAX_ACK_PENDING_DEFAULT),
    num_replicas: 0,
  };
  if (durable) config.durable_name = durable;
  if (typeof r.description === "string") config.description = r.description;
  if (deliver === "by_start_sequence") config.opt_start_seq = r.opt_start_seq as number;
  if (deliver === "by_start_time") config.opt_start_time = r.opt_start_time as string;
  if (filters.length === 1) config.filter_subject = filters[0];
  else if (filters.length > 1) config.filter_subjects = filters;
  if (!durable) config.inactive_threshold = num(r.inactive_threshold, 5e9);
  return config;
}

interface PullRequest {
  readonly reply: string;
  remaining: number;
  remainingBytes: number;
  readonly expiresAtMs: number;
  readonly heartbeatMs: number;
  lastSentMs: number;
}

interface Pending {
  deliveries: number;
  cseq: number;
  deadlineMs: number;
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
  private redelivered = 0;
  /** Acks waiting for the next commit, and the confirmations that wait on it. */
  private unsaved: number[] = [];
  private floorSaved: number;
  private saveWaiters: (() => void)[] = [];
  private saving = false;
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
    return {
      stream_name: this.host.stream,
      name: this.name,
      created: new Date(this.createdMs).toISOString(),
      config: this.config,
      delivered: { consumer_seq: this.cseq, stream_seq: this.next - 1 },
      ack_floor: { consumer_seq: Math.max(0, this.cseq - this.pending.size), stream_seq: floor },
      num_ack_pending: this.pending.size,
      num_redelivered: this.redelivered,
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
      !Number.isSafeInteger(batch) || batch < 1
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
      if (p.deadlineMs > nowMs) continue;
      p.deadlineMs = Number.POSITIVE_INFINITY;
      if (this.config.max_deliver > 0 && p.deliveries >= this.config.max_deliver) continue;
      this.redeliver.push(seq);
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
    if (this.waiting.length > 0) this.deliver();
  }

  /** New messages may be in the stream. */
  poke(): void {
    if (this.waiting.length > 0) this.deliver();
  }

  /** Ends every waiting request (the consumer or its stream is going away). */
  close(): void {
    this.deleted = true;
    for (const r of this.waiting.splice(0)) this.status(r.reply, 409, "Consumer Deleted", r);
    for (const w of this.saveWaiters.splice(0)) w();
  }

  // ------------------------------------------------------------------ delivery

  private deliver(noWaitReq?: PullRequest): void {
    if (this.delivering || this.deleted) return;
    this.delivering = true;
    this.deliverLoop()
      .catch((err) =>
        this.host.engine.logger?.error({ err, consumer: this.name }, "consumer delivery failed"),
      )
      .finally(() => {
        this.delivering = false;
        if (noWaitReq && this.waiting.includes(noWaitReq)) {
          this.waiting.splice(this.waiting.indexOf(noWaitReq), 1);
          if (noWaitReq.remaining > 0) this.status(noWaitReq.reply, 404, "No Messages", noWaitReq);
        }
      });
  }

  private async deliverLoop(): Promise<void> {
    while (this.waiting.length > 0 && !this.deleted) {
      const room =
        this.config.ack_policy === "none" ? PULL_BATCH_MAX : this.config.max_ack_pending - this.pending.size;
      if (room <= 0 && this.redeliver.length === 0) return;
      const want = Math.min(this.waiting[0]!.remaining, Math.max(room, 0));
      const batch = this.redeliver.length > 0 ? this.readRedeliveries(want) : this.readNew(want);
      if (batch.length === 0) return;
      for (const m of batch) {
        const req = this.waiting[0];
        if (!req) {
          // Nobody waits any more: what was read goes back to be delivered later.
          if (this.pending.has(m.seq)) this.redeliver.unshift(m.seq);
          else this.next = Math.min(this.next, m.seq);
          continue;
        }
        this.send(req, m);
        if (req.remaining === 0 || req.remainingBytes < 0) this.waiting.shift();
      }
      // One read's worth per event-loop turn, so a big pull does not hold the thread.
      await new Promise((r) => setImmediate(r));
    }
  }

  private send(req: PullRequest, m: Ready): void {
    const now = Date.now();
    let p = this.pending.get(m.seq);
    if (this.config.ack_policy !== "none") {
      if (!p) {
        p = { deliveries: 0, cseq: 0, deadlineMs: 0 };
        this.pending.set(m.seq, p);
      }
      p.deliveries++;
      if (p.deliveries > 1) this.redelivered++;
      p.cseq = ++this.cseq;
      p.deadlineMs = now + this.config.ack_wait / 1e6;
    } else this.cseq++;
    const deliveries = p?.deliveries ?? 1;
    const tsNanos = `${BigInt(m.timestampMs) * 1_000_000n}`;
    const ack = `$JS.ACK.${this.host.stream}.${this.name}.${deliveries}.${m.seq}.${this.cseq}.${tsNanos}.${this.numPending()}`;
    req.remaining--;
    if (req.remainingBytes > 0) {
      req.remainingBytes -= m.payload.length + (m.headers?.length ?? 0) + m.subject.length;
      if (req.remainingBytes <= 0) req.remainingBytes = -1;
    }
    req.lastSentMs = now;
    // With ack_policy none, delivery is the acknowledgement: nothing is pending.
    this.host.engine.bus.publish(req.reply, ack, m.headers, m.payload, undefined, m.subject);
  }

  /** Up to `want` new messages from `next` on, committed only, filtered, skipping acked ones. */
  private readNew(want: number): Ready[] {
    const { engine, topic } = this.host;
    const p = engine.partition(topic, 0);
    if (!p || want <= 0) return [];
    const out: Ready[] = [];
    while (out.length < want) {
      const from = this.next - 1;
      if (from < p.logStartOffset) this.next = p.logStartOffset + 1;
      if (this.next - 1 >= p.lastStableOffset) break;
      // Read on this thread, a bounded amount: a stream stores one message per batch, and
      // handing thousands of tiny batches to and from a read worker costs more than the read.
      const batches = engine.readBatchesNow(topic, 0, this.next - 1, READ_BYTES);
      let advanced = false;
      for (const batch of batches) {
        const base = Number(batch.readBigInt64BE(0));
        if (base >= p.lastStableOffset) break;
        const isControl = (batch.readInt16BE(21) & CONTROL_ATTRIBUTE) !== 0;
        const last = base + batch.readInt32BE(23);
        const records = isControl ? [] : (decodeRecords(batch) ?? []);
        for (const rec of records) {
          const seq = rec.offset + 1;
          if (seq < this.next || out.length >= want || rec.offset >= p.lastStableOffset) continue;
          this.next = seq + 1;
          advanced = true;
          if (this.ackedAbove.delete(seq)) continue;
          const subject = rec.key?.toString("utf8") ?? "";
          if (!this.wants(subject)) continue;
          const hdrs = rec.headers.filter((h) => h.value !== null);
          out.push({
            seq,
            subject,
            headers: hdrs.length
              ? encodeHeaders({ entries: hdrs.map((h) => [h.key, h.value!.toString("utf8")]) })
              : undefined,
            payload: rec.value ? Buffer.from(rec.value) : Buffer.alloc(0),
            timestampMs: rec.timestampMs,
          });
        }
        if (out.length < want && last + 2 > this.next && last < p.lastStableOffset) {
          this.next = last + 2;
          advanced = true;
        }
        if (out.length >= want) break;
      }
      if (!advanced) break;
    }
    return out;
  }

  /** Messages to deliver again, in sequence order, read back from the log. */
  private readRedeliveries(want: number): Ready[] {
    const seqs = this.redeliver.splice(0, Math.max(1, want)).sort((a, b) => a - b);
    const out: Ready[] = [];
    for (const seq of seqs) {
      if (!this.pending.has(seq)) continue;
      const batches = this.host.engine.readBatchesNow(this.host.topic, 0, seq - 1, 1);
      const rec = batches.flatMap((b) => decodeRecords(b) ?? []).find((r) => r.offset === seq - 1);
      if (!rec) {
        // Gone (retention or purge): it can never be delivered, so it stops blocking the floor.
        this.pending.delete(seq);
        continue;
      }
      const hdrs = rec.headers.filter((h) => h.value !== null);
      out.push({
        seq,
        subject: rec.key?.toString("utf8") ?? "",
        headers: hdrs.length
          ? encodeHeaders({ entries: hdrs.map((h) => [h.key, h.value!.toString("utf8")]) })
          : undefined,
        payload: rec.value ? Buffer.from(rec.value) : Buffer.alloc(0),
        timestampMs: rec.timestampMs,
      });
    }
    return out;
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
    const kind = body.trim().split(/\s/)[0] || "+ACK";
    const p = this.pending.get(seq);
    if (kind === "-NAK") {
      if (p) {
        p.deadlineMs = Number.POSITIVE_INFINITY;
        this.redeliver.push(seq);
        this.poke();
      }
      confirm?.();
      return;
    }
    if (kind === "+WPI") {
      if (p) p.deadlineMs = Date.now() + this.config.ack_wait / 1e6;
      confirm?.();
      return;
    }
    // +ACK, +TERM, +NXT: done with it. ack_policy all acknowledges everything before it too.
    if (this.config.ack_policy === "all") {
      for (const s of [...this.pending.keys()]) if (s <= seq) this.settle(s);
    } else if (p) this.settle(seq);
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
      const acked = this.unsaved.filter((s) => s > floor);
      this.unsaved = [];
      const waiters = this.saveWaiters.splice(0);
      const floorMoved = floor !== this.floorSaved ? floor : null;
      const done = () => {
        this.saving = false;
        for (const w of waiters) w();
        if (this.unsaved.length > 0 || this.saveWaiters.length > 0) this.save(undefined);
      };
      if (!this.durable || this.deleted || (acked.length === 0 && floorMoved === null)) return done();
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
          this.host.engine.logger?.error({ err, consumer: this.name }, "consumer acks not stored");
          // Not confirmed: the client's double ack times out and it acks again.
          this.saving = false;
          for (const s of acked) this.unsaved.push(s);
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
