/**
 * A loopback TCP fault proxy: listens on 127.0.0.1 and forwards every connection to one
 * loopback target, injecting faults on command. Used by the exactly-once tests and by
 * `oncedb verify` to make requests die mid-flight.
 *
 * Faults (all may be combined; `heal()` clears them):
 *  - dropAll():             destroy every open connection now.
 *  - dropMidRequest(p, q):  when a client->server chunk is forwarded, with probability p forward
 *                           a random prefix of it (possibly all of it, so the server may process
 *                           the request) and then close both sides; when a server->client chunk
 *                           is forwarded, with probability q do the same (the response is lost
 *                           after the server acted on the request).
 *  - delay(ms):             hold every chunk this long before forwarding it.
 *  - stall(ms):             forward nothing for this long (chunks queue, bounded).
 *
 * Response framing. With `responseFraming: "int32"` (Kafka's framing: a big-endian int32 length,
 * then that many bytes) the proxy forwards server->client bytes only as whole frames, decides a
 * response cut per frame (the frame is lost whole), and closes the client side with end() so the
 * frames already forwarded arrive whole. A client then never holds part of a response when its
 * connection dies. kafkajs 2.2.4 needs this: its Connection keeps a partly received response
 * across a reconnect and misreads every later response on the new socket as garbage.
 * Requests are still cut anywhere, mid-frame included.
 *
 * Invariants
 *  1. Only loopback addresses are listened on or forwarded to (asserted).
 *  2. Bytes of one direction of one connection are forwarded in order, never reordered or
 *     duplicated; a fault only truncates the stream and ends the connection.
 *  3. Memory is bounded: at most `maxConnections` connections, and per direction at most about
 *     `maxQueuedBytes` queued (the source socket is paused above it and resumed below half).
 *  4. Randomness comes only from the injected `rng`, so a seed reproduces the fault decisions
 *     for the same sequence of chunks.
 *  5. close() stops the listener, ends every connection and clears every timer.
 */
import net from "node:net";
import { assert } from "../util/assert.js";

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: a small, fast, seedable PRNG (not cryptographic). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface NetProxyLimits {
  /** Connections held at once; more are refused (closed on accept). */
  readonly maxConnections: number;
  /** Bytes queued per direction of a connection before its source is paused. */
  readonly maxQueuedBytes: number;
  /** Longest delay() or stall() accepted, so a typo cannot freeze a run for hours. */
  readonly maxHoldMs: number;
  /** How long a connection half-closed by a fault may linger before it is destroyed. */
  readonly closeGraceMs: number;
  /** How long to wait for the target to accept a connection. */
  readonly connectTimeoutMs: number;
  /** With int32 response framing: a larger response frame ends the connection. */
  readonly maxFrameBytes: number;
}

export const NET_PROXY_LIMITS_DEFAULT: NetProxyLimits = {
  maxConnections: 256,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxHoldMs: 60_000,
  closeGraceMs: 1000,
  connectTimeoutMs: 5000,
  maxFrameBytes: 64 * 1024 * 1024,
};

export interface NetProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly rng: Rng;
  readonly limits?: Partial<NetProxyLimits>;
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly listenPort?: number;
  /** "none" (default): bytes pass as they come. "int32": see the file comment. */
  readonly responseFraming?: "none" | "int32";
}

export interface NetProxyStats {
  /** Connections accepted (including refused ones). */
  accepted: number;
  /** Connections refused because of maxConnections. */
  refused: number;
  /** Connections currently open. */
  open: number;
  /** Connections ended by a fault (dropAll, dropMidRequest, upstream connect failure excluded). */
  dropped: number;
  /** Of those: cut while forwarding a client->server chunk. */
  droppedRequests: number;
  /** Of those: cut while forwarding a server->client chunk. */
  droppedResponses: number;
  bytesToServer: number;
  bytesToClient: number;
  /** Connections ended because a response frame exceeded maxFrameBytes. */
  oversizedFrames: number;
  /** Bytes held in queues right now, all connections and directions. */
  queuedBytes: number;
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (host.startsWith("::ffff:")) return isLoopbackHost(host.slice(7));
  return false;
}

type Direction = "toServer" | "toClient";

interface Queued {
  readonly chunk: Buffer;
  releaseAt: number;
}

