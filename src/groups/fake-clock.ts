import type { Clock } from "./types.js";

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Deterministic Clock for tests: time moves only through advance()/runAll(). Timers fire in
 * (due time, creation order); a timer scheduled while advancing fires in the same advance if it is due.
 */
export class FakeClock implements Clock {
  private now: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Due time of the next timer, or undefined when none is armed. */
  nextDueMs(): number | undefined {
    return this.nextTimer()?.[1].at;
  }

  /** Move time forward by ms, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const next = this.nextTimer();
      if (!next || next[1].at > target) break;
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = target;
  }

  /** Fire timers until none is left (bounded, to catch timers that re-arm forever). */
  runAll(maxFirings = 100_000): void {
    for (let i = 0; i < maxFirings; i++) {
      const next = this.nextTimer();
      if (!next) return;
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    throw new Error(`FakeClock.runAll: still ${this.timers.size} timers after ${maxFirings} firings`);
  }

  private nextTimer(): [number, FakeTimer] | undefined {
    let best: [number, FakeTimer] | undefined;
    for (const entry of this.timers) {
      const t = entry[1];
      if (!best || t.at < best[1].at || (t.at === best[1].at && t.seq < best[1].seq)) best = entry;
    }
    return best;
  }
}
