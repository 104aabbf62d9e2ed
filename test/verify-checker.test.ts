/**
 * The verify checker on hand-made histories: a clean one passes, and each anomaly the issue
 * lists is found in a history that contains it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { check } from "../src/verify/checker/check.js";
import { cyclicComponents } from "../src/verify/checker/tarjan.js";
import type { FinalState } from "../src/verify/checker/types.js";
import type { HistoryEvent } from "../src/verify/history.js";

let clock = 1_000;
const ev = (
  process: string,
  type: HistoryEvent["type"],
  f: string,
  rest: Partial<HistoryEvent> = {},
): HistoryEvent => ({
  time: clock++,
  process,
  inc: 0,
  type,
  f,
  ...rest,
});

/** Two producers, two copiers, one reader; everything copied once and read. */
function cleanRun(): { history: HistoryEvent[]; final: FinalState } {
  const history: HistoryEvent[] = [
    ev("p0", "invoke", "send", { partition: 0, values: ["p0-0", "p0-1"] }),
    ev("p1", "invoke", "send", { partition: 1, values: ["p1-0"] }),
    ev("p0", "ok", "send", { partition: 0, offset: 0, values: ["p0-0", "p0-1"] }),
    ev("p1", "ok", "send", { partition: 1, offset: 0, values: ["p1-0"] }),
    ev("c0", "info", "rebalance"),
    ev("c0", "invoke", "txn", {
      txn: "c0.0.0",
      partition: 0,
      reads: [
        [0, "p0-0"],
        [1, "p0-1"],
      ],
    }),
    ev("c0", "ok", "txn", {
      txn: "c0.0.0",
      partition: 0,
      commit: 2,
      writes: [
        [0, 0, "p0-0"],
        [0, 1, "p0-1"],
      ],
    }),
    ev("c1", "invoke", "txn", { txn: "c1.0.0", partition: 1, reads: [[0, "p1-0"]] }),
    ev("c1", "ok", "txn", { txn: "c1.0.0", partition: 1, commit: 1, writes: [[1, 0, "p1-0"]] }),
    ev("r0", "info", "start"),
    ev("r0", "ok", "poll", {
      partition: 0,
      records: [
        [0, "p0-0", "c0.0.0"],
        [1, "p0-1", "c0.0.0"],
      ],
    }),
    ev("r0", "ok", "poll", { partition: 1, records: [[0, "p1-0", "c1.0.0"]] }),
  ];
  const final: FinalState = {
    output: [
      { partition: 0, offset: 0, value: "p0-0", txn: "c0.0.0", src: "0:0" },
      { partition: 0, offset: 1, value: "p0-1", txn: "c0.0.0", src: "0:1" },
      { partition: 1, offset: 0, value: "p1-0", txn: "c1.0.0", src: "1:0" },
    ],
    input: [
      { partition: 0, offset: 0, value: "p0-0" },
      { partition: 0, offset: 1, value: "p0-1" },
      { partition: 1, offset: 0, value: "p1-0" },
    ],
    groupOffsets: { 0: 2, 1: 1 },
    inputEnds: { 0: 2, 1: 1 },
    liveness: { boundMs: 60_000, caughtUp: true, finalReadComplete: true, healMs: 1000 },
  };
  return { history, final };
}

