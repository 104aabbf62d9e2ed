/**
 * The idempotent-producer sequence rules (sequence.ts): one unit test per rule, then a
 * property test of random batch streams (new batches, retries of earlier ones, gaps, epoch
 * bumps, stale epochs, wraps at INT32_MAX) against the history-based model in reference-model.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MODEL_SEQUENCE_MAX,
  type ModelVerdict,
  modelLastSeq,
  modelNextSeq,
  SequenceModel,
} from "./reference-model.js";
import {
  afterAppend,
  afterEpoch,
  checkSequence,
  decodeBatches,
  encodeBatches,
  type KeptBatch,
  lastSequence,
  nextInSequence,
  PRODUCER_BATCHES_KEPT,
  type ProducerPartitionState,
  SEQUENCE_MAX,
  type SequenceVerdict,
} from "./sequence.js";

const kb = (firstSeq: number, count: number, baseOffset: number): KeptBatch => ({
  firstSeq,
  lastSeq: lastSequence(firstSeq, count),
  baseOffset,
  lastOffset: baseOffset + count - 1,
});

/** A state holding `batches` in `epoch`, built through afterAppend as the coordinator does. */
function stateOf(epoch: number, batches: KeptBatch[]): ProducerPartitionState | undefined {
  let s: ProducerPartitionState | undefined;
  for (const b of batches) s = afterAppend(s, epoch, b);
  return s;
}

const check = (s: ProducerPartitionState | undefined, epoch: number, first: number, count: number) =>
  checkSequence(s, epoch, first, lastSequence(first, count));

const kindOf = (v: SequenceVerdict) => (v.kind === "error" ? v.error : v.kind);

