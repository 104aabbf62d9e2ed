/**
 * The arena a read worker copies its answers into: one region per answer, in a SharedArrayBuffer
 * the main thread made and sees too, freed when the main thread says the answer is written.
 *
 * Why: answers used to travel as transferred ArrayBuffers. Every one that reaches the main
 * thread counts as new external memory there until a full collection sweeps it, even after it
 * is handed back, and a consumer catching up at ~500 MB/s brought a mark-compact of the main
 * thread every 60-200 ms (5-15 ms of pause each) while produce acknowledgements waited. Views
 * on memory the main thread already holds cost it nothing.
 *
 * First fit over the gaps between live regions, which are few (one per answer not yet written
 * to its socket), so a linear scan is cheap; a freed region's space is reusable at once, so a
 * slow consumer holding one answer does not keep the rest of the arena from others. An answer
 * that does not fit goes the old way (ReadArena.alloc returns null).
 *
 * Invariants: live regions never overlap and lie inside the arena; `regions` is sorted by
 * start; a region id is freed at most once.
 */
import { assert } from "../util/assert.js";

interface Region {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

export class ReadArena {
  /** Live regions, sorted by start. */
  private readonly regions: Region[] = [];
  private nextId = 1;

  constructor(readonly size: number) {
    assert(Number.isSafeInteger(size) && size > 0, "arena size must be a positive integer");
  }

  /** Reserves `bytes`; returns the region's id and start, or null if no gap is big enough. */
  alloc(bytes: number): { id: number; start: number } | null {
    assert(Number.isSafeInteger(bytes) && bytes > 0, "alloc needs a positive size");
    let gapStart = 0;
    let at = 0;
    for (; at <= this.regions.length; at++) {
      const gapEnd = at < this.regions.length ? this.regions[at]!.start : this.size;
      if (gapEnd - gapStart >= bytes) break;
      if (at < this.regions.length) gapStart = this.regions[at]!.end;
    }
    if (at > this.regions.length) return null;
    const region: Region = { id: this.nextId++, start: gapStart, end: gapStart + bytes };
    this.regions.splice(at, 0, region);
    return { id: region.id, start: region.start };
  }

  /** Frees a region: its space is reusable at once. */
  free(id: number): void {
    const i = this.regions.findIndex((r) => r.id === id);
    assert(i >= 0, "arena region freed twice or never allocated");
    this.regions.splice(i, 1);
  }

  /** Bytes of live regions (for tests and diagnostics). */
  liveBytes(): number {
    let n = 0;
    for (const r of this.regions) n += r.end - r.start;
    return n;
  }

  /** Live regions by start, [start, end) (for tests). */
  live(): { start: number; end: number }[] {
    return this.regions.map((r) => ({ start: r.start, end: r.end }));
  }
}
