/**
 * The server under test: either one the fuzzer starts (`oncedb serve` in a child process with
 * a temporary data directory) or one given with --kafka. For a child, it watches the exit
 * (a crash), collects error-level log lines (handler failures) and samples memory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const CLI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../cli/main.js");
const READY_TIMEOUT_MS = 30_000;
/** Error log lines kept verbatim for the report. */
const ERROR_LINES_KEPT = 50;
/** stderr lines kept (a crash's stack trace is at the end). */
const STDERR_LINES_KEPT = 200;
/** Bound on the server log file written with --out. */
/** A server that has not exited this long after SIGTERM is killed (and the run fails). */
export const STOP_GRACE_MS = 10_000;
const LOG_FILE_BYTES_MAX = 64 * 1024 * 1024;

export interface ServerExit {
  code: number | null;
  signal: string | null;
  atMs: number;
}

export interface ErrorLogSummary {
  /** Count of error/fatal log lines by message (e.g. "request handler failed"). */
  byMessage: Record<string, number>;
  /** Count of "request handler failed" by API name. */
  handlerFailuresByApi: Record<string, number>;
  /** First lines, verbatim (truncated). */
  samples: string[];
}

export class FuzzTarget {
  readonly host: string;
  readonly port: number;
  private proc: ChildProcess | null = null;
  private exitInfo: ServerExit | null = null;
  private readonly exitListeners: ((e: ServerExit) => void)[] = [];
  private readonly stderrLines: string[] = [];
  readonly errors: ErrorLogSummary = { byMessage: {}, handlerFailuresByApi: {}, samples: [] };
  private dataDir: string | null = null;

  private constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  static external(address: string): FuzzTarget {
    const i = address.lastIndexOf(":");
    if (i <= 0) throw new Error(`--kafka must be HOST:PORT, got ${address}`);
    const port = Number(address.slice(i + 1));
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad port in ${address}`);
    return new FuzzTarget(address.slice(0, i).replace(/^\[|\]$/g, ""), port);
  }

  /** Starts `oncedb serve`; `advertise` is the address Metadata should name (the recording proxy). */
  static async spawn(opts: {
    advertise?: string;
    dataDir?: string;
    logLevel?: string;
    /** Every server log line is appended here (bounded), for diagnosis. */
    logFile?: string;
  }): Promise<FuzzTarget> {
    const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-fuzz-"));
    const args = [
      CLI_PATH,
      "serve",
      "--data",
      dataDir,
      "--kafka",
      "127.0.0.1:0",
      "--nats",
      "off",
      "--http",
      "off",
      "--log-level",
      opts.logLevel ?? "error",
    ];
    if (opts.advertise) args.push("--advertise", opts.advertise);
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const stderrLines: string[] = [];
    let onStderr = (l: string) => {
      stderrLines.push(l);
      if (stderrLines.length > STDERR_LINES_KEPT) stderrLines.shift();
    };
    readline.createInterface({ input: proc.stderr! }).on("line", (l) => onStderr(l));
    const lines = readline.createInterface({ input: proc.stdout! });
    let target: FuzzTarget | null = null;
    const ready = await new Promise<{ kafka: string }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server not ready in ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`server exited (${code ?? signal}) before ready: ${stderrLines.slice(-20).join("\n")}`),
        );
      });
      lines.on("line", (line) => {
        if (target) {
          target.onLogLine(line);
          return;
        }
        if (line.includes('"msg":"ready"')) {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(line) as { kafka: string });
          } catch (err) {
            reject(err);
          }
        }
      });
    });
    target = FuzzTarget.external(ready.kafka);
    if (opts.logFile) {
      fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
      target.logFd = fs.openSync(opts.logFile, "w");
    }
    target.proc = proc;
    target.dataDir = opts.dataDir ? null : dataDir;
    for (const l of stderrLines) target.pushStderr(l);
    const t = target;
    onStderr = (l) => t.pushStderr(l);
    proc.once("exit", (code, signal) => {
      const e = { code, signal, atMs: Date.now() };
      target!.exitInfo = e;
      for (const f of target!.exitListeners) f(e);
    });
    return target;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get spawned(): boolean {
    return this.proc !== null;
  }

  get exited(): ServerExit | null {
    return this.exitInfo;
  }

  onExit(f: (e: ServerExit) => void): void {
    if (this.exitInfo) f(this.exitInfo);
    else this.exitListeners.push(f);
  }

  get lastStderr(): string[] {
    return [...this.stderrLines];
  }

  private pushStderr(l: string): void {
    this.stderrLines.push(l);
    if (this.stderrLines.length > STDERR_LINES_KEPT) this.stderrLines.shift();
  }

  private logFd: number | null = null;
  private logBytes = 0;

  private onLogLine(line: string): void {
    if (this.logFd !== null && this.logBytes < LOG_FILE_BYTES_MAX) {
      this.logBytes += line.length + 1;
      fs.writeSync(this.logFd, `${line}\n`);
    }
    let rec: { level?: number; msg?: string; api?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      this.pushStderr(line);
      return;
    }
    if ((rec.level ?? 0) < 50) return;
    const msg = rec.msg ?? "?";
    this.errors.byMessage[msg] = (this.errors.byMessage[msg] ?? 0) + 1;
    if (msg === "request handler failed") {
      const api = rec.api ?? "?";
      this.errors.handlerFailuresByApi[api] = (this.errors.handlerFailuresByApi[api] ?? 0) + 1;
    }
    if (this.errors.samples.length < ERROR_LINES_KEPT) this.errors.samples.push(line.slice(0, 2000));
  }

  /** VmRSS and VmHWM (peak) of the server process in bytes, or null when not ours or gone. */
  memory(): { rss: number; hwm: number } | null {
    const pid = this.pid;
    if (pid === null || this.exitInfo) return null;
    try {
      const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const rss = /VmRSS:\s+(\d+)\s+kB/.exec(s);
      const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(s);
      if (!rss) return null;
      return { rss: Number(rss[1]) * 1024, hwm: hwm ? Number(hwm[1]) * 1024 : Number(rss[1]) * 1024 };
    } catch {
      return null;
    }
  }

  /** Stops a spawned server (SIGTERM, then SIGKILL) and removes its temporary data. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && !this.exitInfo) {
      const exited = new Promise<void>((resolve) => this.onExit(() => resolve()));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(t);
    }
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
    if (this.logFd !== null) {
      for (const l of this.stderrLines) fs.writeSync(this.logFd, `[stderr] ${l}\n`);
      fs.closeSync(this.logFd);
      this.logFd = null;
    }
  }
}
