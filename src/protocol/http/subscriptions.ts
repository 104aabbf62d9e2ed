/**
 * Change subscriptions over WebSocket and Server-Sent Events, in HarperDB's message shape:
 *   {"id":"a1","localTime":<ms>,"value":{...},"version":<n>,"type":"put"}   (a write)
 *   {"id":"a1","localTime":<ms>,"version":<n>,"type":"delete"}             (a delete)
 * A record subscription first sends the record's current value (nothing if it does not exist
 * yet); a table subscription first sends every record. Then each committed change, once, in
 * commit order (tables.ts, invariant 2). `version` is the offset of the change record in the
 * table's Kafka topic, so it orders a subscriber's messages and names the change in the log.
 *
 * SSE frames are `id: <epoch>:<version>\ndata: <json>\n\n`; after the snapshot an `id:` frame
 * without data marks the position it stands for. (The epoch, the table's change-topic uuid, tells
 * a recreated table of the same name, or a table of another data directory, from the one the
 * client saw.) A client that reconnects with `Last-Event-ID` (EventSource does
 * it by itself) gets every change after that version from the table's change topic and then live
 * ones: no change lost or repeated across reconnects. When those changes are no longer in the
 * topic (retention), or the id is not this table's, it gets an `event: reset` frame and starts over
 * from a snapshot.
 *
 * Flow control: the snapshot (or backlog) is written as the connection drains, with live changes
 * queued behind it; afterwards a subscriber more than SUBSCRIBER_PENDING_BYTES_MAX behind is
 * disconnected, so one stalled reader holds a bounded amount of memory.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { ChangeEvent, Subscription, Tables } from "../../tables/tables.js";

/** Unsent bytes a subscriber may fall behind by before it is disconnected as too slow. */
export const SUBSCRIBER_PENDING_BYTES_MAX = 8 * 1024 * 1024;
/** While sending a snapshot, wait for the connection to drain past this many unsent bytes. */
export const SNAPSHOT_HIGH_WATER_BYTES = 1024 * 1024;
/** A subscriber whose connection takes no more of its snapshot for this long is cut off. */
export const SNAPSHOT_STALL_MS = 30_000;
/** After saying goodbye (close frame, final event), how long a connection may take to go. */
export const CLOSE_GRACE_MS = 1000;
/** SSE comment sent on idle streams so that proxies and clients see the stream alive. */
export const SSE_KEEPALIVE_MS = 30_000;
/** WebSocket ping interval; a peer that has not answered the previous ping is disconnected. */
export const WS_PING_INTERVAL_MS = 30_000;

function message(
  id: string,
  value: string | null,
  version: number,
  type: "put" | "delete",
  localTime: number,
) {
  const v = value === null ? "" : `"value":${value},`;
  return `{"id":${JSON.stringify(id)},"localTime":${localTime},${v}"version":${version},"type":"${type}"}`;
}

function changeMessage(ev: ChangeEvent): string {
  // A patch is delivered as the whole record it left, as HarperDB does.
  return message(ev.id, ev.value, ev.version, ev.type === "delete" ? "delete" : "put", ev.timestampMs);
}

/** One subscriber's connection, whatever carries it. */
interface Outlet {
  write(frame: string): void;
  /** Bytes written but not yet handed to the kernel. */
  pending(): number;
  /** Resolves when pending() is low again or the connection is gone. */
  drained(): Promise<void>;
  /** Ends the connection from this side, saying why. */
  end(reason: string, code: number): void;
  readonly gone: boolean;
}

/**
 * Feeds one subscription to an outlet: the initial frames with backpressure, live frames queued
 * behind them, then live frames directly while the subscriber keeps up.
 */
class Feed {
  private pumping = true;
  private queue: string[] = [];
  private queuedBytes = 0;
  private dead = false;

  constructor(
    private readonly outlet: Outlet,
    private readonly onSlow: () => void,
  ) {}

