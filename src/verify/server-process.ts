/**
 * The OnceDB server under test, as a child process: `oncedb serve` on a fixed loopback port
 * (so clients reconnect after a restart), optionally wrapped in `fiu-run -x` for disk faults.
 * Kill, pause and restart are signals to its pid; an exit the verifier did not cause is
 * reported through `onCrash`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";
import { assert } from "../util/assert.js";

/** A server that has not printed "ready" by then failed to start. */
const READY_TIMEOUT_MS = 60_000;
/** SIGTERM that has not stopped it by then is followed by SIGKILL. */
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 40;

export interface ServerSpec {
  cliPath: string;
  dataDir: string;
  port: number;
  /** Address clients are told to use (the fault proxy), if any. */
  advertise?: string;
  /** Wrap in `fiu-run -x -f <base>` so fiu-ctrl can inject I/O errors. */
  fiuCtrlBase?: string;
  logFile: string;
}

export class ServerProcess {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private expectingExit = false;
  private paused = false;
  private readonly tail: string[] = [];
  private readonly log: number;
  starts = 0;
  onCrash: (info: { code: number | null; signal: string | null; log: string[] }) => void = () => {};

  constructor(readonly spec: ServerSpec) {
    this.log = fs.openSync(spec.logFile, "a");
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  get address(): string {
    return `127.0.0.1:${this.spec.port}`;
  }

  async start(): Promise<void> {
    assert(this.proc === null, "server already running");
    const args = [
      this.spec.cliPath,
      "serve",
      "--data",
      this.spec.dataDir,
      "--kafka",
      this.address,
      "--nats",
      "off",
      "--http",
      "off",
      "--log-level",
      "warn",
    ];
    if (this.spec.advertise) args.push("--advertise", this.spec.advertise);
    const [cmd, argv] = this.spec.fiuCtrlBase
      ? ["fiu-run", ["-x", "-f", this.spec.fiuCtrlBase, process.execPath, ...args]]
      : [process.execPath, args];
    const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    this.starts++;
    this.expectingExit = false;
    this.paused = false;
    this.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        if (this.proc === proc) this.proc = null;
        if (!this.expectingExit) this.onCrash({ code, signal, log: [...this.tail] });
        resolve();
      }),
    );
    const keep = (line: string) => {
      fs.writeSync(this.log, `${line}\n`);
      this.tail.push(line);
      if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
    };
    readline.createInterface({ input: proc.stderr! }).on("line", keep);
    const lines = readline.createInterface({ input: proc.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server not ready in ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      lines.on("line", (line) => {
        keep(line);
        if (line.includes('"msg":"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before ready: ${this.tail.slice(-5).join(" | ")}`));
      });
    });
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    await this.signalAndWait("SIGKILL", STOP_GRACE_MS);
  }

  /** SIGTERM (then SIGKILL after a grace period) and wait for the exit. */
  async stop(): Promise<void> {
    if (this.paused) this.resume();
    await this.signalAndWait("SIGTERM", STOP_GRACE_MS);
    if (this.proc) await this.signalAndWait("SIGKILL", STOP_GRACE_MS);
  }

  pause(): void {
    if (!this.proc?.pid) return;
    process.kill(this.proc.pid, "SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    if (this.proc?.pid && this.paused) process.kill(this.proc.pid, "SIGCONT");
    this.paused = false;
  }

  close(): void {
    fs.closeSync(this.log);
  }

  private async signalAndWait(signal: NodeJS.Signals, waitMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.expectingExit = true;
    if (this.paused && signal !== "SIGKILL") process.kill(proc.pid!, "SIGCONT");
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    if (this.proc === proc && proc.exitCode === null && proc.signalCode === null) return;
    this.proc = null;
    this.paused = false;
  }
}
