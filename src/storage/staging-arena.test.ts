import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StagingArena } from "./staging-arena.js";

describe("StagingArena", () => {
  it("frees a region on its last reference, and only then", () => {
    const arena = new StagingArena(100);
    const a = arena.alloc(60)!;
    assert.ok(a.buf.buffer === arena.memory, "a view of the shared memory");
    assert.equal(arena.alloc(50), null, "no room while a is live");
    a.ref(); // a commit writing from it
    a.unref(); // the request is done with it
    assert.equal(arena.liveBytes(), 60, "the commit still holds it");
    assert.equal(arena.alloc(50), null);
    a.unref();
    assert.equal(arena.liveBytes(), 0);
    assert.ok(arena.alloc(100), "all of it is free again");
    assert.throws(() => a.unref(), /released more often than referenced/);
    assert.throws(() => a.ref(), /freed staging region/);
    assert.deepEqual(arena.stats, { staged: 2, refused: 2 });
  });

  it("finds the region of bytes inside it, and no region for other memory", () => {
    const arena = new StagingArena(1000);
    const a = arena.alloc(100)!;
    const b = arena.alloc(200)!;
    assert.equal(arena.holding(a.buf.subarray(10, 90)), a);
    assert.equal(arena.holding(b.buf), b);
    assert.equal(arena.holding(Buffer.alloc(10)), null, "heap memory");
    assert.equal(arena.holding(Buffer.from(arena.memory, 300, 10)), null, "unallocated arena memory");
    assert.equal(arena.holding(Buffer.from(arena.memory, 90, 20)), null, "across two regions");
    assert.deepEqual(arena.param(b.buf.subarray(5, 15)), { arenaStart: 105, arenaBytes: 10 });
    b.unref();
    assert.equal(arena.holding(Buffer.from(arena.memory, 100, 10)), null, "b is freed");
    assert.throws(() => arena.param(Buffer.from(arena.memory, 100, 10)), /outside a live region/);
  });
});