/** One direction of one connection: a FIFO from `src` to `dst`. */
class Pipe {
  readonly queue: Queued[] = [];
  queuedBytes = 0;
  timer: NodeJS.Timeout | null = null;
  waitingDrain = false;
  pausedForQueue = false;
  /** The source ended: end the destination once the queue is flushed. */
  ended = false;
  /** int32 framing: bytes of the frame being assembled (queued as a whole once complete). */
  partial: Buffer[] = [];
  partialBytes = 0;

  constructor(
    readonly dir: Direction,
    readonly src: net.Socket,
    readonly dst: net.Socket,
  ) {}
}

class Conn {
  readonly toServer: Pipe;
  readonly toClient: Pipe;
  connected = false;
  closed = false;
  graceTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly client: net.Socket,
    readonly server: net.Socket,
  ) {
    this.toServer = new Pipe("toServer", client, server);
    this.toClient = new Pipe("toClient", server, client);
  }
}

export class NetProxy {
  private readonly limits: NetProxyLimits;
  private readonly rng: Rng;
  private readonly target: { host: string; port: number };
  private readonly listener: net.Server;
  private readonly conns = new Set<Conn>();
  private listening = false;
  private closed = false;
  private readonly framed: boolean;
  private requestDropP = 0;
  private responseDropP = 0;
  private delayMs = 0;
  private stalledUntil = 0;
  private readonly statsValue: NetProxyStats = {
    accepted: 0,
    refused: 0,
    open: 0,
    dropped: 0,
    droppedRequests: 0,
    droppedResponses: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    oversizedFrames: 0,
    queuedBytes: 0,
  };

  constructor(private readonly opts: NetProxyOptions) {
    assert(isLoopbackHost(opts.target.host), `net proxy target must be loopback, got ${opts.target.host}`);
    assert(
      Number.isInteger(opts.target.port) && opts.target.port > 0 && opts.target.port < 65536,
      `bad target port ${opts.target.port}`,
    );
    this.limits = { ...NET_PROXY_LIMITS_DEFAULT, ...opts.limits };
    assert(this.limits.maxConnections > 0 && this.limits.maxQueuedBytes > 0, "limits must be positive");
    this.rng = opts.rng;
    this.framed = opts.responseFraming === "int32";
    this.target = { host: opts.target.host, port: opts.target.port };
    this.listener = net.createServer({ allowHalfOpen: false }, (client) => this.accept(client));
  }

  /** Starts listening on 127.0.0.1; resolves with the port. */
  async listen(): Promise<number> {
    assert(!this.listening && !this.closed, "net proxy already started or closed");
    await new Promise<void>((resolve, reject) => {
      this.listener.once("error", reject);
      this.listener.listen(this.opts.listenPort ?? 0, "127.0.0.1", () => {
        this.listener.off("error", reject);
        resolve();
      });
    });
    this.listening = true;
    return this.port;
  }

  get port(): number {
    const a = this.listener.address();
    assert(a !== null && typeof a === "object", "net proxy is not listening");
    return a.port;
  }

  /** "127.0.0.1:PORT" of the proxy. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A copy of the counters. */
  get stats(): NetProxyStats {
    let queuedBytes = 0;
    for (const c of this.conns) queuedBytes += c.toServer.queuedBytes + c.toClient.queuedBytes;
    return { ...this.statsValue, open: this.conns.size, queuedBytes };
  }

  /** Destroys every open connection now; returns how many. */
  dropAll(): number {
    const n = this.conns.size;
    for (const c of [...this.conns]) this.destroy(c, true);
    return n;
  }

  /**
   * Cuts connections mid-request with probability `requestP` per client->server chunk and
   * mid-response with probability `responseP` (default: the same) per server->client chunk.
   */
  dropMidRequest(requestP: number, responseP = requestP): void {
    assert(requestP >= 0 && requestP <= 1 && responseP >= 0 && responseP <= 1, "probabilities in [0, 1]");
    this.requestDropP = requestP;
    this.responseDropP = responseP;
  }

  /** Holds every chunk `ms` before forwarding it (0 turns it off). */
  delay(ms: number): void {
    assert(ms >= 0 && ms <= this.limits.maxHoldMs, `delay ${ms} ms outside 0..${this.limits.maxHoldMs}`);
    this.delayMs = ms;
  }

