/** CPU time and RSS of another process, read from /proc (Linux). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clkTck: number | undefined;

function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { timeout: 2000 }).toString().trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** User+system CPU seconds consumed so far by `pid` (all its threads), or NaN if unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of `pid` in bytes, or NaN. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Measures CPU use of a process between two instants, as cores (1.0 = one core busy). */
export class CpuMeter {
  private t0 = 0;
  private c0 = 0;
  constructor(private readonly pid: number) {}
  start(): void {
    this.t0 = performance.now();
    this.c0 = cpuSeconds(this.pid);
  }
  /** Cores used since start(). */
  stop(): number {
    const dt = (performance.now() - this.t0) / 1000;
    const dc = cpuSeconds(this.pid) - this.c0;
    return dt > 0 ? dc / dt : Number.NaN;
  }
}
