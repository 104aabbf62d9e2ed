/**
 * One client connection speaking the Kafka protocol.
 *
 * Framing: every request is `int32 length | header | body`. The length is checked against
 * `frameBytesMax` before anything is allocated; a negative, too-small or too-large length
 * closes the connection (the protocol has no way to answer a frame it cannot delimit).
 *
 * Ordering: Kafka clients pipeline requests and match responses by correlation id, but they
 * require responses in request order. Each request takes a slot in `slots`; handlers may
 * finish out of order (a Produce waiting for its commit, a Fetch long-polling), and the
 * head of the queue is written as soon as it is ready.
 *
 * Muting: as in Kafka, a connection handles one request at a time, except that Produce
 * requests may pipeline (their answers are small). So a client cannot have many large answers
 * (Metadata, Fetch) built and buffered at once.
 *
 * Backpressure: reading stops while too many requests are in flight on this connection, while
 * the socket's write buffer is full, or while the engine's write queue is over its limit.
 *
 * Staging: a Produce request that arrived in several reads is joined in a region of the
 * engine's staging arena (Engine.stagingRegion) rather than a new Buffer, and its batches are
 * written from there in place; the request holds the region until its handler settles.
 */
import type net from "node:net";
import type { Logger } from "pino";
import type { Engine } from "../../engine/engine.js";
import type { Staged } from "../../storage/staging-arena.js";
import { assert } from "../../util/assert.js";
import { type KafkaRequestEvent, kafkaRequestChannel, wallNowMs } from "../../util/diagnostics.js";
import { type KafkaApi, NO_RESPONSE, type RequestContext } from "./api.js";
import { decodeMessage, encodeMessage } from "./codec/codec.js";
import { KafkaDecodeError } from "./codec/errors.js";
import { decodeRequestHeader, requestHeaderVersion, responseHeaderVersion } from "./codec/header.js";
import { Reader } from "./codec/reader.js";
import { Writer } from "./codec/writer.js";
import { ApiVersionsApi, unsupportedVersionResponse } from "./handlers/api-versions.js";

/** Smallest request header: apiKey (2) + apiVersion (2) + correlationId (4). */
const REQUEST_HEADER_BYTES_MIN = 8;
const PRODUCE_API_KEY = 0;
/** Produce requests per connection being handled at once; librdkafka pipelines up to 5 (idempotent) or more. */
export const REQUESTS_IN_FLIGHT_MAX = 128;
/**
 * Produce requests at least this big that arrived in several reads are joined in the staging
 * arena. Smaller ones come from Node's Buffer pool (8 KiB slabs shared by many Buffers), which
 * adds little for the collector.
 */
const STAGED_FRAME_BYTES_MIN = 4096;
/** On shutdown, how long a connection may take to flush its last responses. */
const CLOSE_FLUSH_MS = 1000;
/**
 * Response bytes handed to the socket per event-loop turn. 1 MiB moves in about a millisecond
 * here; larger responses go out over several turns, with produce acknowledgements and other
 * connections served in between.
 */
export const WRITE_TURN_BYTES = 1024 * 1024;
/**
 * A paced connection (RequestContext.pace) may write this much time's worth of its rate at once
 * after being idle: the time it spent waiting for its next request and the read is not lost to
 * it, while a backlog still goes out as a trickle.
 */
export const PACE_CREDIT_MS = 100;

export interface ConnectionOptions {
  readonly frameBytesMax: number;
  readonly apis: ReadonlyMap<number, KafkaApi>;
  readonly context: Omit<
    RequestContext,
    "apiVersion" | "clientId" | "clientHost" | "afterWrite" | "throttle" | "pace"
  >;
  readonly logger: Logger | undefined;
  readonly onClose: (c: KafkaConnection) => void;
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
  /** Run after the socket accepted the last chunk. */
  written?: (() => void)[];
  /**
   * RequestContext.afterWrite: run after the socket is done with the chunks, written or not
   * (the connection closed first).
   */
  release?: (() => void)[];
}

/** A request frame and, when it lies in a staging region, the reference that keeps it. */
interface FrameOwner {
  readonly frame: Buffer;
  staged: Staged | null;
}

function runAll(callbacks: readonly (() => void)[]): void {
  for (const cb of callbacks) cb();
}