  live(frame: string): void {
    if (this.dead || this.outlet.gone) return;
    if (this.pumping) {
      this.queue.push(frame);
      this.queuedBytes += Buffer.byteLength(frame);
      if (this.queuedBytes > SUBSCRIBER_PENDING_BYTES_MAX) this.slow();
      return;
    }
    if (this.outlet.pending() > SUBSCRIBER_PENDING_BYTES_MAX) {
      this.slow();
      return;
    }
    this.outlet.write(frame);
  }

  async start(initial: readonly string[]): Promise<void> {
    for (const frame of initial) {
      if (this.dead || this.outlet.gone) return;
      this.outlet.write(frame);
      if (this.outlet.pending() > SNAPSHOT_HIGH_WATER_BYTES) await this.drainedOrSlow();
    }
    while (this.queue.length > 0) {
      if (this.dead || this.outlet.gone) return;
      const batch = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      for (const frame of batch) this.outlet.write(frame);
      if (this.outlet.pending() > SNAPSHOT_HIGH_WATER_BYTES) await this.drainedOrSlow();
    }
    this.pumping = false;
  }

  /** Waits for the connection to drain; one that makes no progress for SNAPSHOT_STALL_MS is cut. */
  private async drainedOrSlow(): Promise<void> {
    const drained = this.outlet.drained().then(() => true);
    for (;;) {
      const before = this.outlet.pending();
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), SNAPSHOT_STALL_MS);
      });
      const done = await Promise.race([drained, waited]);
      clearTimeout(timer);
      if (done || this.dead || this.outlet.gone) return;
      // Slow but moving is fine; taking nothing for a whole period is a stall.
      if (this.outlet.pending() >= before) {
        this.slow();
        return;
      }
    }
  }

  private slow(): void {
    if (this.dead) return;
    this.dead = true;
    this.queue = [];
    this.onSlow();
  }

  stop(): void {
    this.dead = true;
    this.queue = [];
  }
}

