/** Runs a load generator (bench/load/*.js) in its own process and talks to it over IPC. */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CpuMeter } from "./proc-stat.js";

export interface LoadMessage {
  type: string;
  [k: string]: unknown;
}

export function loadScriptPath(name: string): string {
  return fileURLToPath(new URL(`../load/${name}.js`, import.meta.url));
}

/** A running load process. Messages are queued so none is lost between waits. */
export class LoadProcess {
  readonly child: ChildProcess;
  private readonly queue: LoadMessage[] = [];
  private waiters: { type: string; resolve: (m: LoadMessage) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | undefined;
  private stderr = "";
  private listeners: ((m: LoadMessage) => void)[] = [];

  constructor(
    readonly script: string,
    config: unknown,
  ) {
    this.child = fork(loadScriptPath(script), [JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [],
    });
    this.child.stdout?.on("data", (d: Buffer) => this.keepTail(d));
    this.child.stderr?.on("data", (d: Buffer) => this.keepTail(d));
    this.child.on("message", (m) => this.onMessage(m as LoadMessage));
    this.child.on("exit", (code, signal) => {
      this.exited = new Error(
        `load process ${script} exited (code ${code}, signal ${signal})${this.stderr ? `: ${this.stderr.trim().slice(-1500)}` : ""}`,
      );
      for (const w of this.waiters) w.reject(this.exited);
      this.waiters = [];
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Called for every message (e.g. window-start/window-end to sample the server's CPU). */
  onEvery(fn: (m: LoadMessage) => void): void {
    this.listeners.push(fn);
  }

  send(msg: LoadMessage): void {
    if (this.child.connected) this.child.send(msg);
  }

  /** Waits for the next message of `type` (or an `error` message, which rejects). */
  waitFor(type: string, timeoutMs: number): Promise<LoadMessage> {
    const i = this.queue.findIndex((m) => m.type === type || m.type === "error");
    if (i >= 0) {
      const m = this.queue.splice(i, 1)[0];
      return m.type === "error"
        ? Promise.reject(new Error(`${this.script}: ${String(m.message)}`))
        : Promise.resolve(m);
    }
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.script}: timed out after ${timeoutMs} ms waiting for "${type}"`));
      }, timeoutMs);
      const waiter = {
        type,
        resolve: (m: LoadMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for `result`, then for the process to exit (bounded); kills it on timeout. */
  async result<R>(timeoutMs: number): Promise<R> {
    try {
      const m = await this.waitFor("result", timeoutMs);
      return m.result as R;
    } finally {
      await this.stop(3000);
    }
  }

  /** Stops the process by PID: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise<void>((r) => this.child.once("exit", () => r()));
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        return;
      }
    }
    const t = setTimeout(() => {
      if (pid !== undefined && this.child.exitCode === null) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }, graceMs);
    await done;
    clearTimeout(t);
  }

  private keepTail(d: Buffer): void {
    this.stderr = (this.stderr + d.toString()).slice(-4000);
  }

  private onMessage(m: LoadMessage): void {
    for (const l of this.listeners) l(m);
    const i = this.waiters.findIndex((w) => w.type === m.type || m.type === "error");
    if (i >= 0) {
      const w = this.waiters.splice(i, 1)[0];
      if (m.type === "error") w.reject(new Error(`${this.script}: ${String(m.message)}`));
      else w.resolve(m);
      return;
    }
    if (m.type !== "progress") this.queue.push(m);
  }
}

/** Runs a load script to completion and returns its result. */
export async function runLoad<R>(
  script: string,
  config: unknown,
  timeoutMs: number,
  onMessage?: (m: LoadMessage) => void,
): Promise<{ result: R; pid: number }> {
  const p = new LoadProcess(script, config);
  if (onMessage) p.onEvery(onMessage);
  const result = await p.result<R>(timeoutMs);
  return { result, pid: p.pid };
}

/**
 * Runs a load script, metering the CPU of process `pid` (any server: OnceDB or a peer) between
 * the script's window-start and window-end messages.
 */
export async function runMeteredPid<R>(
  pid: number,
  script: string,
  config: unknown,
  timeoutMs: number,
  onMessage?: (m: LoadMessage) => void,
): Promise<{ result: R; serverCpu: number; loadPid: number }> {
  const meter = new CpuMeter(pid);
  let serverCpu = Number.NaN;
  let started = false;
  const p = new LoadProcess(script, config);
  p.onEvery((m) => {
    if (m.type === "window-start") {
      meter.start();
      started = true;
    } else if (m.type === "window-end" && started) {
      serverCpu = meter.stop();
    }
    onMessage?.(m);
  });
  const result = await p.result<R>(timeoutMs);
  if (started && Number.isNaN(serverCpu)) serverCpu = meter.stop();
  return { result, serverCpu, loadPid: p.pid };
}
