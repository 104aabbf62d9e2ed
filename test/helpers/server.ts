/**
 * Runs a real OnceDB server process for integration tests: `node dist/src/cli/main.js serve`
 * with a temporary data directory, waiting for its "ready" line. The same data directory and
 * port survive kill()/start() so clients can reconnect to a restarted server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const CLI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
/** A server that has not printed "ready" by then is reported as a failure, not waited on. */
const READY_TIMEOUT_MS = 30_000;

export interface ServerOptions {
  dataDir?: string;
  /** Extra CLI arguments. */
  args?: string[];
  env?: Record<string, string>;
  /** Start the NATS listener too (on a free port; `natsAddress` says which). */
  nats?: boolean;
  /** Start the HTTP listener too (on a free port; `httpAddress` / `httpUrl` say which). */
  http?: boolean;
  /** Start the metrics listener too (on a free port; `metricsUrl` says which). */
  metrics?: boolean;
}

export class TestServer {
  proc: ChildProcess | null = null;
  readonly dataDir: string;
  kafkaAddress = "";
  kafkaPort = 0;
  natsAddress = "";
  natsPort = 0;
  httpAddress = "";
  httpPort = 0;
  metricsAddress = "";
  /** The last ready line's fields. */
  ready: Record<string, unknown> = {};
  readonly logLines: string[] = [];
  private exitPromise: Promise<number | null> | null = null;

  constructor(private readonly opts: ServerOptions = {}) {
    this.dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-test-"));
  }

  /** Starts (or restarts on the same port) and resolves with the ready line's fields. */
  async start(): Promise<Record<string, unknown>> {
    const kafka = this.kafkaPort ? `127.0.0.1:${this.kafkaPort}` : "127.0.0.1:0";
    // A restart keeps the NATS port too, so clients reconnect to the same address.
    const nats = this.opts.nats ? `127.0.0.1:${this.natsPort}` : "off";
    const http = this.opts.http ? `127.0.0.1:${this.httpPort}` : "off";
    const args = [
      CLI_PATH,
      "serve",
      "--data",
      this.dataDir,
      "--kafka",
      kafka,
      "--nats",
      nats,
      "--http",
      http,
      ...(this.opts.metrics ? ["--metrics", "127.0.0.1:0"] : []),
    ];
    const proc = spawn(process.execPath, [...args, ...(this.opts.args ?? [])], {
      env: { ...process.env, ...this.opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    this.exitPromise = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.stderr!.on("data", (d: Buffer) => this.logLines.push(d.toString()));
    const lines = readline.createInterface({ input: proc.stdout! });
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server not ready: ${this.logLines.join("")}`)),
        READY_TIMEOUT_MS,
      );
      lines.on("line", (line) => {
        this.logLines.push(line);
        if (this.logLines.length > 10_000) this.logLines.splice(0, 5_000);
        if (line.includes('"msg":"ready"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before ready: ${this.logLines.join("\n")}`));
      });
    });
    this.kafkaAddress = String(ready.kafka);
    this.kafkaPort = Number(this.kafkaAddress.split(":").pop());
    if (this.opts.nats) {
      this.natsAddress = String(ready.nats);
      this.natsPort = Number(this.natsAddress.split(":").pop());
    }
    if (this.opts.http) {
      this.httpAddress = String(ready.http);
      this.httpPort = Number(this.httpAddress.split(":").pop());
    }
    if (this.opts.metrics) this.metricsAddress = String(ready.metrics);
    this.ready = ready;
    return ready;
  }

  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    proc.kill(signal);
    const code = await this.exitPromise;
    this.proc = null;
    return code;
  }

  /** URL of the metrics page, e.g. http://127.0.0.1:40124/metrics. */
  get metricsUrl(): string {
    return `http://${this.metricsAddress}/metrics`;
  }

  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:40123 (no trailing slash). */
  get httpUrl(): string {
    return `http://${this.httpAddress}`;
  }

  kill(): Promise<number | null> {
    return this.stop("SIGKILL");
  }

  /** Stops the server and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop("SIGKILL");
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const s = new TestServer(opts);
  await s.start();
  return s;
}
