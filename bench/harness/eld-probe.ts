/**
 * Preloaded (`node --import`) into a process the bench wants to watch: records how late the
 * process's main thread ran its event loop, as the worst delay per 100 ms window, and how long
 * its garbage collector paused it in that window (sum and longest pause), and appends
 * "wall-clock-ms worst-delay-ms gc-total-ms gc-max-ms" lines to $ONCEDB_BENCH_ELD_FILE once a
 * second. The GC figures are the process's own work, so unlike a delay they do not grow when
 * the machine (or its hypervisor) takes the CPU away.
 *
 * The responsiveness scenario loads it into OnceDB (is the server's main thread blocked?) and
 * into an idle control process (how late does any process on this machine run when the CPUs
 * are busy?). Telling those apart is the point: the first is the server's fault, the second is
 * the machine's.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";
import { lineFile } from "./line-file.js";

export const ELD_WINDOW_MS = 100;

const file = process.env.ONCEDB_BENCH_ELD_FILE;
if (file && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const write = lineFile(file);
  let gcTotal = 0;
  let gcMax = 0;
  // Entries arrive after the pause, each for one collection of this thread's heap.
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcTotal += e.duration;
      gcMax = Math.max(gcMax, e.duration);
    }
  }).observe({ entryTypes: ["gc"] });
  setInterval(() => {
    // The histogram includes the 1 ms sampling interval itself.
    write(
      `${Date.now()} ${(Math.max(0, h.max / 1e6 - 1)).toFixed(2)} ${gcTotal.toFixed(2)} ${gcMax.toFixed(2)}`,
    );
    h.reset();
    gcTotal = 0;
    gcMax = 0;
  }, ELD_WINDOW_MS).unref();
}

/** One window of what the probe wrote. */
export interface EldWindow {
  readonly at: number;
  /** Worst event-loop delay, ms. */
  readonly delay: number;
  /** Time paused by the garbage collector, ms: all pauses, and the longest. */
  readonly gcTotal: number;
  readonly gcMax: number;
}

/** The node option that preloads this probe into a process (for NODE_OPTIONS). */
export function eldImport(): string {
  return `--import ${import.meta.url}`;
}

/** What the probe wrote to `file` so far (nothing if it has not written yet). */
export function readEldFile(file: string): EldWindow[] {
  try {
    return readEld(readFileSync(file, "utf8"));
  } catch {
    return [];
  }
}

/** The windows that ended in [startWall, endWall). */
export function eldWithin(xs: readonly EldWindow[], w: { startWall: number; endWall: number }): EldWindow[] {
  return xs.filter(({ at }) => at >= w.startWall && at < w.endWall);
}

/** Garbage-collector pauses over some windows: ms per second of them, and the longest. */
export function gcPauses(windows: readonly EldWindow[]): { msPerSec: number; maxMs: number } {
  return {
    msPerSec:
      windows.reduce((n, x) => n + x.gcTotal, 0) / Math.max(1e-9, (windows.length * ELD_WINDOW_MS) / 1000),
    maxMs: windows.reduce((n, x) => Math.max(n, x.gcMax), 0),
  };
}

/** Reads what the probe wrote, one entry per window. */
export function readEld(text: string): EldWindow[] {
  const out: EldWindow[] = [];
  for (const line of text.split("\n")) {
    const [at, delay, gcTotal, gcMax] = line.split(" ").map(Number);
    if (line && Number.isFinite(at) && Number.isFinite(delay))
      out.push({ at: at!, delay: delay!, gcTotal: gcTotal ?? 0, gcMax: gcMax ?? 0 });
  }
  return out;
}
