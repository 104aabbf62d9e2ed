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

/**
 * The machine's CPU time stolen by the hypervisor (the `steal` column of /proc/stat), sampled
 * every 100 ms so any wall-clock window can be asked for afterwards. On a VM this tells a
 * phase slowed by the host (other guests) from one slowed by what the phase itself did; it
 * reads 0 on bare metal, NaN where /proc/stat is missing.
 */
export class StealSampler {
  private readonly samples: { at: number; steal: number; total: number }[] = [];
  private timer: NodeJS.Timeout | null = null;

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stolen share of all CPU time between two wall-clock times (ms since epoch), 0..1. */
  fraction(startWall: number, endWall: number): number {
    const inside = this.samples.filter((s) => s.at >= startWall && s.at <= endWall);
    if (inside.length < 2) return Number.NaN;
    const a = inside[0]!;
    const b = inside[inside.length - 1]!;
    return b.total > a.total ? (b.steal - a.steal) / (b.total - a.total) : Number.NaN;
  }

  private sample(): void {
    try {
      const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
      const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
      // user nice system idle iowait irq softirq steal
      const total = ticks.reduce((n, x) => n + x, 0);
      this.samples.push({ at: performance.timeOrigin + performance.now(), steal: ticks[7] ?? 0, total });
      if (this.samples.length > 100_000) this.samples.splice(0, 50_000);
    } catch {
      // not Linux: fraction() answers NaN
    }
  }
}
