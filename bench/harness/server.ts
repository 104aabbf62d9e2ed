/** Starts OnceDB (dist/src/cli/main.js serve), waits for its ready line, measures and stops it by PID. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { CpuMeter, cpuSeconds, rssBytes } from "./proc-stat.js";

export interface ServerOptions {
  cli: string;
  dataDir: string;
  /** How long to wait for the ready line. */
  readyTimeoutMs?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

export interface ServerLogStats {
  lines: number;
  warnings: number;
  errors: number;
  /** A few of the last warning/error lines, for evidence. */
  samples: string[];
}

export class OnceServer {
  readonly startedAt: number;
  readyAt = 0;
  kafkaHost = "";
  kafkaPort = 0;
  readonly log: ServerLogStats = { lines: 0, warnings: 0, errors: 0, samples: [] };
  private tail: string[] = [];
  private exitInfo: string | undefined;

  private constructor(readonly child: ChildProcess) {
    this.startedAt = performance.now();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get kafkaAddress(): string {
    return `${this.kafkaHost}:${this.kafkaPort}`;
  }

  /** Milliseconds from spawn to the ready line. */
  get startupMs(): number {
    return this.readyAt - this.startedAt;
  }

  static available(cli: string): boolean {
    return existsSync(cli);
  }

  static async start(o: ServerOptions): Promise<OnceServer> {
    const args = [
      o.cli,
      "serve",
      "--data",
      o.dataDir,
      "--kafka",
      "127.0.0.1:0",
      "--nats",
      "off",
      "--http",
      "off",
      ...(o.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(o.env ?? {}) },
    });
    const s = new OnceServer(child);
    await s.waitReady(o.readyTimeoutMs ?? 60_000);
    return s;
  }

  private waitReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let buf = "";
      let ready = false;
      const onLine = (line: string) => {
        this.log.lines++;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        const lv = /"level":(\d+)/.exec(line);
        const level = lv ? Number(lv[1]) : 0;
        if (level >= 50) this.log.errors++;
        else if (level >= 40) this.log.warnings++;
        if (level >= 40 && this.log.samples.length < 10) this.log.samples.push(line.slice(0, 400));
        if (!ready && line.includes('"msg":"ready"')) {
          const m = /"kafka":"([^"]+):(\d+)"/.exec(line);
          if (!m) return;
          ready = true;
          this.readyAt = performance.now();
          this.kafkaHost = m[1];
          this.kafkaPort = Number(m[2]);
          clearTimeout(timer);
          resolve();
        }
      };
      const onData = (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf("\n");
        // bounded by the data received
        while (i >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
          i = buf.indexOf("\n");
        }
        if (buf.length > 1 << 20) buf = "";
      };
      this.child.stdout?.on("data", onData);
      this.child.stderr?.on("data", (d: Buffer) => {
        for (const l of d.toString().split("\n")) {
          if (!l) continue;
          this.tail.push(`[stderr] ${l}`);
          if (this.tail.length > 40) this.tail.shift();
        }
      });
      this.child.on("exit", (code, signal) => {
        this.exitInfo = `exited with code ${code}, signal ${signal}`;
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`OnceDB ${this.exitInfo} before ready:\n${this.tail.join("\n")}`));
        }
      });
      const timer = setTimeout(() => {
        if (!ready) {
          this.kill();
          reject(new Error(`OnceDB not ready after ${timeoutMs} ms:\n${this.tail.join("\n")}`));
        }
      }, timeoutMs);
    });
  }

  /** Last lines of its output (for error messages). */
  lastLines(n = 20): string {
    return this.tail.slice(-n).join("\n");
  }

  get exited(): string | undefined {
    return this.exitInfo;
  }

  cpuMeter(): CpuMeter {
    return new CpuMeter(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  rssBytes(): number {
    return rssBytes(this.pid);
  }

  private kill(): void {
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  /** SIGTERM by PID; SIGKILL after `graceMs`. Resolves with how long shutdown took and how it ended. */
  async stop(graceMs = 15_000): Promise<{ ms: number; clean: boolean; how: string }> {
    const t0 = performance.now();
    if (this.child.exitCode !== null || this.child.signalCode !== null)
      return { ms: 0, clean: false, how: this.exitInfo ?? "already exited" };
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      return { ms: 0, clean: false, how: "kill failed" };
    }
    let killed = false;
    const t = setTimeout(() => {
      killed = true;
      this.kill();
    }, graceMs);
    await exited;
    clearTimeout(t);
    return {
      ms: performance.now() - t0,
      clean: !killed && this.child.exitCode === 0,
      how: killed ? `SIGKILL after ${graceMs} ms` : (this.exitInfo ?? ""),
    };
  }
}

/** Notes describing a server's health after a run: log warnings/errors and how it stopped. */
export function serverNotes(s: OnceServer, stop: { ms: number; clean: boolean; how: string }): string[] {
  const notes: string[] = [];
  if (s.log.errors > 0 || s.log.warnings > 0)
    notes.push(
      `server logged ${s.log.errors} error and ${s.log.warnings} warning lines, e.g. ${s.log.samples.slice(0, 2).join(" / ")}`,
    );
  if (!stop.clean)
    notes.push(`server did not stop cleanly on SIGTERM: ${stop.how} after ${Math.round(stop.ms)} ms`);
  return notes;
}
