/** A small progress bar on stderr, driven by expected step durations. */

function fmtTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class Progress {
  private doneMs = 0;
  private stepLabel = "";
  private stepExpected = 0;
  private stepStart = 0;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;
  private lastLen = 0;

  constructor(
    private totalMs: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY) && process.env.CI === undefined;
  }

  start(): void {
    if (this.tty && !this.timer) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
  }

  /** Begin a step expected to take `expectedMs`; the bar advances with time, capped at the step. */
  step(label: string, expectedMs: number): void {
    this.finishStep();
    this.stepLabel = label;
    this.stepExpected = Math.max(0, expectedMs);
    this.stepStart = Date.now();
    if (!this.tty) this.stream.write(`[${fmtTime(Date.now() - this.started)}] ${label}\n`);
    this.draw();
  }

  /** Adjust the total when a scenario turns out shorter (skipped) or longer. */
  addTotal(deltaMs: number): void {
    this.totalMs = Math.max(1, this.totalMs + deltaMs);
  }

  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
    this.draw();
  }

  stop(): void {
    this.finishStep();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private finishStep(): void {
    if (this.stepExpected > 0) this.doneMs += this.stepExpected;
    this.stepExpected = 0;
  }

  private clear(): void {
    if (!this.tty || this.lastLen === 0) return;
    this.stream.write(`\r${" ".repeat(this.lastLen)}\r`);
    this.lastLen = 0;
  }

  private draw(): void {
    if (!this.tty) return;
    const inStep = Math.min(Date.now() - this.stepStart, this.stepExpected * 0.98);
    const done = Math.min(this.totalMs, this.doneMs + Math.max(0, inStep));
    const frac = this.totalMs > 0 ? done / this.totalMs : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = Date.now() - this.started;
    const eta = frac > 0.02 ? (elapsed / frac) * (1 - frac) : this.totalMs - done;
    const cols = (this.stream.columns ?? 100) - 1;
    let line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% ${fmtTime(elapsed)} ~${fmtTime(eta)} left  ${this.stepLabel}`;
    if (line.length > cols) line = line.slice(0, cols);
    this.stream.write(`\r${line}${" ".repeat(Math.max(0, this.lastLen - line.length))}`);
    this.lastLen = line.length;
  }
}