describe("sequence rules", () => {
  it("constants", () => {
    assert.equal(SEQUENCE_MAX, 2147483647);
    assert.equal(PRODUCER_BATCHES_KEPT, 5);
  });

  it("an unknown producer may start at any sequence", () => {
    for (const first of [0, 1, 17, 1_000_000, SEQUENCE_MAX - 1, SEQUENCE_MAX]) {
      for (const epoch of [0, 3, 32766]) assert.equal(kindOf(check(undefined, epoch, first, 2)), "append");
    }
  });

  it("an older epoch is refused, even for an exact duplicate or the next sequence", () => {
    const s = stateOf(5, [kb(0, 3, 100)]);
    assert.equal(kindOf(check(s, 4, 3, 1)), "INVALID_PRODUCER_EPOCH");
    assert.equal(kindOf(check(s, 4, 0, 3)), "INVALID_PRODUCER_EPOCH");
    assert.equal(kindOf(check(s, 0, 0, 1)), "INVALID_PRODUCER_EPOCH");
  });

  it("a newer epoch must start at sequence 0", () => {
    const s = stateOf(2, [kb(0, 3, 0), kb(3, 2, 3)]);
    assert.equal(kindOf(check(s, 3, 0, 4)), "append");
    assert.equal(kindOf(check(s, 7, 0, 1)), "append");
    assert.equal(kindOf(check(s, 3, 5, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER", "the old epoch's next");
    assert.equal(kindOf(check(s, 3, 1, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.equal(kindOf(check(s, 3, 3, 2)), "OUT_OF_ORDER_SEQUENCE_NUMBER", "not a duplicate across epochs");
  });

  it("a duplicate of each of the last five batches is answered with its original offsets", () => {
    const batches = [kb(0, 1, 0), kb(1, 2, 1), kb(3, 3, 3), kb(6, 1, 10), kb(7, 4, 11), kb(11, 2, 20)];
    const s = stateOf(0, batches);
    assert.deepEqual(s?.batches, batches.slice(1));
    for (const b of batches.slice(1)) {
      const v = checkSequence(s, 0, b.firstSeq, b.lastSeq);
      assert.deepEqual(v, { kind: "duplicate", batch: b });
    }
    // The sixth-newest is forgotten: no longer a duplicate, and not next either.
    assert.equal(kindOf(check(s, 0, 0, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    // A duplicate must match both ends: same first sequence with another count is out of order.
    assert.equal(kindOf(check(s, 0, 3, 2)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.equal(kindOf(check(s, 0, 4, 2)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  });

  it("only the next sequence is appended: gaps and overlaps are out of order", () => {
    const s = stateOf(1, [kb(0, 5, 0)]);
    assert.equal(kindOf(check(s, 1, 5, 1)), "append");
    assert.equal(kindOf(check(s, 1, 6, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.equal(kindOf(check(s, 1, 100, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.equal(kindOf(check(s, 1, 4, 2)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.equal(kindOf(check(s, 1, 0, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    const v = check(s, 1, 7, 1);
    assert.ok(v.kind === "error" && /expected sequence 5, got 7/.test(v.message));
  });

  it("sequences wrap from INT32_MAX to 0", () => {
    assert.equal(lastSequence(SEQUENCE_MAX, 1), SEQUENCE_MAX);
    assert.equal(lastSequence(SEQUENCE_MAX, 2), 0);
    assert.equal(lastSequence(SEQUENCE_MAX - 1, 5), 2);
    assert.equal(nextInSequence(SEQUENCE_MAX, 0), true);
    assert.equal(nextInSequence(SEQUENCE_MAX - 1, SEQUENCE_MAX), true);
    assert.equal(nextInSequence(SEQUENCE_MAX, SEQUENCE_MAX + 1), false);
    const atMax = stateOf(0, [kb(SEQUENCE_MAX - 2, 3, 0)]);
    assert.equal(atMax?.batches[0]?.lastSeq, SEQUENCE_MAX);
    assert.equal(kindOf(check(atMax, 0, 0, 1)), "append");
    assert.equal(kindOf(check(atMax, 0, SEQUENCE_MAX + 1, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    const v = check(atMax, 0, 1, 1);
    assert.ok(v.kind === "error" && /expected sequence 0/.test(v.message));
    // A batch spanning the wrap, then its successor and a duplicate of it.
    const span = kb(SEQUENCE_MAX - 1, 4, 7);
    assert.equal(span.lastSeq, 1);
    const s = stateOf(0, [kb(SEQUENCE_MAX - 3, 2, 5), span]);
    assert.equal(kindOf(check(s, 0, 2, 1)), "append");
    assert.deepEqual(checkSequence(s, 0, SEQUENCE_MAX - 1, 1), { kind: "duplicate", batch: span });
  });

  it("keeps only the last five batches, oldest first, and starts over in a new epoch", () => {
    let s: ProducerPartitionState | undefined;
    for (let i = 0; i < 12; i++) {
      s = afterAppend(s, 0, kb(i, 1, i));
      assert.equal(s.batches.length, Math.min(i + 1, 5));
      assert.deepEqual(
        s.batches.map((b) => b.firstSeq),
        Array.from({ length: Math.min(i + 1, 5) }, (_, k) => i - Math.min(i + 1, 5) + 1 + k),
      );
    }
    const bumped = afterAppend(s, 1, kb(0, 1, 12));
    assert.deepEqual(bumped, { epoch: 1, batches: [kb(0, 1, 12)] });
  });

  it("a marker keeps sequences within its epoch and clears them in a new one", () => {
    const s = stateOf(3, [kb(0, 2, 0)])!;
    assert.equal(afterEpoch(s, 3), s);
    assert.deepEqual(afterEpoch(s, 4), { epoch: 4, batches: [] });
    assert.deepEqual(afterEpoch(undefined, 2), { epoch: 2, batches: [] });
    // After a marker in a new epoch, an older epoch is refused and the new one starts at 0.
    const fenced = afterEpoch(s, 4);
    assert.equal(kindOf(check(fenced, 3, 2, 1)), "INVALID_PRODUCER_EPOCH");
    assert.equal(kindOf(check(fenced, 4, 0, 1)), "append");
  });

  it("after a marker in a new epoch the first batch of that epoch must have sequence 0 (Kafka)", {}, () => {
    const fenced = afterEpoch(stateOf(3, [kb(0, 2, 0)]), 4);
    assert.equal(kindOf(check(fenced, 4, 5, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  });

  it("encodes and decodes the kept batches", () => {
    const batches = [kb(0, 1, 0), kb(1, 3, 1), kb(SEQUENCE_MAX, 2, 2 ** 40)];
    assert.deepEqual(decodeBatches(encodeBatches(batches)), batches);
    assert.deepEqual(decodeBatches(encodeBatches([])), []);
  });
});

// ------------------------------------------------------------------ property test

type SeqOp =
  | { kind: "next"; count: number }
  | { kind: "retry"; back: number }
  | { kind: "gap"; delta: number; count: number }
  | { kind: "bump"; by: number; first: number; count: number }
  | { kind: "stale"; first: number; count: number }
  | { kind: "marker"; bump: boolean };

const count = fc.integer({ min: 1, max: 6 });
const firstSeqArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: SEQUENCE_MAX - 8, max: SEQUENCE_MAX }),
  fc.integer({ min: 0, max: SEQUENCE_MAX }),
);

function seqOps(withMarkers: boolean): fc.Arbitrary<SeqOp> {
  const ops: fc.WeightedArbitrary<SeqOp>[] = [
    { weight: 8, arbitrary: fc.record({ kind: fc.constant("next" as const), count }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("retry" as const), back: fc.nat(8) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("gap" as const),
        delta: fc.oneof(fc.integer({ min: -8, max: -1 }), fc.integer({ min: 1, max: 8 })),
        count,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("bump" as const),
        by: fc.integer({ min: 1, max: 3 }),
        first: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: firstSeqArb }),
        count,
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("stale" as const), first: firstSeqArb, count }) },
  ];
  if (withMarkers) {
    ops.push({
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("marker" as const), bump: fc.boolean() }),
    });
  }
  return fc.oneof(...ops);
}

function sameVerdict(actual: SequenceVerdict, expected: ModelVerdict, what: string): void {
  assert.equal(kindOf(actual), expected.kind === "error" ? expected.error : expected.kind, what);
  if (actual.kind === "duplicate" && expected.kind === "duplicate") {
    const e = expected.batch;
    assert.deepEqual(
      actual.batch,
      { firstSeq: e.firstSeq, lastSeq: e.lastSeq, baseOffset: e.baseOffset, lastOffset: e.lastOffset },
      what,
    );
  }
}

/**
 * Drives checkSequence/afterAppend/afterEpoch (with the state persisted through
 * encodeBatches/decodeBatches after every step, as a restart would) and the model side by side.
 */
function runSequence(startEpoch: number, startSeq: number, ops: SeqOp[], strictEmptyEpoch: boolean): void {
  const model = new SequenceModel({ strictEmptyEpoch });
  let state: ProducerPartitionState | undefined;
  let nextOffset = 0;
  // The producer's view: its epoch and the sequence it would send next.
  let epoch = startEpoch;
  let nextSeq = startSeq;
  const sent: { epoch: number; first: number; count: number }[] = [];
  const trace: string[] = [];
  ops.forEach((op, i) => {
    let send: { epoch: number; first: number; count: number };
    switch (op.kind) {
      case "next":
        send = { epoch, first: nextSeq, count: op.count };
        break;
      case "retry": {
        const old = sent[sent.length - 1 - (op.back % Math.max(sent.length, 1))];
        if (!old) return;
        send = old;
        break;
      }
      case "gap":
        send = {
          epoch,
          first: (nextSeq + op.delta + MODEL_SEQUENCE_MAX + 1) % (MODEL_SEQUENCE_MAX + 1),
          count: op.count,
        };
        break;
      case "bump":
        epoch += op.by;
        nextSeq = 0;
        send = { epoch, first: op.first, count: op.count };
        break;
      case "stale":
        if (epoch === 0) return;
        send = { epoch: epoch - 1, first: op.first, count: op.count };
        break;
      case "marker": {
        // The coordinator writes markers only in the transaction's current epoch.
        const at = Math.max(epoch, model.epoch ?? 0) + (op.bump ? 1 : 0);
        trace.push(`#${i} marker epoch=${at}`);
        model.marker(at);
        state = afterEpoch(state, at);
        if (at !== epoch) {
          epoch = at;
          nextSeq = 0;
        }
        state = { epoch: state.epoch, batches: decodeBatches(encodeBatches(state.batches)) };
        return;
      }
    }
    const lastSeq = lastSequence(send.first, send.count);
    assert.equal(lastSeq, modelLastSeq(send.first, send.count));
    const actual = checkSequence(state, send.epoch, send.first, lastSeq);
    const expected = model.verdict(send.epoch, send.first, lastSeq);
    trace.push(`#${i} ${op.kind} e=${send.epoch} [${send.first}..${lastSeq}] -> ${kindOf(actual)}`);
    sameVerdict(actual, expected, trace.join("\n"));
    if (actual.kind === "append") {
      const batch = {
        firstSeq: send.first,
        lastSeq,
        baseOffset: nextOffset,
        lastOffset: nextOffset + send.count - 1,
      };
      nextOffset += send.count;
      state = afterAppend(state, send.epoch, batch);
      model.append({ epoch: send.epoch, ...batch });
      sent.push(send);
      if (send.epoch >= epoch) {
        epoch = send.epoch;
        nextSeq = modelNextSeq(lastSeq);
      }
    }
    if (state) {
      // The kept state is exactly the model's last five batches of the current epoch.
      assert.equal(state.epoch, model.epoch);
      assert.deepEqual(
        state.batches,
        model.kept().map((b) => ({
          firstSeq: b.firstSeq,
          lastSeq: b.lastSeq,
          baseOffset: b.baseOffset,
          lastOffset: b.lastOffset,
        })),
      );
      state = { epoch: state.epoch, batches: decodeBatches(encodeBatches(state.batches)) };
    }
  });
}

const runs = Number(process.env.FC_RUNS ?? 300);
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;

describe("sequence rules against the history model", () => {
  it("random batch streams: new, retries, gaps, epoch bumps, stale epochs, wraps", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 32000 }),
        firstSeqArb,
        fc.array(seqOps(false), { minLength: 1, maxLength: 60 }),
        (startEpoch, startSeq, ops) => runSequence(startEpoch, startSeq, ops, false),
      ),
      { numRuns: runs, seed },
    );
  });

  it("with transaction markers (Kafka's rule: a marker-opened epoch starts at sequence 0)", {}, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 32000 }),
        firstSeqArb,
        fc.array(seqOps(true), { minLength: 1, maxLength: 60 }),
        (startEpoch, startSeq, ops) => runSequence(startEpoch, startSeq, ops, true),
      ),
      { numRuns: runs, seed },
    );
  });
});