export class SubscriptionHub {
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly tables: Tables,
    private readonly logger: Logger | undefined,
  ) {}

  /** Subscribes a WebSocket; errors (no such table) are sent as one JSON message, then it closes. */
  websocket(socket: WebSocket, table: string, id: string | undefined): void {
    let unsent = 0;
    const outlet: Outlet = {
      write: (frame) => {
        const bytes = Buffer.byteLength(frame);
        unsent += bytes;
        socket.send(frame, () => {
          unsent -= bytes;
        });
      },
      pending: () => unsent,
      drained: () =>
        new Promise<void>((resolve) => {
          const check = () =>
            unsent <= SNAPSHOT_HIGH_WATER_BYTES / 2 || outlet.gone ? resolve() : setTimeout(check, 5);
          check();
        }),
      end: (reason, code) => {
        socket.close(code, reason.slice(0, 120));
        setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
      },
      get gone() {
        return socket.readyState !== socket.OPEN;
      },
    };
    let sub: Subscription | undefined;
    const feed = new Feed(outlet, () => {
      this.logger?.warn({ table, id }, "WebSocket subscriber too slow; disconnecting");
      socket.terminate();
    });
    try {
      sub = this.tables.subscribe(table, id, (ev) => feed.live(changeMessage(ev)), {
        onEnd: (reason) => {
          feed.stop();
          if (!outlet.gone) {
            socket.send(JSON.stringify({ error: reason }));
            outlet.end(reason, 1000);
          }
        },
      });
    } catch (err) {
      socket.send(JSON.stringify({ error: (err as Error).message }));
      socket.close(1008, "subscription refused");
      return;
    }
    let alive = true;
    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, WS_PING_INTERVAL_MS);
    ping.unref();
    socket.on("pong", () => {
      alive = true;
    });
    const close = () => {
      clearInterval(ping);
      feed.stop();
      sub?.close();
      this.closers.delete(shutdown);
    };
    const shutdown = () => {
      close();
      socket.close(1001, "server shutting down");
      // A peer that reads nothing never lets the close frame out, and the server's close waits
      // for every upgraded socket: cut it after a moment.
      setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
    };
    this.closers.add(shutdown);
    socket.on("close", close);
    socket.on("error", close);
    // Messages from the client are not part of the protocol; they are ignored.
    const now = Date.now();
    void feed.start(sub.snapshot.map((r) => message(r.id, r.value, r.version, "put", now)));
  }

  /** Answers a GET with Accept: text/event-stream; errors before the stream starts are JSON 4xx. */
  sse(req: FastifyRequest, reply: FastifyReply, table: string, id: string | undefined): void {
    const res = reply.raw;
    const outlet: Outlet = {
      write: (frame) => {
        res.write(frame);
      },
      pending: () => res.writableLength,
      drained: () =>
        new Promise<void>((resolve) => {
          if (res.destroyed || res.writableLength === 0) return resolve();
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        }),
      end: () => {
        if (res.destroyed) return;
        res.end();
        // A client that reads nothing would hold the response (and its buffers) open.
        setTimeout(() => res.destroy(), CLOSE_GRACE_MS).unref();
      },
      get gone() {
        return res.destroyed || res.writableEnded;
      },
    };
    const feed = new Feed(outlet, () => {
      this.logger?.warn({ table, id }, "SSE subscriber too slow; disconnecting");
      res.destroy();
    });
    const last = /^([0-9a-f-]{36}):(\d{1,15})$/.exec(String(req.headers["last-event-id"] ?? "").trim());
    let sub: Subscription | undefined = this.tables.subscribe(
      table,
      id,
      (ev) => feed.live(`id: ${epoch}:${ev.version}\ndata: ${changeMessage(ev)}\n\n`),
      {
        epoch: last ? last[1] : undefined,
        afterVersion: last ? Number(last[2]) : undefined,
        onEnd: (reason) => {
          feed.stop();
          if (!outlet.gone) res.write(`event: error\ndata: ${JSON.stringify({ error: reason })}\n\n`);
          outlet.end(reason, 0);
        },
      },
    );
    const epoch = sub.epoch;
    reply.hijack();
    res.writeHead(200, {
      // Headers hooks set on the reply (CORS) would be lost with the hijack: carry them over.
      ...(reply.getHeaders() as Record<string, string | string[]>),
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    // Headers now, not with the first frame: the client sees the stream open at once.
    res.flushHeaders();
    const keepalive = setInterval(() => {
      if (!outlet.gone) res.write(": keep-alive\n\n");
    }, SSE_KEEPALIVE_MS);
    keepalive.unref();
    const close = () => {
      clearInterval(keepalive);
      feed.stop();
      sub?.close();
      sub = undefined;
      this.closers.delete(close);
      if (!res.destroyed) res.end();
    };
    this.closers.add(close);
    req.raw.on("close", close);
    res.on("error", close);
    const initial: string[] = [];
    if (sub.resumed) {
      for (const ev of sub.backlog)
        initial.push(`id: ${epoch}:${ev.version}\ndata: ${changeMessage(ev)}\n\n`);
    } else {
      const now = Date.now();
      // Asked to resume but cannot (the changes are gone, or the id is not this table's): say
      // so before the snapshot, so a client that keeps state knows to drop what it holds.
      if (last)
        initial.push(
          `event: reset\ndata: ${JSON.stringify({ reason: `cannot resume after ${last[0]}; a snapshot follows` })}\n\n`,
        );
      for (const r of sub.snapshot)
        initial.push(`data: ${message(r.id, r.value, r.version, "put", now)}\n\n`);
      // No event, only the position: EventSource's Last-Event-ID becomes the snapshot's.
      if (sub.highWatermark > 0) initial.push(`id: ${epoch}:${sub.highWatermark - 1}\n\n`);
    }
    void feed.start(initial);
  }

  /** Ends every subscription (shutdown). */
  closeAll(): void {
    for (const c of [...this.closers]) c();
  }
}
