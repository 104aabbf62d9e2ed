/**
 * The metrics listener (`--metrics HOST:PORT`, off by default, as nats-server's monitoring port
 * is): `GET /metrics` answers Prometheus's text format. A listener of its own, not a path on the
 * HTTP API: there every name that starts with a letter is a table's (`/metrics` could be one).
 */
import http from "node:http";
import type { Logger } from "pino";
import { servesHost } from "../util/loopback.js";
import type { Metrics } from "./metrics.js";

/** Connections at once: scrapers are few. */
export const METRICS_CONNECTIONS_MAX = 64;
/** A scraper that has not sent its request by then is cut off. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/** ... or its headers by then. */
export const METRICS_HEADERS_TIMEOUT_MS = 5_000;
/**
 * How often Node checks those timeouts (its default, 30 s, let 64 silent connections keep every
 * scrape out for half a minute).
 */
const TIMEOUT_CHECK_MS = 1_000;

export class MetricsServer {
  private readonly server: http.Server;

  constructor(
    private readonly metrics: Metrics,
    private readonly host: string,
    private readonly port: number,
    private readonly logger?: Logger,
  ) {
    this.server = http.createServer(
      {
        requestTimeout: METRICS_REQUEST_TIMEOUT_MS,
        headersTimeout: METRICS_HEADERS_TIMEOUT_MS,
        connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    this.server.maxConnections = METRICS_CONNECTIONS_MAX;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    if (!servesHost(this.host, req.headers.host)) {
      json(403, { error: `host ${req.headers.host} is not served here (loopback only)` });
      return;
    }
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      json(404, { error: `no route ${req.method} ${path}; metrics are at GET /metrics` });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      json(405, { error: `${req.method} not allowed on /metrics` });
      return;
    }
    try {
      const body = await this.metrics.text();
      res.writeHead(200, { "content-type": this.metrics.contentType });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (err) {
      this.logger?.error({ err }, "metrics could not be collected");
      json(500, { error: "metrics could not be collected" });
    }
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off("error", reject);
        // Accept errors (EMFILE, say) are logged, not thrown: the listener keeps serving.
        this.server.on("error", (err) => this.logger?.warn({ err: err.message }, "metrics listener error"));
        resolve();
      });
    });
    const addr = this.server.address();
    if (!addr || typeof addr === "string") throw new Error("metrics listener has no address");
    return { host: addr.address, port: addr.port };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
