/**
 * Preloaded (`node --import`) into a process the bench wants to watch: records how late the
 * process's main thread ran its event loop, as the worst delay per 100 ms window, and appends
 * "wall-clock-ms worst-delay-ms" lines to $ONCEDB_BENCH_ELD_FILE once a second.
 *
 * The responsiveness scenario loads it into OnceDB (is the server's main thread blocked?) and
 * into an idle control process (how late does any process on this machine run when the CPUs
 * are busy?). Telling those apart is the point: the first is the server's fault, the second is
 * the machine's.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";
import { lineFile } from "./line-file.js";

export const ELD_WINDOW_MS = 100;

const file = process.env.ONCEDB_BENCH_ELD_FILE;
if (file && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const write = lineFile(file);
  setInterval(() => {
    // The histogram includes the 1 ms sampling interval itself.
    write(`${Date.now()} ${(Math.max(0, h.max / 1e6 - 1)).toFixed(2)}`);
    h.reset();
  }, ELD_WINDOW_MS).unref();
}

/** Reads what the probe wrote: [wall ms, worst delay ms] per window. */
export function readEld(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const line of text.split("\n")) {
    const [a, b] = line.split(" ");
    const t = Number(a);
    const v = Number(b);
    if (Number.isFinite(t) && Number.isFinite(v) && line) out.push([t, v]);
  }
  return out;
}
