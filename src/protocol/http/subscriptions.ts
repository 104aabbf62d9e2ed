/**
 * Change subscriptions over WebSocket and Server-Sent Events, in HarperDB's message shape:
 *   {"id":"a1","localTime":<ms>,"value":{...},"version":<n>,"type":"put"}   (a write)
 *   {"id":"a1","localTime":<ms>,"version":<n>,"type":"delete"}             (a delete)
 * A record subscription first sends the record's current value (nothing if it does not exist
 * yet); a table subscription first sends every record. Then each committed change, once, in
 * commit order (tables.ts, invariant 2). `version` is the offset of the change record in the
 * table's Kafka topic, so it orders a subscriber's messages and names the change in the log.
 * SSE frames are `id: <version>\ndata: <json>\n\n`; after the snapshot an `id:` frame without data
 * marks the position it stands for. A client that reconnects with `Last-Event-ID` (EventSource does
 * it by itself) gets every change after that version from the table's change topic and then live
 * ones: no change lost or repeated across reconnects. When those changes are no longer in the
 * topic (retention) it starts over from a snapshot.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { ChangeEvent, Subscription, Tables } from "../../tables/tables.js";

/** Unsent bytes a subscriber may fall behind by before it is disconnected as too slow. */
export const SUBSCRIBER_PENDING_BYTES_MAX = 8 * 1024 * 1024;
/** SSE comment sent on idle streams so that proxies and clients see the stream alive. */
export const SSE_KEEPALIVE_MS = 30_000;

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

export class SubscriptionHub {
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly tables: Tables,
    private readonly logger: Logger | undefined,
  ) {}

  /** Subscribes a WebSocket; errors (no such table) are sent as one JSON message, then it closes. */
  websocket(socket: WebSocket, table: string, id: string | undefined): void {
    let sub: Subscription;
    const send = (text: string) => {
      if (socket.bufferedAmount > SUBSCRIBER_PENDING_BYTES_MAX) {
        this.logger?.warn({ table, id }, "WebSocket subscriber too slow; disconnecting");
        socket.terminate();
        return;
      }
      socket.send(text);
    };
    try {
      sub = this.tables.subscribe(table, id, (ev) => send(changeMessage(ev)));
    } catch (err) {
      socket.send(JSON.stringify({ error: (err as Error).message }));
      socket.close(1008, "subscription refused");
      return;
    }
    const close = () => {
      sub.close();
      this.closers.delete(shutdown);
    };
    const shutdown = () => {
      close();
      socket.close(1001, "server shutting down");
    };
    this.closers.add(shutdown);
    socket.on("close", close);
    socket.on("error", close);
    // Messages from the client are not part of the protocol; they are ignored.
    const now = Date.now();
    for (const r of sub.snapshot) send(message(r.id, r.value, r.version, "put", now));
  }

  /** Answers a GET with Accept: text/event-stream; errors before the stream starts are JSON 4xx. */
  sse(req: FastifyRequest, reply: FastifyReply, table: string, id: string | undefined): void {
    const res = reply.raw;
    let sub: Subscription | undefined;
    const send = (frame: string) => {
      if (res.writableLength > SUBSCRIBER_PENDING_BYTES_MAX) {
        this.logger?.warn({ table, id }, "SSE subscriber too slow; disconnecting");
        res.destroy();
        return;
      }
      res.write(frame);
    };
    const last = req.headers["last-event-id"];
    const afterVersion =
      typeof last === "string" && /^\d{1,15}$/.test(last.trim()) ? Number(last) : undefined;
    sub = this.tables.subscribe(
      table,
      id,
      (ev) => send(`id: ${ev.version}\ndata: ${changeMessage(ev)}\n\n`),
      {
        afterVersion,
      },
    );
    reply.hijack();
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    const keepalive = setInterval(() => res.write(": keep-alive\n\n"), SSE_KEEPALIVE_MS);
    keepalive.unref();
    const close = () => {
      clearInterval(keepalive);
      sub?.close();
      sub = undefined;
      this.closers.delete(close);
      if (!res.destroyed) res.end();
    };
    this.closers.add(close);
    req.raw.on("close", close);
    res.on("error", close);
    if (sub.resumed) {
      for (const ev of sub.backlog) send(`id: ${ev.version}\ndata: ${changeMessage(ev)}\n\n`);
    } else {
      const now = Date.now();
      for (const r of sub.snapshot) send(`data: ${message(r.id, r.value, r.version, "put", now)}\n\n`);
      // No event, only the position: EventSource's Last-Event-ID becomes the snapshot's.
      if (sub.highWatermark > 0) send(`id: ${sub.highWatermark - 1}\n\n`);
    }
  }

  /** Ends every subscription (shutdown). */
  closeAll(): void {
    for (const c of [...this.closers]) c();
  }
}
