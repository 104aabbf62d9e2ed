/**
 * The Kafka listener: accepts connections and hands each to a KafkaConnection. It owns the
 * adapter-level limits (frame size, connection count) and the broker identity that Metadata
 * and FindCoordinator advertise.
 */
import net from "node:net";
import type { Logger } from "pino";
import type { Engine } from "../../engine/engine.js";
import { listenOn } from "../../util/listen.js";
import type { BrokerAddress, KafkaAdapterConfig } from "./api.js";
import { API_TABLE } from "./api-table.js";
import { KafkaConnection } from "./connection.js";

/** Kafka's socket.request.max.bytes default is 100 MiB; a larger frame closes the connection. */
export const FRAME_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;
/**
 * Upper bound on one Fetch response, whatever the client asks (Kafka's broker fetch.max.bytes
 * is 55 MB). 16 MiB keeps a consumer's round trips few while bounding how long one response
 * occupies the main thread and memory; clients simply fetch again.
 */
export const FETCH_RESPONSE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
/** Connections accepted at once; each may buffer up to one frame. */
export const CONNECTIONS_MAX = 10_000;
/** Kafka's connections.max.idle.ms: a connection silent this long is closed. */
export const CONNECTION_IDLE_MS = 10 * 60 * 1000;

export interface KafkaServerOptions {
  engine: Engine;
  host: string;
  port: number;
  /** Address clients should use, when the bind address is not it (`--advertise`). */
  advertise?: { host: string; port: number };
  frameBytesMax?: number;
  logger?: Logger;
  config?: Partial<KafkaAdapterConfig>;
}

export class KafkaServer {
  private readonly server: net.Server;
  private readonly connections = new Set<KafkaConnection>();

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }
  private broker: BrokerAddress = { nodeId: 0, host: "127.0.0.1", port: 0 };

  constructor(private readonly opts: KafkaServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.maxConnections = CONNECTIONS_MAX;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const addr = await listenOn(this.server, this.opts.host, this.opts.port);
    const host =
      this.opts.advertise?.host ??
      (addr.address === "0.0.0.0" || addr.address === "::" ? "127.0.0.1" : addr.address);
    this.broker = { nodeId: 0, host, port: this.opts.advertise?.port ?? addr.port };
    return { host: addr.address, port: addr.port };
  }

  get advertised(): BrokerAddress {
    return this.broker;
  }

  private accept(socket: net.Socket): void {
    socket.setTimeout(CONNECTION_IDLE_MS, () => socket.destroy());
    const conn = new KafkaConnection(socket, {
      frameBytesMax: this.opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT,
      apis: API_TABLE,
      logger: this.opts.logger,
      context: {
        engine: this.opts.engine,
        broker: this.broker,
        config: {
          fetchMaxWaitMsMax: this.opts.config?.fetchMaxWaitMsMax ?? 30_000,
          fetchResponseBytesMax: this.opts.config?.fetchResponseBytesMax ?? FETCH_RESPONSE_BYTES_MAX_DEFAULT,
        },
      },
      onClose: (c) => this.connections.delete(c),
    });
    this.connections.add(conn);
  }

  /** Stops accepting, closes every connection, and resolves when the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    await closed;
  }

  /** Stops accepting new connections but lets in-flight requests finish (graceful shutdown). */
  stopAccepting(): void {
    this.server.close();
  }
}