  /** Forwards nothing for `ms` from now. */
  stall(ms: number): void {
    assert(ms >= 0 && ms <= this.limits.maxHoldMs, `stall ${ms} ms outside 0..${this.limits.maxHoldMs}`);
    this.stalledUntil = Date.now() + ms;
    for (const c of this.conns) {
      this.pump(c, c.toServer);
      this.pump(c, c.toClient);
    }
  }

  /** Clears every fault; queued chunks flow again. */
  heal(): void {
    this.requestDropP = 0;
    this.responseDropP = 0;
    this.delayMs = 0;
    this.stalledUntil = 0;
    for (const c of this.conns) {
      for (const q of [...c.toServer.queue, ...c.toClient.queue]) q.releaseAt = 0;
      this.pump(c, c.toServer);
      this.pump(c, c.toClient);
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns]) this.destroy(c, false, true);
    if (this.listening) await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.listening = false;
  }

  // ------------------------------------------------------------------ internals

  private accept(client: net.Socket): void {
    this.statsValue.accepted++;
    if (this.closed || this.conns.size >= this.limits.maxConnections) {
      this.statsValue.refused++;
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const server = net.connect({ host: this.target.host, port: this.target.port });
    server.setNoDelay(true);
    const c = new Conn(client, server);
    this.conns.add(c);
    const connectTimer = setTimeout(() => {
      if (!c.connected) this.destroy(c, false);
    }, this.limits.connectTimeoutMs);
    server.once("connect", () => {
      clearTimeout(connectTimer);
      c.connected = true;
      this.pump(c, c.toServer);
    });
    for (const pipe of [c.toServer, c.toClient]) {
      pipe.src.on("data", (chunk: Buffer) => this.onData(c, pipe, chunk));
      pipe.src.on("end", () => {
        pipe.ended = true;
        this.pump(c, pipe);
      });
      pipe.src.on("error", () => this.destroy(c, false));
      pipe.src.on("close", () => {
        clearTimeout(connectTimer);
        this.onClose(c);
      });
      pipe.dst.on("drain", () => {
        pipe.waitingDrain = false;
        this.pump(c, pipe);
      });
    }
  }

  private onData(c: Conn, pipe: Pipe, data: Buffer): void {
    if (c.closed) return;
    if (pipe.dir === "toClient" && this.framed) {
      // Only one frame is assembled at a time, so maxFrameBytes bounds `partial`.
      for (const frame of this.deframe(c, pipe, data)) this.enqueue(c, pipe, frame);
    } else {
      this.enqueue(c, pipe, data);
    }
    this.pump(c, pipe);
  }

  /** Splits `data` into complete int32-length-prefixed frames; keeps the rest in `pipe.partial`. */
  private deframe(c: Conn, pipe: Pipe, data: Buffer): Buffer[] {
    pipe.partial.push(data);
    pipe.partialBytes += data.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (pipe.partialBytes < 4) break;
      const head = pipe.partial.length === 1 ? pipe.partial[0]! : Buffer.concat(pipe.partial);
      pipe.partial = [head];
      const size = 4 + head.readUInt32BE(0);
      if (size > this.limits.maxFrameBytes) {
        this.statsValue.oversizedFrames++;
        this.destroy(c, false);
        return [];
      }
      if (head.length < size) break;
      frames.push(head.subarray(0, size));
      const rest = head.subarray(size);
      pipe.partial = rest.length > 0 ? [rest] : [];
      pipe.partialBytes = rest.length;
    }
    return frames;
  }

  private enqueue(c: Conn, pipe: Pipe, chunk: Buffer): void {
    if (c.closed) return;
    const now = Date.now();
    const last = pipe.queue[pipe.queue.length - 1];
    // Release times never decrease, so a shorter delay set later cannot reorder chunks.
    const releaseAt = Math.max(now + this.delayMs, last ? last.releaseAt : 0);
    pipe.queue.push({ chunk, releaseAt });
    pipe.queuedBytes += chunk.length;
    if (pipe.queuedBytes > this.limits.maxQueuedBytes && !pipe.pausedForQueue) {
      pipe.pausedForQueue = true;
      pipe.src.pause();
    }
  }

  private pump(c: Conn, pipe: Pipe): void {
    if (c.closed || pipe.waitingDrain) return;
    if (pipe.dir === "toServer" && !c.connected) return;
    if (pipe.timer) {
      clearTimeout(pipe.timer);
      pipe.timer = null;
    }
    const now = Date.now();
    while (pipe.queue.length > 0) {
      const head = pipe.queue[0]!;
      const readyAt = Math.max(head.releaseAt, this.stalledUntil);
      if (readyAt > now) {
        pipe.timer = setTimeout(() => {
          pipe.timer = null;
          this.pump(c, pipe);
        }, readyAt - now);
        return;
      }
      pipe.queue.shift();
      pipe.queuedBytes -= head.chunk.length;
      const p = pipe.dir === "toServer" ? this.requestDropP : this.responseDropP;
      if (p > 0 && this.rng() < p) {
        this.cut(c, pipe, head.chunk);
        return;
      }
      if (pipe.dir === "toServer") this.statsValue.bytesToServer += head.chunk.length;
      else this.statsValue.bytesToClient += head.chunk.length;
      if (!pipe.dst.write(head.chunk)) {
        pipe.waitingDrain = true;
        return;
      }
    }
    if (pipe.ended) {
      if (!pipe.dst.writableEnded) pipe.dst.end();
      return;
    }
    if (pipe.pausedForQueue && pipe.queuedBytes <= this.limits.maxQueuedBytes / 2) {
      pipe.pausedForQueue = false;
      pipe.src.resume();
    }
  }

  /**
   * Ends the connection on a fault while forwarding `chunk` (already taken off the queue): the
   * server gets a random prefix of a request chunk (0..all bytes); the client gets a random
   * prefix of a response chunk, or with int32 framing nothing of the response frame.
   */
  private cut(c: Conn, pipe: Pipe, chunk: Buffer): void {
    const wholeFrames = pipe.dir === "toClient" && this.framed;
    const n = wholeFrames ? 0 : Math.min(chunk.length, Math.floor(this.rng() * (chunk.length + 1)));
    if (pipe.dir === "toServer") this.statsValue.droppedRequests++;
    else this.statsValue.droppedResponses++;
    this.statsValue.dropped++;
    c.closed = true;
    this.clearPipes(c);
    if (pipe.dir === "toServer") {
      // end() flushes the prefix before the FIN, so the server may process a whole request
      // whose answer is then lost.
      c.server.end(chunk.subarray(0, n));
      this.closeClient(c);
    } else {
      c.server.destroy();
      if (n > 0) c.client.write(chunk.subarray(0, n));
      this.closeClient(c);
    }
  }

  /** end(), not destroy(): whatever was written (whole frames, with int32 framing) arrives. */
  private closeClient(c: Conn): void {
    if (!c.client.writableEnded) c.client.end();
    if (!c.graceTimer)
      c.graceTimer = setTimeout(() => this.destroy(c, false, true), this.limits.closeGraceMs);
  }

  /** One socket closed: forget the connection when both have; never wait past the grace. */
  private onClose(c: Conn): void {
    if (c.client.closed && c.server.closed) {
      this.destroy(c, false, true);
      return;
    }
    if (!c.graceTimer)
      c.graceTimer = setTimeout(() => this.destroy(c, false, true), this.limits.closeGraceMs);
  }

  private clearPipes(c: Conn): void {
    for (const pipe of [c.toServer, c.toClient]) {
      if (pipe.timer) clearTimeout(pipe.timer);
      pipe.timer = null;
      pipe.queue.length = 0;
      pipe.queuedBytes = 0;
      pipe.partial = [];
      pipe.partialBytes = 0;
    }
  }

  /**
   * Ends a connection. Without `force`, with int32 framing, the client side is ended (so it gets
   * whole frames only) and destroyed after the grace period.
   */
  private destroy(c: Conn, countAsDrop: boolean, force = false): void {
    if (!this.conns.has(c)) return;
    if (countAsDrop && !c.closed) this.statsValue.dropped++;
    c.closed = true;
    this.clearPipes(c);
    c.server.destroy();
    if (this.framed && !force && !c.client.destroyed) {
      this.closeClient(c);
      return;
    }
    if (c.graceTimer) clearTimeout(c.graceTimer);
    c.graceTimer = null;
    this.conns.delete(c);
    c.client.destroy();
  }
}
