/**
 * The NATS listener: accepts client connections, greets each with INFO, and keeps them alive
 * with PINGs. It owns the adapter-level limits (connections, payload, pending bytes,
 * subscriptions per connection), each nats-server's default unless noted.
 */
import crypto from "node:crypto";
import net from "node:net";
import type { Logger } from "pino";
import type { MessageBus } from "../../messaging/bus.js";
import { listenOn } from "../../util/listen.js";
import { NatsConnection, type NatsLimits } from "./connection.js";
import { NatsErr } from "./errors.js";

/**
 * The nats-server version whose client protocol this listener speaks. Clients read it as a
 * feature level (nats.js enables JetStream APIs by it), so it only moves when they would work.
 */
export const NATS_PROTOCOL_VERSION = "2.10.0";
/** Clients connected at once (nats-server's default max_connections is 64K). */
export const NATS_CONNECTIONS_MAX = 10_000;
/** max_payload: nats-server's default, 1 MiB. */
export const NATS_PAYLOAD_BYTES_MAX = 1024 * 1024;
/** max_pending: past this much unsent output a client is a slow consumer (nats-server: 64 MiB). */
export const NATS_PENDING_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Subscriptions per connection (nats-server has no default limit; ours bounds what one client
 * can make the subscription index hold).
 */
export const NATS_SUBSCRIPTIONS_PER_CONNECTION_MAX = 100_000;
/** ping_interval and ping_max: a client that misses this many PINGs in a row is stale. */
export const NATS_PING_INTERVAL_MS = 2 * 60 * 1000;
export const NATS_PINGS_OUTSTANDING_MAX = 2;

export interface NatsServerOptions {
  bus: MessageBus;
  host: string;
  port: number;
  logger?: Logger;
  limits?: Partial<NatsLimits>;
  pingIntervalMs?: number;
}

export class NatsServer {
  private readonly server: net.Server;
  private readonly connections = new Set<NatsConnection>();

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }
  private readonly serverId = `N${crypto.randomBytes(27).toString("hex").toUpperCase()}`;
  private readonly limits: NatsLimits;
  private nextClientId = 1;
  private bound = { host: "127.0.0.1", port: 0 };
  private pinger: NodeJS.Timeout | null = null;

  constructor(private readonly opts: NatsServerOptions) {
    this.limits = {
      payloadBytesMax: opts.limits?.payloadBytesMax ?? NATS_PAYLOAD_BYTES_MAX,
      pendingBytesMax: opts.limits?.pendingBytesMax ?? NATS_PENDING_BYTES_MAX,
      subscriptionsMax: opts.limits?.subscriptionsMax ?? NATS_SUBSCRIPTIONS_PER_CONNECTION_MAX,
    };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<{ host: string; port: number }> {
    const addr = await listenOn(this.server, this.opts.host, this.opts.port);
    this.bound = { host: addr.address, port: addr.port };
    this.pinger = setInterval(() => this.pingAll(), this.opts.pingIntervalMs ?? NATS_PING_INTERVAL_MS);
    this.pinger.unref();
    return { ...this.bound };
  }

  private accept(socket: net.Socket): void {
    if (this.connections.size >= NATS_CONNECTIONS_MAX) {
      socket.end(`-ERR '${NatsErr.maxConnections}'\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const clientId = this.nextClientId++;
    const conn = new NatsConnection(socket, {
      bus: this.opts.bus,
      limits: this.limits,
      info: this.info(clientId, socket.remoteAddress ?? ""),
      logger: this.opts.logger,
      onClose: (c) => this.connections.delete(c),
    });
    this.connections.add(conn);
  }

  private info(clientId: number, clientIp: string): string {
    const info = {
      server_id: this.serverId,
      server_name: "oncedb",
      version: NATS_PROTOCOL_VERSION,
      proto: 1,
      go: `node ${process.version}`,
      host: this.bound.host,
      port: this.bound.port,
      headers: true,
      jetstream: true,
      max_payload: this.limits.payloadBytesMax,
      client_id: clientId,
      client_ip: clientIp,
    };
    return `INFO ${JSON.stringify(info)}\r\n`;
  }

  private pingAll(): void {
    for (const c of this.connections) {
      if (c.pingsOut >= NATS_PINGS_OUTSTANDING_MAX) c.fail(NatsErr.staleConnection);
      else c.sendPing();
    }
  }

  /** Stops accepting new connections (graceful shutdown begins). */
  stopAccepting(): void {
    this.server.close();
  }

  /** Stops accepting, closes every connection after its queued output, resolves when closed. */
  async close(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    await closed;
  }
}