describe("verify checker", () => {
  it("passes a clean history", () => {
    const r = check(cleanRun());
    assert.equal(r.total, 0, JSON.stringify(r.examples));
    assert.equal(r.valid, true);
    assert.equal(r.stats.acknowledged, 3);
    assert.equal(r.stats.txnsCommitted, 2);
  });

  it("accepts an indeterminate send that was or was not written", () => {
    const run = cleanRun();
    run.history.push(ev("p1", "invoke", "send", { partition: 1, values: ["p1-1"] }));
    run.history.push(ev("p1", "info", "send", { partition: 1, values: ["p1-1"], error: "timeout" }));
    assert.equal(check(run).total, 0);
  });

  it("finds an acknowledged value lost from the output", () => {
    const run = cleanRun();
    run.final.output = run.final.output.filter((r) => r.value !== "p1-0");
    const r = check(run);
    assert.equal(r.counts.lost, 1);
    assert.equal(r.examples.find((e) => e.kind === "lost")?.detail?.value, "p1-0");
  });

  it("finds a value lost from the input", () => {
    const run = cleanRun();
    run.final.input = run.final.input.filter((r) => r.value !== "p0-0");
    assert.equal(check(run).counts.lost, 1);
  });

  it("finds a value duplicated in the output", () => {
    const run = cleanRun();
    run.final.output.push({ partition: 0, offset: 3, value: "p0-0", txn: "c0.0.0", src: "0:0" });
    assert.equal(check(run).counts.duplicated, 1);
  });

  it("finds a value one producer wrote twice to the input", () => {
    const run = cleanRun();
    run.final.input.push({ partition: 0, offset: 2, value: "p0-1" });
    assert.ok(check(run).counts.duplicated >= 1);
  });

  it("finds a value read but never written", () => {
    const run = cleanRun();
    run.history.push(ev("r0", "ok", "poll", { partition: 1, records: [[1, "p7-3", "c1.0.0"]] }));
    const r = check(run);
    assert.equal(r.counts.unexpected, 1);
  });

  it("finds an output record naming a transaction no copier began", () => {
    const run = cleanRun();
    run.final.output[2]!.txn = "c9.0.0";
    assert.equal(check(run).counts.unexpected, 1);
  });

  it("finds a read of an aborted transaction", () => {
    const run = cleanRun();
    run.history.push(ev("p1", "invoke", "send", { partition: 1, values: ["p1-1"] }));
    run.history.push(ev("p1", "ok", "send", { partition: 1, offset: 1, values: ["p1-1"] }));
    run.history.push(ev("c1", "invoke", "txn", { txn: "c1.0.1", partition: 1, reads: [[1, "p1-1"]] }));
    run.history.push(ev("c1", "fail", "txn", { txn: "c1.0.1", error: "fenced" }));
    run.history.push(ev("c1", "invoke", "txn", { txn: "c1.0.2", partition: 1, reads: [[1, "p1-1"]] }));
    run.history.push(
      ev("c1", "ok", "txn", { txn: "c1.0.2", partition: 1, commit: 2, writes: [[1, 3, "p1-1"]] }),
    );
    run.history.push(ev("r0", "ok", "poll", { partition: 1, records: [[1, "p1-1", "c1.0.1"]] }));
    run.final.input.push({ partition: 1, offset: 1, value: "p1-1" });
    run.final.output.push({ partition: 1, offset: 3, value: "p1-1", txn: "c1.0.2", src: "1:1" });
    run.final.groupOffsets[1] = 2;
    run.final.inputEnds[1] = 2;
    const r = check(run);
    assert.equal(r.counts["aborted-read"], 1, JSON.stringify(r.examples));
  });

  it("finds a producer's values reordered in the output", () => {
    const run = cleanRun();
    run.final.output[0]!.offset = 1;
    run.final.output[1]!.offset = 0;
    assert.ok(check(run).counts.reordered >= 1);
  });

  it("finds one offset holding two values", () => {
    const run = cleanRun();
    run.history.push(ev("r1", "ok", "poll", { partition: 1, records: [[0, "p0-1", "c0.0.0"]] }));
    const r = check(run);
    assert.ok(r.examples.some((e) => e.kind === "offset" && /two values/.test(e.message)));
  });

  it("finds a reader going backwards without a rebalance, but not after one", () => {
    const run = cleanRun();
    run.history.push(ev("r0", "ok", "poll", { partition: 0, records: [[0, "p0-0", "c0.0.0"]] }));
    assert.equal(check(run).counts.offset, 1);
    const ok = cleanRun();
    ok.history.push(ev("r0", "info", "rebalance"));
    ok.history.push(ev("r0", "ok", "poll", { partition: 0, records: [[0, "p0-0", "c0.0.0"]] }));
    assert.equal(check(ok).counts.offset, 0);
  });

  it("finds committed offsets that do not match the output", () => {
    const run = cleanRun();
    run.final.groupOffsets[0] = 1;
    assert.ok(check(run).counts.offset >= 1);
    const past = cleanRun();
    past.final.groupOffsets[1] = 5;
    assert.ok(check(past).counts.offset >= 1);
    const src = cleanRun();
    src.final.output[0]!.src = "0:1";
    assert.ok(check(src).counts.offset >= 1);
  });

  it("finds a G1c cycle through committed offsets and session order", () => {
    // c0 copies input 0 offset 3 (after c1 committed 3), then offset 1 and commits 2, which c1
    // had already read from: c1.T -> c0.T0 -> c0.T1 -> c1.T.
    const values = ["p0-0", "p0-1", "p0-2", "p0-3"];
    const history: HistoryEvent[] = [
      ev("p0", "invoke", "send", { partition: 0, values }),
      ev("p0", "ok", "send", { partition: 0, offset: 0, values }),
      ev("c1", "invoke", "txn", { txn: "c1.0.0", partition: 0, reads: [[2, "p0-2"]] }),
      ev("c1", "ok", "txn", { txn: "c1.0.0", partition: 0, commit: 3, writes: [[0, 0, "p0-2"]] }),
      ev("c0", "invoke", "txn", { txn: "c0.0.0", partition: 0, reads: [[3, "p0-3"]] }),
      ev("c0", "ok", "txn", { txn: "c0.0.0", partition: 0, commit: 4, writes: [[0, 2, "p0-3"]] }),
      ev("c0", "invoke", "txn", { txn: "c0.0.1", partition: 0, reads: [[1, "p0-1"]] }),
      ev("c0", "ok", "txn", { txn: "c0.0.1", partition: 0, commit: 2, writes: [[0, 4, "p0-1"]] }),
    ];
    const r = check({ history, final: cleanRun().final });
    assert.equal(r.counts.g1c, 1, JSON.stringify(r.examples.filter((e) => e.kind === "g1c")));
  });

  it("finds no cycle in a DAG and every cycle with Tarjan", () => {
    const g = (pairs: [number, number][]) => {
      const m = new Map<number, Set<number>>();
      for (const [a, b] of pairs) {
        if (!m.has(a)) m.set(a, new Set());
        m.get(a)!.add(b);
      }
      return m;
    };
    assert.deepEqual(
      cyclicComponents(
        4,
        g([
          [0, 1],
          [1, 2],
          [0, 2],
          [2, 3],
        ]),
      ),
      [],
    );
    const comps = cyclicComponents(
      6,
      g([
        [0, 1],
        [1, 0],
        [2, 3],
        [3, 4],
        [4, 2],
        [5, 5],
      ]),
    );
    assert.deepEqual(comps.map((c) => c.sort()).sort(), [[0, 1], [2, 3, 4], [5]]);
    // A long chain must not overflow the stack.
    const n = 200_000;
    const chain = new Map<number, Set<number>>();
    for (let i = 0; i + 1 < n; i++) chain.set(i, new Set([i + 1]));
    chain.set(n - 1, new Set([0]));
    assert.equal(cyclicComponents(n, chain)[0]!.length, n);
  });

  it("finds a liveness failure", () => {
    const run = cleanRun();
    run.final.liveness.caughtUp = false;
    assert.equal(check(run).counts.liveness, 1);
    const slow = cleanRun();
    slow.final.liveness.healMs = 70_000;
    assert.equal(check(slow).counts.liveness, 1);
  });

  it("counts a server crash outside disk faults only", () => {
    const run = cleanRun();
    run.history.push(ev("server", "info", "crash", { code: 1, signal: null, duringDiskFault: false }));
    run.history.push(ev("server", "info", "crash", { code: 1, signal: null, duringDiskFault: true }));
    assert.equal(check(run).counts.crash, 1);
  });
});
