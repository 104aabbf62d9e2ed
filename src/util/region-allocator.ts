/**
 * First-fit allocation of regions in a fixed-size arena (a SharedArrayBuffer its owners share
 * between threads): the read workers' answer arenas (log/read-worker.ts) and the writer's
 * staging arena (storage/staging-arena.ts).
 *
 * Why arenas at all: bytes that cross between threads as transferred ArrayBuffers count as new
 * external memory on the receiving thread until a full collection sweeps them, and at hundreds
 * of MB/s that brought a mark-compact of the main thread every 40-200 ms. Views on memory the
 * threads already share cost the collector nothing.
 *
 * First fit over the gaps between live regions, which are few (the answers or batches in
 * flight), so a linear scan is cheap; a freed region's space is reusable at once, so one slow
 * holder does not keep the rest of the arena from others. When nothing fits, alloc returns
 * null and the caller goes the old way.
 *
 * Invariants: live regions never overlap and lie inside the arena; `regions` is sorted by
 * start; a region id is freed at most once.
 */
import { assert } from "./assert.js";

interface Region {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

export class RegionAllocator {
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

  /**
   * The live region holding all of [start, end), or null. Binary search: regions are sorted by
   * start and disjoint, so only the last one starting at or before `start` can hold it.
   */
  containing(start: number, end: number): { id: number; start: number; end: number } | null {
    let lo = 0;
    let hi = this.regions.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.regions[mid]!.start <= start) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return null;
    const r = this.regions[found]!;
    return end <= r.end ? { id: r.id, start: r.start, end: r.end } : null;
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