export class KafkaConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private inFlight = 0;
  private closed = false;
  private pausedForWrite = false;
  /**
   * Response bytes not yet handed to the socket (see pump()); `release` is the response's
   * Slot.release, on its last chunk.
   */
  private readonly out: { buf: Buffer; done?: () => void; release?: () => void }[] = [];
  private outBytes = 0;
  /** Bytes handed to the socket in this event-loop turn (see pump()). */
  private turnBytes = 0;
  private turnScheduled = false;
  /** close() was called while responses were still queued: end the socket once they are out. */
  private ending = false;
  /** A non-Produce request is being handled: no further request starts until it is answered. */
  private muted = false;
  /** A quota was exceeded: no further request starts until this timer fires (RequestContext.throttle). */
  private throttleTimer: NodeJS.Timeout | null = null;
  /** Set by RequestContext.pace: response bytes per second, 0 = as fast as the socket takes them. */
  private paceBytesPerSec = 0;
  /** performance.now() before which a paced connection writes nothing more (see pump()). */
  private paceNextAt = 0;
  private paceTimer: NodeJS.Timeout | null = null;
  private readonly remote: string;
  private readonly engine: Engine;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.engine = opts.context.engine;
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("drain", () => {
      this.pausedForWrite = false;
      this.pump();
      this.updateFlow();
    });
    socket.on("error", (err) =>
      this.opts.logger?.debug({ remote: this.remote, err: err.message }, "socket error"),
    );
    socket.on("close", () => this.onClosed());
    this.engine.on("drain", this.onEngineDrain);
  }

  private readonly onEngineDrain = () => this.updateFlow();

  /** Closes after flushing what is already written; a peer that does not read is cut off. */
  close(): void {
    if (this.closed) return;
    this.socket.pause();
    this.ending = true;
    this.pump(); // ends the socket now, or once the queued responses are out
    setTimeout(() => this.socket.destroy(), CLOSE_FLUSH_MS).unref();
  }

  private onClosed(): void {
    this.closed = true;
    // The socket's handle is closed: the kernel and libuv hold none of this memory any more.
    // Responses never handed to it give theirs back now (the read arena's regions, say).
    for (const item of this.out.splice(0)) item.release?.();
    this.outBytes = 0;
    // A slot still being handled releases when its handler ends (finish() or onError): the
    // handler may still be reading the memory it registered.
    for (const slot of this.slots.splice(0)) if (slot.done && slot.release) runAll(slot.release.splice(0));
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.throttleTimer = null;
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.paceTimer = null;
    this.engine.off("drain", this.onEngineDrain);
    this.opts.onClose(this);
  }

  private fail(message: string, extra: Record<string, unknown> = {}): void {
    this.opts.logger?.warn({ remote: this.remote, ...extra }, message);
    this.socket.destroy();
    this.closed = true;
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    if (this.mustStop() && !this.lengthsPlausible()) return;
    this.processBuffered();
  }

  /**
   * While the connection is muted (a JoinGroup may wait for a whole rebalance), frames queue up
   * unread. Their length prefixes are checked as they arrive anyway, so a hostile frame behind a
   * parked request closes the connection now rather than when the request is answered.
   * Returns false (and closes) on a bad length.
   */
  private lengthsPlausible(): boolean {
    let pos = 0;
    for (let frames = 0; pos + 4 <= this.buffered && frames < REQUESTS_IN_FLIGHT_MAX; frames++) {
      const len = this.int32At(pos);
      if (len < REQUEST_HEADER_BYTES_MIN || len > this.opts.frameBytesMax) {
        this.fail("closing connection: bad frame length", {
          frameBytes: len,
          frameBytesMax: this.opts.frameBytesMax,
        });
        return false;
      }
      pos += 4 + len;
    }
    return true;
  }

  /** The big-endian int32 at byte `pos` of the buffered data (which may span chunks). */
  private int32At(pos: number): number {
    const bytes = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const c of this.chunks) {
      if (pos >= c.length) {
        pos -= c.length;
        continue;
      }
      const n = Math.min(4 - filled, c.length - pos);
      c.copy(bytes, filled, pos, pos + n);
      filled += n;
      pos = 0;
      if (filled === 4) break;
    }
    assert(filled === 4, "int32At beyond the buffered data");
    return bytes.readInt32BE(0);
  }

  private processing = false;

  /** Handles complete frames while the flow rules allow; re-entrant calls are no-ops. */
  private processBuffered(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.closed && this.buffered >= 4 && !this.mustStop()) {
        const len = this.peekLength();
        if (len < REQUEST_HEADER_BYTES_MIN || len > this.opts.frameBytesMax) {
          this.fail("closing connection: bad frame length", {
            frameBytes: len,
            frameBytesMax: this.opts.frameBytesMax,
          });
          return;
        }
        if (this.buffered < 4 + len) break;
        const owner = this.takeFrame(len);
        try {
          this.handleFrame(owner.frame, owner);
        } finally {
          // Not taken over by a request slot (the frame was refused): done with it now.
          owner.staged?.unref();
        }
      }
      if (!this.closed && this.buffered >= 4 && this.mustStop()) this.lengthsPlausible();
    } finally {
      this.processing = false;
    }
    this.updateFlow();
  }

  private throttle(ms: number): void {
    if (ms <= 0 || this.closed) return;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      this.updateFlow();
    }, ms);
    this.throttleTimer.unref();
    this.updateFlow();
  }

  private mustStop(): boolean {
    return (
      this.muted ||
      this.throttleTimer !== null ||
      this.inFlight >= REQUESTS_IN_FLIGHT_MAX ||
      this.pausedForWrite ||
      this.outBytes > WRITE_TURN_BYTES ||
      this.engine.overloaded
    );
  }

  /** A whole frame is buffered, or a length prefix that processBuffered must reject. */
  private hasActionableFrame(): boolean {
    if (this.buffered < 4) return false;
    const len = this.peekLength();
    return len < REQUEST_HEADER_BYTES_MIN || len > this.opts.frameBytesMax || this.buffered >= 4 + len;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.chunks, Math.min(this.buffered, 4));
    return head.readInt32BE(0);
  }

  /**
   * Removes the next frame (its length prefix, `len`, already checked) from the buffered
   * chunks. A Produce request spread over several chunks goes into a staging region, which the
   * caller then owns (see the header comment).
   */
  private takeFrame(len: number): FrameOwner {
    const spread = this.chunks[0]!.length < 4 + len;
    const staged =
      spread && len >= STAGED_FRAME_BYTES_MIN && this.int16At(4) === PRODUCE_API_KEY
        ? this.engine.stagingRegion(len)
        : null;
    if (!staged) return { frame: this.take(4 + len).subarray(4), staged: null };
    this.take(4);
    this.takeInto(staged.buf);
    return { frame: staged.buf, staged };
  }

  /** The big-endian int16 at byte `pos` of the buffered data (which may span chunks). */
  private int16At(pos: number): number {
    const first = this.chunks[0]!;
    if (first.length >= pos + 2) return first.readInt16BE(pos);
    return Buffer.concat(this.chunks, pos + 2).readInt16BE(pos);
  }

  /** Removes exactly n bytes from the front of the buffered chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      this.buffered -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    this.takeInto(out);
    return out;
  }

  /** Moves the next `out.length` buffered bytes into `out`. */
  private takeInto(out: Buffer): void {
    const n = out.length;
    assert(n <= this.buffered, "takeInto beyond the buffered data");
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const need = n - filled;
      if (c.length <= need) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, need);
        this.chunks[0] = c.subarray(need);
        filled += need;
      }
    }
    this.buffered -= n;
  }

  /**
   * Handles one request frame. When the frame is in a staging region (`owner.staged`), the
   * request takes it over once it gets a slot and releases it when its handler settles; a frame
   * refused before that is left to the caller.
   */
  private handleFrame(frame: Buffer, owner: FrameOwner): void {
    const receivedAt = kafkaRequestChannel.hasSubscribers ? wallNowMs() : 0;
    const requestBytes = frame.length; // not the frame: the closures below must not keep it
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = this.opts.apis.get(apiKey);
    if (!api) {
      this.fail("closing connection: unknown API key", { apiKey, apiVersion });
      return;
    }
    if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      if (api === (ApiVersionsApi as KafkaApi)) {
        // The negotiation rule: answer in v0 with UNSUPPORTED_VERSION and our ranges.
        this.respondRaw(correlationId, 0, unsupportedVersionResponse(this.opts.apis));
        return;
      }
      this.fail("closing connection: unsupported API version", { api: api.name, apiVersion });
      return;
    }
    let request: unknown;
    let clientId: string | null;
    try {
      const reader = new Reader(frame);
      const header = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
      clientId = header.clientId;
      request = decodeMessage(api.request, apiVersion, reader);
    } catch (err) {
      if (err instanceof KafkaDecodeError) {
        this.fail("closing connection: malformed request", { api: api.name, apiVersion, err: err.message });
        return;
      }
      throw err;
    }
    const slot: Slot = { done: false, chunks: null };
    const ctx: RequestContext = {
      ...this.opts.context,
      apiVersion,
      clientId,
      clientHost: this.socket.remoteAddress ?? "",
      afterWrite: (cb) => {
        slot.release ??= [];
        slot.release.push(cb);
      },
      throttle: (ms) => this.throttle(ms),
      pace: (bytesPerSec) => {
        assert(bytesPerSec >= 0, "pace needs a rate >= 0");
        this.paceBytesPerSec = bytesPerSec;
      },
    };
    // The request's frame is this request's now: released once its handler is done with it.
    const staged = owner.staged;
    owner.staged = null;
    this.slots.push(slot);
    this.inFlight++;
    // Like Kafka, handle one request at a time per connection, except Produce, whose small
    // responses make pipelining cheap and which is where pipelining pays. Without this a client
    // could pipeline many requests with large answers (Metadata for many partitions, Fetch)
    // and have them all built and buffered at once.
    const muting = apiKey !== PRODUCE_API_KEY;
    if (muting) this.muted = true;
    let settled = false;
    const settle = () => {
      assert(!settled, "a request settled twice");
      settled = true;
      // Nothing reads the request once its handler has settled (a response is built from
      // values, not views of it), and a commit writing from the frame holds its own reference.
      staged?.unref();
      this.inFlight--;
      if (muting) this.muted = false;
    };
    const finish = (response: unknown) => {
      settle();
      slot.done = true;
      if (this.closed) {
        // Answered after the connection closed: nothing will be written.
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        if (slot.release) runAll(slot.release.splice(0));
        return;
      }
      if (response !== NO_RESPONSE && !this.closed) {
        try {
          slot.chunks = this.encodeResponse(api, apiVersion, correlationId, response);
        } catch (err) {
          this.opts.logger?.error(
            { remote: this.remote, api: api.name, apiVersion, err: (err as Error)?.stack ?? String(err) },
            "response could not be encoded",
          );
          this.fail("closing connection after an unencodable response");
          return;
        }
        if (receivedAt > 0) this.reportWhenWritten(slot, apiKey, apiVersion, receivedAt, requestBytes);
      }
      this.flushSlots();
      this.updateFlow();
    };
    const onError = (err: unknown) => {
      settle();
      // No answer will be written: what the handler registered is free now.
      slot.done = true;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (slot.release) runAll(slot.release.splice(0));
      this.opts.logger?.error(
        { remote: this.remote, api: api.name, apiVersion, err: (err as Error)?.stack ?? String(err) },
        "request handler failed",
      );
      this.fail("closing connection after handler failure");
    };
    let result: ReturnType<KafkaApi["handle"]>;
    try {
      result = api.handle(request, ctx);
    } catch (err) {
      onError(err);
      return;
    }
    if (result instanceof Promise) result.then(finish, onError);
    else finish(result);
  }

  /** Publishes the request's timings on kafkaRequestChannel once its response is written. */
  private reportWhenWritten(
    slot: Slot,
    apiKey: number,
    apiVersion: number,
    receivedAt: number,
    requestBytes: number,
  ): void {
    const answeredAt = wallNowMs();
    const responseBytes = slot.chunks?.reduce((n, c) => n + c.length, 0) ?? 0;
    slot.written ??= [];
    slot.written.push(() =>
      kafkaRequestChannel.publish({
        apiKey,
        apiVersion,
        receivedAt,
        answeredAt,
        writtenAt: wallNowMs(),
        requestBytes,
        responseBytes,
      } satisfies KafkaRequestEvent),
    );
  }

  private encodeResponse(
    api: KafkaApi,
    apiVersion: number,
    correlationId: number,
    response: unknown,
  ): Buffer[] {
    const w = new Writer({ frame: true });
    w.int32(correlationId);
    if (responseHeaderVersion(api.key, apiVersion) >= 1) w.uvarint(0); // empty tagged fields
    encodeMessage(api.response, apiVersion, response, w);
    return w.finish();
  }

  private respondRaw(correlationId: number, apiVersion: number, response: unknown): void {
    const slot: Slot = {
      done: true,
      chunks: (() => {
        const w = new Writer({ frame: true });
        w.int32(correlationId);
        encodeMessage(ApiVersionsApi.response, apiVersion, response, w);
        return w.finish();
      })(),
    };
    this.slots.push(slot);
    this.flushSlots();
  }

  /** Moves finished responses, in request order, to the outbound queue. */
  private flushSlots(): void {
    if (this.closed) return;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const slot = this.slots.shift()!;
      if (!slot.chunks) {
        if (slot.release) runAll(slot.release);
        continue;
      }
      const { written, release } = slot;
      const after = written || release ? [...(written ?? []), ...(release ?? [])] : null;
      slot.chunks.forEach((buf, i) => {
        const last = i === slot.chunks!.length - 1;
        this.out.push({
          buf,
          done: last && after ? () => runAll(after) : undefined,
          release: last && release ? () => runAll(release) : undefined,
        });
        this.outBytes += buf.length;
      });
    }
    this.pump();
  }

  /**
   * Hands the outbound queue to the socket, at most WRITE_TURN_BYTES per event-loop turn and
   * nothing more while the socket is backed up (pausedForWrite, until "drain"). Why: a write
   * of a whole 16 MiB Fetch answer is one writev, and on loopback the kernel moves the data to
   * the receiver inside that call; it held the main thread 10-30 ms at a time on this machine
   * while produce acknowledgements waited. Small answers (Produce) go out at once.
   */
  private pump(): void {
    if (this.closed || this.socket.destroyed) return;
    const rate = this.paceBytesPerSec;
    // A paced connection writes nothing until its rate has paid for what it already wrote, so a
    // quota-limited consumer takes a steady trickle of CPU instead of bursts that fill the cores.
    const held = rate > 0 && performance.now() < this.paceNextAt;
    let wrote = 0;
    while (!held && this.out.length > 0 && this.turnBytes < WRITE_TURN_BYTES && !this.pausedForWrite) {
      if (wrote === 0) this.socket.cork();
      const head = this.out[0]!;
      const room = WRITE_TURN_BYTES - this.turnBytes;
      let buf = head.buf;
      let done: (() => void) | undefined;
      if (buf.length > room) {
        buf = head.buf.subarray(0, room);
        head.buf = head.buf.subarray(room);
      } else {
        this.out.shift();
        done = head.done;
      }
      this.outBytes -= buf.length;
      this.turnBytes += buf.length;
      wrote += buf.length;
      // The callback runs once libuv is done with the memory (even on error): only then may
      // a response's buffers be reused.
      if (!this.socket.write(buf, done)) this.pausedForWrite = true;
    }
    if (wrote > 0) {
      this.socket.uncork();
      if (rate > 0) {
        const from = Math.max(performance.now() - PACE_CREDIT_MS, this.paceNextAt);
        this.paceNextAt = from + (wrote * 1000) / rate;
      }
    }
    const more = this.turnBytes > 0 || (held && this.out.length > 0);
    if (more && !this.turnScheduled) {
      this.turnScheduled = true;
      const next = () => {
        this.turnScheduled = false;
        this.turnBytes = 0;
        this.pump();
        this.updateFlow();
      };
      if (rate > 0) {
        this.paceTimer = setTimeout(
          () => {
            this.paceTimer = null;
            next();
          },
          Math.max(0, this.paceNextAt - performance.now()),
        );
        this.paceTimer.unref();
      } else setImmediate(next);
    }
    if (this.out.length === 0 && this.ending) this.socket.end();
  }

  private updateFlow(): void {
    // Closing (close() paused the socket) or closed: never read again, whatever timers fire.
    if (this.closed || this.ending) return;
    const stop = this.mustStop();
    if (stop && !this.socket.isPaused()) this.socket.pause();
    else if (!stop) {
      if (this.socket.isPaused()) this.socket.resume();
      if (!this.processing && this.hasActionableFrame()) setImmediate(() => this.processBuffered());
    }
  }
}
