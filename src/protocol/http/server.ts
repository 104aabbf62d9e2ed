/**
 * The HTTP listener (fastify): tables over REST in HarperDB's shape (rest.ts), HarperDB's
 * Operations API on `POST /` (operations.ts), and change subscriptions over WebSocket and
 * Server-Sent Events (subscriptions.ts). A thin layer over `engine.tables`: it parses requests,
 * maps errors to status codes, and writes responses.
 *
 * Errors are JSON objects `{"error": "..."}` with a 4xx status for what the client did wrong,
 * and 503 when storage failed (the write may be retried).
 */

import type { Socket } from "node:net";
import cors from "@fastify/cors";
import websocket from "@fastify/websocket";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Engine } from "../../engine/engine.js";
import { EngineError } from "../../engine/errors.js";
import { TableError, type TableErrorCode } from "../../tables/errors.js";
import { TableLimits } from "../../tables/tables.js";
import { type HttpRequestEvent, httpRequestChannel, wallNowMs } from "../../util/diagnostics.js";
import { servesHost } from "../../util/loopback.js";
import { registerOperations } from "./operations.js";
import { registerRest } from "./rest.js";
import { SubscriptionHub } from "./subscriptions.js";

/** Largest request body: one call's writes (TableLimits.writeBytesPerCallMax) plus JSON framing. */
export const HTTP_BODY_BYTES_MAX = TableLimits.writeBytesPerCallMax + 1024 * 1024;
/** Open HTTP connections at once (keep-alive, SSE and WebSocket included). */
export const HTTP_CONNECTIONS_MAX = 10_000;
/** Idle keep-alive connections are closed after this long (Node's default is 5 s). */
export const HTTP_KEEP_ALIVE_MS = 60_000;
/** At shutdown, connections still open this long after close() began are cut. */
export const HTTP_CLOSE_GRACE_MS = 2000;
/** A request (headers and body) must arrive within this long, so a half-sent one cannot hold a connection. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;

export interface HttpServerOptions {
  engine: Engine;
  host: string;
  port: number;
  logger?: Logger;
  /**
   * Origins whose pages may call the API and subscribe (CORS, and the Origin of WebSocket
   * upgrades); "*" allows any. Default none: with no authentication yet, a page on some other
   * site must not be able to write to a developer's local database.
   */
  corsOrigins?: readonly string[];
}

/** Whether a browser request from `origin` is allowed: same origin, or listed. */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true; // not from a browser page
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

/** Origins as given to --cors, normalised (scheme://host[:port], lower case); "*" stays. */
export function normalizeOrigins(origins: readonly string[]): string[] {
  return origins.map((o) => {
    if (o === "*") return o;
    try {
      return new URL(o).origin;
    } catch {
      throw new Error(`--cors: ${JSON.stringify(o)} is not an origin such as http://localhost:3000`);
    }
  });
}

const STATUS_OF: Record<TableErrorCode, number> = {
  TABLE_NOT_FOUND: 404,
  RECORD_NOT_FOUND: 404,
  EXISTS: 409,
  INVALID: 400,
  LIMIT: 413,
  UNAVAILABLE: 503,
};

/**
 * Refuses a write while the engine's write queue is over its limit (503 with retry-after, through
 * sendError) instead of queuing without bound; every write route calls it first.
 */
export function assertWritable(engine: Engine): void {
  if (engine.overloaded) throw new TableError("UNAVAILABLE", "write queue full; retry");
}

