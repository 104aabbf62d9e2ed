/**
 * One NATS client connection: parses its operations (parser.ts), turns them into message-bus
 * calls, and writes what the bus delivers to it as MSG/HMSG.
 *
 * Server to client:
 *     INFO <json>                      first, once
 *     MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n
 *     HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
 *     PING | PONG | +OK | -ERR '<text>'
 *
 * Output is gathered in one buffer per connection and handed to the socket once per event-loop
 * turn (setImmediate), so a burst of small messages is one write, not one syscall each.
 *
 * Invariants:
 * 1. Every open sid maps to one open bus subscription owned by this connection; on close all
 *    of them leave the bus.
 * 2. A fatal protocol error writes its -ERR, then the connection reads nothing more and closes
 *    once the error is written.
 * 3. Bytes waiting for the socket never exceed pendingBytesMax for long: past it the client is a
 *    slow consumer and is disconnected, as nats-server does, so one stalled reader cannot hold
 *    the server's memory.
 */
import type net from "node:net";
import type { Logger } from "pino";
import { BusError, type MessageBus } from "../../messaging/bus.js";
import { statusHeaders } from "../../messaging/headers.js";
import { isValidPublishSubject, subjectProblem } from "../../messaging/subject.js";
import type { Subscriber, Subscription } from "../../messaging/types.js";
import { assert } from "../../util/assert.js";
import { NatsErr, NatsProtocolError } from "./errors.js";
import { type NatsOps, NatsParser } from "./parser.js";

/** Output gathered before it is handed to the socket; bigger messages go out on their own. */
export const OUT_CHUNK_BYTES = 64 * 1024;
/** The header block of the "no responders" status a requester gets (16 bytes). */
const NO_RESPONDERS = statusHeaders(503);
const EMPTY = new Uint8Array(0);
const CRLF = Buffer.from("\r\n");

export interface NatsLimits {
  /** max_payload, told to the client in INFO. */
  readonly payloadBytesMax: number;
  /** Bytes queued for the socket before the client counts as a slow consumer. */
  readonly pendingBytesMax: number;
  readonly subscriptionsMax: number;
}

export interface NatsConnectionOptions {
  readonly bus: MessageBus;
  readonly limits: NatsLimits;
  /** The INFO line (with CRLF) to greet this client with. */
  readonly info: string;
  readonly logger: Logger | undefined;
  readonly onClose: (c: NatsConnection) => void;
}

interface ConnectOptions {
  verbose?: unknown;
  pedantic?: unknown;
  echo?: unknown;
  headers?: unknown;
  no_responders?: unknown;
  protocol?: unknown;
  name?: unknown;
  lang?: unknown;
  version?: unknown;
}

