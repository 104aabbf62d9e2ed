/** Child side of the load-process protocol: config from argv, messages over IPC. */

export function loadConfig<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error("missing JSON config argument");
  return JSON.parse(raw) as T;
}

export function send(msg: { type: string; [k: string]: unknown }): void {
  if (process.send && process.connected) process.send(msg);
}

/** Sends and resolves once the message has been handed to the channel. */
export function sendFlushed(msg: { type: string; [k: string]: unknown }): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/** Resolves with the next parent message of `type`, or rejects after `timeoutMs`. */
export function nextMessage(
  type: string,
  timeoutMs: number,
): Promise<{ type: string; [k: string]: unknown }> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: unknown) => {
      const msg = m as { type: string };
      if (msg && msg.type === type) {
        clearTimeout(t);
        process.off("message", onMsg);
        resolve(msg);
      }
    };
    const t = setTimeout(() => {
      process.off("message", onMsg);
      reject(new Error(`timed out waiting for parent message "${type}"`));
    }, timeoutMs);
    process.on("message", onMsg);
  });
}

/** This process's CPU use between start and stop, in cores. */
export class SelfCpu {
  private c0 = process.cpuUsage();
  private t0 = performance.now();
  start(): void {
    this.c0 = process.cpuUsage();
    this.t0 = performance.now();
  }
  stop(): number {
    const d = process.cpuUsage(this.c0);
    const dt = (performance.now() - this.t0) * 1000;
    return dt > 0 ? (d.user + d.system) / dt : Number.NaN;
  }
}

/** Counts events in fixed time buckets, for throughput-over-time lines (bounded). */
export class Buckets {
  readonly counts: number[] = [];
  constructor(
    private readonly t0: number,
    readonly bucketMs: number,
    private readonly maxBuckets = 10_000,
  ) {}
  add(n: number, now = performance.now()): void {
    const i = Math.floor((now - this.t0) / this.bucketMs);
    if (i < 0 || i >= this.maxBuckets) return;
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i] += n;
  }
  /** [seconds, rate per second] points for the buckets that end by `untilMs` (partial buckets dropped). */
  rates(untilMs = Number.POSITIVE_INFINITY): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.counts.length && (i + 1) * this.bucketMs <= untilMs; i++)
      out.push([((i + 1) * this.bucketMs) / 1000, (this.counts[i] * 1000) / this.bucketMs]);
    return out;
  }
}

/** Runs `main`, reporting its result or error to the parent, then exits. */
export function runMain<R>(main: () => Promise<R>): void {
  process.on("SIGTERM", () => process.exit(143));
  // The bench that started this process is gone (crashed, killed): do not run on as an orphan.
  process.on("disconnect", () => process.exit(2));
  main().then(
    async (result) => {
      await sendFlushed({ type: "result", result });
      process.exit(0);
    },
    async (err: unknown) => {
      await sendFlushed({
        type: "error",
        message: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
      process.exit(1);
    },
  );
}
