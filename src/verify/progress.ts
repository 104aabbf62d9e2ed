/**
 * A progress line on stderr: phase, time left, acknowledged throughput, faults so far. On a
 * terminal it redraws one line; otherwise it prints a line every LOG_EVERY_MS.
 */
const BAR_WIDTH = 24;
const LOG_EVERY_MS = 10_000;

export interface ProgressSample {
  phase: string;
  elapsedMs: number;
  durationMs: number;
  acknowledged: number;
  attempted: number;
  faults: number;
  faultsByKind: Record<string, number>;
}

export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private lastLog = 0;
  private lastAcked = 0;
  private lastAt = Date.now();
  private rate = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly sample: () => ProgressSample,
    private readonly enabled: boolean,
  ) {}

  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.enabled) {
      this.draw(true);
      if (this.tty) process.stderr.write("\n");
    }
  }

  private draw(force = false): void {
    const s = this.sample();
    const now = Date.now();
    const dt = (now - this.lastAt) / 1000;
    if (dt > 0) this.rate = 0.7 * this.rate + (0.3 * (s.acknowledged - this.lastAcked)) / dt;
    this.lastAcked = s.acknowledged;
    this.lastAt = now;
    const frac = Math.min(1, s.elapsedMs / Math.max(1, s.durationMs));
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`;
    const left = Math.max(0, Math.ceil((s.durationMs - s.elapsedMs) / 1000));
    const kinds = Object.entries(s.faultsByKind)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    const line =
      `${bar} ${s.phase.padEnd(8)} ${String(left).padStart(4)}s left | ` +
      `${Math.round(this.rate).toLocaleString("en-US")} rec/s | ` +
      `${s.acknowledged.toLocaleString("en-US")}/${s.attempted.toLocaleString("en-US")} acked | ` +
      `faults ${s.faults}${kinds ? ` (${kinds})` : ""}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (force || now - this.lastLog >= LOG_EVERY_MS) {
      process.stderr.write(`${line}\n`);
      this.lastLog = now;
    }
  }
}
