import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DedupeWindow } from "./dedupe.js";

describe("dedupe window", () => {
  it("forgets ids once they are older than the window, oldest first", () => {
    const w = new DedupeWindow(1000);
    w.remember("a", 1, 0);
    w.remember("b", 2, 500);
    assert.equal(w.lookup("a", 999), 1);
    assert.equal(w.lookup("a", 1001), undefined);
    assert.equal(w.lookup("b", 1001), 2);
    assert.equal(w.lookup("b", 1501), undefined);
    assert.equal(w.size, 0);
  });

  it("a pending id answers with its commit's outcome; a failed one is forgotten", async () => {
    const w = new DedupeWindow(1000);
    let resolve!: (n: number) => void;
    const pending = new Promise<number>((r) => {
      resolve = r;
    });
    w.remember("a", pending, 0);
    assert.equal(w.lookup("a", 1), pending);
    resolve(7);
    w.settle("a", pending, await pending);
    assert.equal(w.lookup("a", 2), 7);
    const failing = Promise.reject(new Error("commit failed"));
    failing.catch(() => undefined);
    w.remember("b", failing, 3);
    w.forget("b", failing);
    assert.equal(w.lookup("b", 4), undefined);
    // forget() of a stale promise leaves a newer entry alone.
    w.remember("c", 9, 5);
    w.forget("c", failing);
    assert.equal(w.lookup("c", 6), 9);
  });

  it("keeps at most idsMax ids, dropping the oldest", () => {
    const w = new DedupeWindow(60_000, 3);
    for (const [i, id] of ["a", "b", "c", "d"].entries()) w.remember(id, i + 1, i);
    assert.equal(w.size, 3);
    assert.equal(w.lookup("a", 10), undefined);
    assert.equal(w.lookup("d", 10), 4);
  });
});
