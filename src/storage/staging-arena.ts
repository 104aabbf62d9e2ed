/**
 * The staging arena: a SharedArrayBuffer the main thread and the writer worker share, where the
 * bytes a commit writes (record batches) wait for it, and where a protocol adapter may assemble
 * an incoming request that holds them.
 *
 * Why: a batch used to reach the writer in an ArrayBuffer of its own, transferred, and a Produce
 * frame spread over several socket reads was first joined in another. Each was new external
 * memory for the main thread's garbage collector: at ~100 MB/s of ingest it ran a full
 * mark-compact every ~40 ms, with the main thread's utilisation at about 60%. Regions of memory
 * both threads already hold cost the collector nothing. When the arena is full, callers fall
 * back to the old way (alloc returns null): slower, never wrong.
 *
 * Lifetime: a region is freed when its last reference goes. Whoever allocates holds the first;
 * a commit that writes bytes from a region holds another until the writer has answered for it
 * (storage/writer.ts), so a request's frame may be released before or after its commit.
 *
 * Invariants: a region is referenced by at least one holder while it is live; the writer reads
 * a region only between a commit's hand-over and its answer, while the commit holds it.
 */
import { assert } from "../util/assert.js";
import { RegionAllocator } from "../util/region-allocator.js";

/**
 * Default arena size: many commits' worth of batches plus the requests being joined (the
 * ingest bench's 16 Produce requests of ~110 KB in flight hold about 2 MiB). The allocator
 * cycles through the arena under steady load, so this much can become resident; beyond it
 * requests take the slower way.
 */
export const STAGING_ARENA_BYTES = 32 * 1024 * 1024;

/** A write op's parameter that names bytes in the arena (the writer binds them as a BLOB). */
export interface ArenaBytes {
  readonly arenaStart: number;
  readonly arenaBytes: number;
}

/**
 * The memory a commit's bytes live in, passed with its ops (Writer.submit): an ArrayBuffer the
 * writer takes over, or a reference to a staging region the commit holds until it is answered.
 */
export type CommitHold = ArrayBuffer | Staged;

export function isArenaBytes(p: unknown): p is ArenaBytes {
  return typeof p === "object" && p !== null && "arenaStart" in p && "arenaBytes" in p;
}

/** One live region: `buf` is a view of it. */
export class Staged {
  private refs = 1;

  constructor(
    private readonly arena: StagingArena,
    readonly id: number,
    readonly buf: Buffer,
  ) {}

  ref(): void {
    assert(this.refs > 0, "a freed staging region referenced again");
    this.refs++;
  }

  unref(): void {
    assert(this.refs > 0, "a staging region released more often than referenced");
    if (--this.refs === 0) this.arena.free(this);
  }
}

export interface StagingStats {
  /** Regions handed out, and asked for but refused for lack of room (those bytes took the old way). */
  staged: number;
  refused: number;
}

export class StagingArena {
  readonly memory: SharedArrayBuffer;
  private readonly view: Buffer;
  private readonly regions: RegionAllocator;
  private readonly live = new Map<number, Staged>();
  readonly stats: StagingStats = { staged: 0, refused: 0 };

  constructor(bytes: number) {
    this.memory = new SharedArrayBuffer(bytes);
    this.view = Buffer.from(this.memory);
    this.regions = new RegionAllocator(bytes);
  }

  /** A region of `bytes`, referenced once by the caller; null when no gap holds it. */
  alloc(bytes: number): Staged | null {
    const r = this.regions.alloc(bytes);
    if (!r) {
      this.stats.refused++;
      return null;
    }
    this.stats.staged++;
    const staged = new Staged(this, r.id, this.view.subarray(r.start, r.start + bytes));
    this.live.set(r.id, staged);
    return staged;
  }

  /** The live region `buf` lies in, or null when it is not memory of this arena. */
  holding(buf: Uint8Array): Staged | null {
    if (buf.buffer !== this.memory) return null;
    const r = this.regions.containing(buf.byteOffset, buf.byteOffset + buf.byteLength);
    return r ? (this.live.get(r.id) ?? null) : null;
  }

  /** The op parameter naming `buf`, which must lie in a live region of this arena. */
  param(buf: Uint8Array): ArenaBytes {
    assert(this.holding(buf) !== null, "staged bytes outside a live region");
    return { arenaStart: buf.byteOffset, arenaBytes: buf.byteLength };
  }

  /** Bytes in live regions. */
  liveBytes(): number {
    return this.regions.liveBytes();
  }

  /** Called by Staged.unref on the last reference. */
  free(staged: Staged): void {
    assert(this.live.get(staged.id) === staged, "staging region freed twice");
    this.live.delete(staged.id);
    this.regions.free(staged.id);
  }
}