/** Sends an error as `{"error": message}` with the status its cause calls for. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof TableError) {
    if (err.code === "UNAVAILABLE") reply.header("retry-after", "1");
    return reply.code(STATUS_OF[err.code]).send({ error: err.message });
  }
  if (err instanceof EngineError) {
    if (err.code === "KAFKA_STORAGE_ERROR")
      return reply.code(503).header("retry-after", "1").send({ error: err.message });
    if (err.code === "UNKNOWN_TOPIC_OR_PARTITION") return reply.code(404).send({ error: err.message });
    if (err.code === "MESSAGE_TOO_LARGE") return reply.code(413).send({ error: err.message });
    return reply.code(400).send({ error: err.message });
  }
  const fe = err as FastifyError;
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500)
    return reply.code(fe.statusCode).send({ error: fe.message });
  reply.log.error({ err: (err as Error).message }, "request failed");
  return reply.code(500).send({ error: `internal error: ${(err as Error).message}` });
}

export class HttpServer {
  private readonly app: FastifyInstance;
  private readonly hub: SubscriptionHub;
  private accepting = true;
  /** Every open connection, so that shutdown can end the ones fastify does not track. */
  private readonly sockets = new Set<Socket>();

  /** Open client connections (WebSocket and SSE subscribers included). */
  get connectionCount(): number {
    return this.sockets.size;
  }

  constructor(private readonly opts: HttpServerOptions) {
    this.app = Fastify({
      // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's type the default one.
      loggerInstance: opts.logger as FastifyBaseLogger | undefined,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: HTTP_BODY_BYTES_MAX,
      keepAliveTimeout: HTTP_KEEP_ALIVE_MS,
      requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
      // close() ends every connection, idle or not: shutdown waits for no client.
      forceCloseConnections: true,
      // Errors before routing (malformed URL, bad headers) get the same JSON shape as the rest.
      frameworkErrors: (err, _req, reply) => {
        const r = reply as unknown as FastifyReply;
        r.code(typeof err.statusCode === "number" ? err.statusCode : 400).send({ error: err.message });
      },
      maxRequestsPerSocket: 0,
      // Queries are HarperDB's URL language (tables/query.ts), not key=value pairs: rest.ts reads
      // the raw query string, so fastify's parser has nothing to do.
      // Record ids may hold any character (percent-encoded, 3 bytes each at most).
      routerOptions: {
        querystringParser: () => ({}),
        maxParamLength: TableLimits.keyBytesMax * 3 + 64,
      },
    });
    this.app.server.maxConnections = HTTP_CONNECTIONS_MAX;
    this.app.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    this.hub = new SubscriptionHub(opts.engine.tables, opts.logger);
    this.app.setErrorHandler((err, _req, reply) => sendError(reply, err));
    this.app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?")[0]}` }),
    );
    // Reported only while someone listens (the metrics listener): one check per request otherwise.
    this.app.addHook("onResponse", async (req, reply) => {
      if (!httpRequestChannel.hasSubscribers) return;
      const answeredAt = wallNowMs();
      httpRequestChannel.publish({
        method: req.method,
        route: req.routeOptions.url ?? "unmatched",
        status: reply.statusCode,
        receivedAt: answeredAt - reply.elapsedTime,
        answeredAt,
      } satisfies HttpRequestEvent);
    });
    this.app.addHook("onRequest", async (req, reply) => {
      if (!this.accepting) {
        reply.header("connection", "close");
        return reply.code(503).send({ error: "server is shutting down" });
      }
      // On loopback, only loopback names: a page whose own name was re-pointed at 127.0.0.1 (DNS
      // rebinding) is same-origin to the browser, so CORS cannot stop it; its Host header can.
      if (!servesHost(opts.host, req.headers.host))
        return reply.code(403).send({ error: `host ${req.headers.host} is not served here (loopback only)` });
    });
  }

  async listen(): Promise<{ host: string; port: number }> {
    // Web apps on the listed origins may call tables and subscribe (HarperDB allows every origin by
    // default; without authentication OnceDB allows none unless told, see corsOrigins).
    const allowed = normalizeOrigins(this.opts.corsOrigins ?? []);
    await this.app.register(cors, {
      origin: (origin, cb) =>
        cb(null, origin === undefined || allowed.includes("*") || allowed.includes(origin)),
      methods: ["GET", "PUT", "PATCH", "POST", "DELETE"],
      exposedHeaders: ["etag", "location"],
      maxAge: 600,
    });
    await this.app.register(websocket, {
      options: { maxPayload: 64 * 1024 },
    });
    await this.app.register(async (scope) => {
      registerOperations(scope, this.opts.engine);
      registerRest(scope, this.opts.engine, this.hub, allowed);
    });
    await this.app.listen({ host: this.opts.host, port: this.opts.port });
    const addr = this.app.server.address();
    if (!addr || typeof addr === "string") throw new Error("HTTP listener has no address");
    return { host: addr.address, port: addr.port };
  }

  /** Refuses new requests (503) and stops accepting connections; subscriptions end. */
  stopAccepting(): void {
    this.accepting = false;
    this.hub.closeAll();
    this.app.server.close();
  }

  async close(): Promise<void> {
    this.accepting = false;
    this.hub.closeAll();
    // Sockets the HTTP server no longer tracks (upgraded, or an upgrade refused before its
    // handler) would keep close() waiting for their peers: cut whatever is left after a grace.
    const cut = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, HTTP_CLOSE_GRACE_MS);
    cut.unref();
    await this.app.close();
    clearTimeout(cut);
  }
}
