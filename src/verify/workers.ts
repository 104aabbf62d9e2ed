/**
 * Supervises the workload's worker processes: starts each as `node <worker>.js <config>`, reads
 * its history events from stdout into the history, restarts it (next incarnation) when it exits
 * on its own, and lets the nemesis kill, pause and resume it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { HistoryLog } from "./history.js";
import type { Role, WorkerConfig } from "./workload/common.js";

const WORKLOAD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "workload");
/** Delay before restarting a worker that exited on its own. */
const RESTART_DELAY_MS = 500;
const STOP_GRACE_MS = 25_000;

export class Worker {
  inc = -1;
  restarts = 0;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  private wanted = false;

  constructor(
    readonly name: string,
    private readonly config: Omit<WorkerConfig, "inc">,
    private readonly history: HistoryLog,
    private readonly stderrLog: number,
  ) {}

  get role(): Role {
    return this.config.role;
  }

  get alive(): boolean {
    return this.proc !== null;
  }

  start(): void {
    if (this.proc) return;
    this.wanted = true;
    this.inc++;
    const script = path.join(WORKLOAD_DIR, `${this.config.role}-worker.js`);
    const proc = spawn(process.execPath, [script, JSON.stringify({ ...this.config, inc: this.inc })], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    this.paused = false;
    readline.createInterface({ input: proc.stdout! }).on("line", (line) => this.history.appendLine(line));
    readline
      .createInterface({ input: proc.stderr! })
      .on("line", (line) => fs.writeSync(this.stderrLog, `${this.name}#${this.inc} ${line}\n`));
    this.exited = new Promise((resolve) =>
      proc.once("close", (code, signal) => {
        if (this.proc === proc) this.proc = null;
        this.history.append({
          time: Date.now(),
          process: this.name,
          inc: this.inc,
          type: "info",
          f: "exited",
          code,
          signal,
        });
        if (this.wanted) {
          this.restarts++;
          setTimeout(() => this.wanted && this.start(), RESTART_DELAY_MS);
        }
        resolve();
      }),
    );
  }

  /** SIGKILL; the worker stays down until start(). */
  async kill(): Promise<void> {
    this.wanted = false;
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGKILL");
    await this.exited;
  }

  pause(): void {
    if (this.proc?.pid && !this.paused) {
      process.kill(this.proc.pid, "SIGSTOP");
      this.paused = true;
    }
  }

  resume(): void {
    if (this.proc?.pid && this.paused) process.kill(this.proc.pid, "SIGCONT");
    this.paused = false;
  }

  /** SIGTERM (the worker winds down), SIGKILL after the grace period. */
  async stop(): Promise<void> {
    this.wanted = false;
    const proc = this.proc;
    if (!proc) return;
    this.resume();
    proc.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (this.proc === proc) {
      proc.kill("SIGKILL");
      await this.exited;
    }
  }
}
