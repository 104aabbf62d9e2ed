import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RegionAllocator } from "./region-allocator.js";

/** Live regions never overlap, lie inside the arena, and each holds what was written to it. */
function checkLive(
  arena: RegionAllocator,
  memory: Uint8Array,
  owners: Map<number, { start: number; end: number; tag: number }>,
) {
  const live = arena.live();
  assert.equal(live.length, owners.size);
  const sorted = [...live].sort((a, b) => a.start - b.start);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    assert.ok(r.start >= 0 && r.end <= arena.size && r.start < r.end, `region ${r.start}-${r.end} inside`);
    if (i > 0) assert.ok(sorted[i - 1]!.end <= r.start, "live regions overlap");
  }
  for (const { start, end, tag } of owners.values())
    for (let i = start; i < end; i++) assert.equal(memory[i], tag, "a live region was overwritten");
  // containing() finds each live region from any range inside it, and nothing across two.
  for (const [id, { start, end }] of owners) {
    assert.equal(arena.containing(start, end)?.id, id);
    assert.equal(arena.containing(end - 1, end)?.id, id);
    assert.equal(arena.containing(start, end + 1)?.id === id, false, "a range past the region's end");
  }
  for (let i = 0; i < sorted.length; i++) {
    const gapStart = i > 0 ? sorted[i - 1]!.end : 0;
    if (gapStart < sorted[i]!.start) assert.equal(arena.containing(gapStart, gapStart + 1), null, "a gap");
  }
}

describe("RegionAllocator", () => {
  it("hands out disjoint regions under any order of allocations and frees", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.array(
          fc.oneof(fc.record({ alloc: fc.integer({ min: 1, max: 5000 }) }), fc.record({ free: fc.nat() })),
          {
            maxLength: 200,
          },
        ),
        (size, steps) => {
          const arena = new RegionAllocator(size);
          const memory = new Uint8Array(size);
          const owners = new Map<number, { start: number; end: number; tag: number }>();
          let tag = 0;
          for (const step of steps) {
            if ("alloc" in step) {
              const got = arena.alloc(step.alloc);
              if (got === null) {
                // Refused only when no gap between live regions holds it.
                const live = arena.live();
                const gaps = live.map((r, i) => r.start - (i > 0 ? live[i - 1]!.end : 0));
                gaps.push(size - (live.at(-1)?.end ?? 0));
                assert.ok(
                  gaps.every((g) => g < step.alloc),
                  "refused though a gap holds it",
                );
                continue;
              }
              tag = (tag % 255) + 1;
              memory.fill(tag, got.start, got.start + step.alloc);
              owners.set(got.id, { start: got.start, end: got.start + step.alloc, tag });
            } else if (owners.size > 0) {
              const ids = [...owners.keys()];
              const id = ids[step.free % ids.length]!;
              arena.free(id);
              owners.delete(id);
            }
            checkLive(arena, memory, owners);
          }
          // Everything freed: the whole ring is available again.
          for (const id of owners.keys()) arena.free(id);
          assert.equal(arena.liveBytes(), 0);
          assert.ok(arena.alloc(size) !== null, "the empty arena takes an allocation of its full size");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reuses freed space at once, next fit, and refuses what no gap holds", () => {
    const arena = new RegionAllocator(100);
    const a = arena.alloc(40)!;
    const b = arena.alloc(40)!;
    assert.deepEqual([a.start, b.start], [0, 40]);
    assert.equal(arena.alloc(30), null, "20 bytes left");
    arena.free(a.id);
    const c = arena.alloc(30)!;
    assert.equal(c.start, 0, "a's space, freed while b is still live");
    assert.equal(arena.alloc(15)!.start, 80, "after c the 10-byte gap at 30 is too small");
    assert.equal(arena.alloc(10)!.start, 30);
    assert.equal(arena.alloc(6), null, "full but for 5 bytes at the end");
    assert.equal(arena.alloc(5)!.start, 95);
    assert.throws(() => arena.free(a.id), /freed twice/);
    assert.equal(arena.alloc(101), null);
  });

  it("finds room after the last region handed out without rescanning the live ones", () => {
    // Thousands of small regions in flight, freed oldest first while new ones are taken (batches
    // of commits in flight): each allocation looks at a few gaps, not at every live region.
    const arena = new RegionAllocator(4 << 20);
    const live: number[] = [];
    let ops = 0;
    for (let i = 0; i < 5000; i++) {
      live.push(arena.alloc(100)!.id);
      ops++;
    }
    for (let i = 0; i < 50_000; i++) {
      if (i % 7 !== 6) arena.free(live.shift()!);
      const r = arena.alloc(100 + (i % 50));
      assert.ok(r, `room for allocation ${i}`);
      live.push(r.id);
      ops++;
    }
    assert.ok(arena.gapsScanned < 3 * ops, `${arena.gapsScanned} gaps scanned for ${ops} allocations`);
    for (const id of live) arena.free(id);
    assert.equal(arena.liveBytes(), 0);
    assert.equal(arena.alloc(1)!.start, 0, "an empty arena starts over at its beginning");
  });
});
