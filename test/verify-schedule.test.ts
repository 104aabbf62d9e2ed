/** The verify fault schedule is a pure function of its seed, bounded by the run's duration. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planFaults, type ScheduleSpec } from "../src/verify/faults/schedule.js";
import { parseDuration, parseFaults } from "../src/verify/options.js";

const spec: ScheduleSpec = {
  seed: 42,
  durationMs: 60_000,
  kinds: ["kill", "pause", "net", "disk"],
  server: true,
  producers: 3,
  copiers: 2,
  readers: 2,
  diskActions: ["disk-fsync", "disk-full"],
};

describe("verify fault schedule", () => {
  it("is replayable from its seed and differs between seeds", () => {
    assert.deepEqual(planFaults(spec), planFaults(spec));
    assert.notDeepEqual(planFaults(spec), planFaults({ ...spec, seed: 43 }));
  });

  it("uses every kind, stays inside the duration and never overlaps faults", () => {
    const steps = planFaults(spec);
    assert.deepEqual(new Set(steps.map((s) => s.kind)), new Set(spec.kinds));
    let end = 0;
    for (const s of steps) {
      assert.ok(s.atMs >= end, "faults run one at a time");
      end = s.atMs + s.holdMs;
      assert.ok(end <= spec.durationMs);
    }
  });

  it("never targets the server when it is external", () => {
    const steps = planFaults({ ...spec, server: false, kinds: ["kill", "pause"] });
    assert.ok(steps.length > 0);
    assert.ok(steps.every((s) => s.target !== "server"));
  });

  it("parses durations and fault lists", () => {
    assert.equal(parseDuration("60s", "--duration"), 60_000);
    assert.equal(parseDuration("5m", "--duration"), 300_000);
    assert.equal(parseDuration("250ms", "--duration"), 250);
    assert.throws(() => parseDuration("soon", "--duration"));
    assert.deepEqual(parseFaults("kill,net,kill"), ["kill", "net"]);
    assert.deepEqual(parseFaults("none"), []);
    assert.throws(() => parseFaults("kill,fire"));
  });
});