export class NatsConnection implements Subscriber, NatsOps {
  /** CONNECT's echo (default true): false keeps this client's publishes from itself. */
  echo = true;
  /** Unanswered server PINGs (server.ts closes the connection past its limit). */
  pingsOut = 0;
  // nats-server's defaults until CONNECT says otherwise (and for fields CONNECT leaves out):
  // verbose and pedantic on. Clients send both as false.
  private verbose = true;
  private pedantic = true;
  private headers = false;
  private noResponders = false;
  private clientName = "";
  private readonly sids = new Map<string, Subscription>();
  private readonly parser: NatsParser;
  private out = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
  private outLen = 0;
  private flushScheduled = false;
  private closed = false;
  private closing = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: NatsConnectionOptions,
  ) {
    socket.setNoDelay(true);
    this.parser = new NatsParser(this, opts.limits.payloadBytesMax);
    socket.on("data", (chunk: Buffer) => this.parser.feed(chunk));
    socket.on("error", (err) =>
      opts.logger?.debug({ err: err.message, client: this.clientName }, "nats socket error"),
    );
    socket.on("close", () => this.cleanup());
    this.text(opts.info);
  }

  // --- NatsOps: what the client sends ---------------------------------------------------------

  connect(json: string): void {
    let o: ConnectOptions;
    try {
      o = JSON.parse(json) as ConnectOptions;
      if (o === null || typeof o !== "object" || Array.isArray(o)) throw new Error("not an object");
    } catch (e) {
      this.error(new NatsProtocolError(NatsErr.invalidConnect, true, (e as Error).message));
      return;
    }
    if (o.protocol !== undefined && o.protocol !== 0 && o.protocol !== 1) {
      this.error(new NatsProtocolError(NatsErr.badProtocolVersion, true, `protocol ${String(o.protocol)}`));
      return;
    }
    const headers = o.headers === true;
    const noResponders = o.no_responders === true;
    if (noResponders && !headers) {
      this.error(new NatsProtocolError(NatsErr.noRespondersNeedsHeaders, true));
      return;
    }
    if (typeof o.verbose === "boolean") this.verbose = o.verbose;
    if (typeof o.pedantic === "boolean") this.pedantic = o.pedantic;
    this.echo = o.echo !== false;
    this.headers = headers;
    this.noResponders = noResponders;
    if (typeof o.name === "string") this.clientName = o.name.slice(0, 256);
    this.ok();
  }

  pub(subject: string, reply: string | undefined, headers: Buffer | undefined, payload: Buffer): void {
    if (headers !== undefined && !this.headers) {
      this.error(
        new NatsProtocolError(NatsErr.headersNotSupported, true, "HPUB without CONNECT headers:true"),
      );
      return;
    }
    if (!isValidPublishSubject(subject)) {
      // As nats-server: a pedantic client is told; a subject that is valid for a subscription
      // (it holds wildcards) is still routed, its wildcard tokens matching only wildcard
      // subscriptions; any other (an empty token) is dropped.
      if (this.pedantic) this.error(new NatsProtocolError(NatsErr.invalidPublishSubject, false, subject));
      if (subjectProblem(subject, "subscribe") !== null) {
        this.ok();
        return;
      }
    }
    const delivered = this.opts.bus.publish(subject, reply, headers, payload, this);
    if (delivered === 0 && reply !== undefined && this.noResponders) this.answerNoResponders(reply);
    this.ok();
  }

  sub(subject: string, queue: string | undefined, sid: string): void {
    // A sid already in use keeps its subscription, as in nats-server.
    if (this.sids.has(sid)) {
      this.ok();
      return;
    }
    if (this.sids.size >= this.opts.limits.subscriptionsMax) {
      this.error(new NatsProtocolError(NatsErr.maxSubscriptions, false, `${this.sids.size} subscriptions`));
      return;
    }
    let sub: Subscription;
    try {
      sub = this.opts.bus.subscribe(this, sid, subject, queue);
    } catch (err) {
      if (!(err instanceof BusError)) throw err;
      const text = err.code === "TOO_MANY_SUBSCRIPTIONS" ? NatsErr.maxSubscriptions : NatsErr.invalidSubject;
      this.error(new NatsProtocolError(text, false, err.message));
      return;
    }
    this.sids.set(sid, sub);
    this.ok();
  }

  unsub(sid: string, max: number | undefined): void {
    const sub = this.sids.get(sid);
    if (sub) {
      if (max === undefined || max <= sub.delivered) {
        this.sids.delete(sid);
        this.opts.bus.unsubscribe(sub);
      } else this.opts.bus.limit(sub, max);
    }
    this.ok();
  }

  ping(): void {
    this.text("PONG\r\n");
  }

  pong(): void {
    this.pingsOut = 0;
  }

  error(err: NatsProtocolError): void {
    this.opts.logger?.[err.fatal ? "info" : "debug"](
      { err: err.message, client: this.clientName, fatal: err.fatal },
      "nats protocol error",
    );
    this.text(`-ERR '${err.text}'\r\n`);
    if (err.fatal) {
      this.parser.halt();
      this.closeAfterFlush();
    }
  }

  // --- Subscriber: what the bus delivers ------------------------------------------------------

  deliver(
    sub: Subscription,
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
  ): void {
    if (this.closed || this.closing) return;
    const r = reply === undefined ? "" : `${reply} `;
    if (headers !== undefined && this.headers) {
      const total = headers.length + payload.length;
      this.message(`HMSG ${subject} ${sub.tag} ${r}${headers.length} ${total}\r\n`, headers, payload);
    } else {
      // A client that did not ask for headers gets the payload alone, as nats-server sends it.
      this.message(`MSG ${subject} ${sub.tag} ${r}${payload.length}\r\n`, EMPTY, payload);
    }
  }

  expired(sub: Subscription): void {
    if (this.sids.get(sub.tag) === sub) this.sids.delete(sub.tag);
  }

  // --- Server side ----------------------------------------------------------------------------

  /** A server PING (keep-alive); server.ts counts the unanswered ones. */
  sendPing(): void {
    this.pingsOut++;
    this.text("PING\r\n");
  }

  /** Writes -ERR `text` and closes (stale connection, shutdown). */
  fail(text: string): void {
    if (this.closed || this.closing) return;
    this.text(`-ERR '${text}'\r\n`);
    this.closeAfterFlush();
  }

  /** Graceful close: what is queued is written first. */
  close(): void {
    this.closeAfterFlush();
  }

  private answerNoResponders(reply: string): void {
    // The status goes to this client's own subscription on the reply subject (its inbox).
    const m = this.opts.bus.match(reply);
    for (const sub of m.plain)
      if (sub.owner === this && !sub.closed) this.deliver(sub, reply, undefined, NO_RESPONDERS, EMPTY);
  }

  private ok(): void {
    if (this.verbose) this.text("+OK\r\n");
  }

  private text(s: string): void {
    this.message(s, EMPTY, EMPTY, false);
  }

  /** Queues `line` + `a` + `b` (+ CRLF after a payload) for the next flush. */
  private message(line: string, a: Uint8Array, b: Uint8Array, payload = true): void {
    if (this.closed) return;
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const need = line.length * 3 + a.length + b.length + (payload ? 2 : 0);
    if (this.outLen + need > this.out.length) {
      this.flush();
      if (need > this.out.length) {
        // A big message goes out as its own buffers rather than through the chunk.
        this.write(Buffer.from(line, "utf8"));
        if (a.length > 0) this.write(Buffer.from(a));
        if (b.length > 0) this.write(Buffer.from(b));
        if (payload) this.write(CRLF);
        return;
      }
    }
    const out = this.out;
    let n = this.outLen;
    n += out.write(line, n, "utf8");
    if (a.length > 0) {
      out.set(a, n);
      n += a.length;
    }
    if (b.length > 0) {
      out.set(b, n);
      n += b.length;
    }
    if (payload) {
      out[n++] = 0x0d;
      out[n++] = 0x0a;
    }
    this.outLen = n;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.outLen === 0 || this.closed) return;
    // A mostly empty chunk is copied out and reused; a full one is handed over whole.
    let chunk: Buffer;
    if (this.outLen < this.out.length / 4) chunk = Buffer.from(this.out.subarray(0, this.outLen));
    else {
      chunk = this.out.subarray(0, this.outLen);
      this.out = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
    }
    this.outLen = 0;
    this.write(chunk);
  }

  private write(buf: Buffer): void {
    if (this.closed) return;
    this.socket.write(buf);
    if (this.socket.writableLength > this.opts.limits.pendingBytesMax) this.slowConsumer();
  }

  private slowConsumer(): void {
    this.opts.logger?.info(
      { client: this.clientName, pendingBytes: this.socket.writableLength },
      "nats slow consumer: disconnected",
    );
    // Its queue is full, so nothing more is written to it (nats-server just closes too).
    this.socket.destroy();
    this.cleanup();
  }

  private closeAfterFlush(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    this.socket.pause();
    this.flush();
    this.socket.end();
    // A client that never reads its last bytes must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.sids.values()) this.opts.bus.unsubscribe(sub);
    this.sids.clear();
    assert(this.sids.size === 0, "subscriptions left after close");
    this.opts.onClose(this);
  }
}
