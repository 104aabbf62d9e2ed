/**
 * Next-fit allocation of regions in a fixed-size arena (a SharedArrayBuffer its owners share
 * between threads): the read workers' answer arenas (log/read-worker.ts) and the writer's
 * staging arena (storage/staging-arena.ts).
 *
 * Why arenas at all: bytes that cross between threads as transferred ArrayBuffers count as new
 * external memory on the receiving thread until a full collection sweeps them, and at hundreds
 * of MB/s that brought a mark-compact of the main thread every 40-200 ms. Views on memory the
 * threads already share cost the collector nothing.
 *
 * Why next fit: regions are freed in roughly the order they were taken (answers as they are
 * written, batches as their commits finish), so the search starts at the gap after the last
 * region handed out, where the free space is; first fit rescanned every live region each time,
 * which with thousands of small batches in flight made each commit quadratic. An empty arena
 * starts over at its beginning, so light use stays in its first pages (resident memory). A
 * freed region's space is reusable at once; when no gap fits, alloc returns null and the
 * caller goes the old way.
 *
 * Invariants: live regions never overlap and lie inside the arena; `regions` is sorted by
 * start; `byId` holds exactly the live regions; a region id is freed at most once.
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
  private readonly byId = new Map<number, Region>();
  private nextId = 1;
  /** The gap to search first: gap i lies before regions[i] (gap regions.length: the tail). */
  private cursor = 0;
  private liveTotal = 0;
  /** Gaps looked at by alloc, in all (tests check the search stays short). */
  gapsScanned = 0;

  constructor(readonly size: number) {
    assert(Number.isSafeInteger(size) && size > 0, "arena size must be a positive integer");
  }

  /** Reserves `bytes`; returns the region's id and start, or null if no gap is big enough. */
  alloc(bytes: number): { id: number; start: number } | null {
    assert(Number.isSafeInteger(bytes) && bytes > 0, "alloc needs a positive size");
    if (this.size - this.liveTotal < bytes) return null; // full: no gap can hold it
    const n = this.regions.length;
    if (n === 0) this.cursor = 0;
    for (let k = 0; k <= n; k++) {
      const at = (this.cursor + k) % (n + 1);
      this.gapsScanned++;
      const gapStart = at > 0 ? this.regions[at - 1]!.end : 0;
      const gapEnd = at < n ? this.regions[at]!.start : this.size;
      if (gapEnd - gapStart < bytes) continue;
      const region: Region = { id: this.nextId++, start: gapStart, end: gapStart + bytes };
      this.regions.splice(at, 0, region);
      this.byId.set(region.id, region);
      this.liveTotal += bytes;
      this.cursor = at + 1;
      return { id: region.id, start: region.start };
    }
    return null;
  }

  /**
   * The live region holding all of [start, end), or null. Binary search: regions are sorted by
   * start and disjoint, so only the last one starting at or before `start` can hold it.
   */
  containing(start: number, end: number): { id: number; start: number; end: number } | null {
    const i = this.indexAtOrBefore(start);
    if (i < 0) return null;
    const r = this.regions[i]!;
    return end <= r.end ? { id: r.id, start: r.start, end: r.end } : null;
  }

  /** Index of the last live region starting at or before `pos`, or -1 (binary search). */
  private indexAtOrBefore(pos: number): number {
    let lo = 0;
    let hi = this.regions.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.regions[mid]!.start <= pos) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Frees a region: its space is reusable at once. */
  free(id: number): void {
    const region = this.byId.get(id);
    assert(region !== undefined, "arena region freed twice or never allocated");
    const i = this.indexAtOrBefore(region.start);
    assert(this.regions[i] === region, "a live region is missing from the sorted list");
    this.regions.splice(i, 1);
    this.byId.delete(id);
    this.liveTotal -= region.end - region.start;
    if (i < this.cursor) this.cursor--;
  }

  /** Bytes of live regions (for tests and diagnostics). */
  liveBytes(): number {
    return this.liveTotal;
  }

  /** Live regions by start, [start, end) (for tests). */
  live(): { start: number; end: number }[] {
    return this.regions.map((r) => ({ start: r.start, end: r.end }));
  }
}
