/**
 * Idempotent-producer sequence rules, per (producer id, partition). Pure functions over a
 * small state value so that they can be tested against a reference model.
 *
 * State: the producer epoch and the last PRODUCER_BATCHES_KEPT batches written in it, each as
 * (first sequence, last sequence, base offset, last offset), oldest first.
 *
 * Rules (Kafka's ProducerStateManager, with the duplicate answer kafkajs needs):
 *   epoch < state epoch                  -> INVALID_PRODUCER_EPOCH (a fenced or stale producer)
 *   no state yet                         -> accept any first sequence
 *   epoch > state epoch                  -> accept only first sequence 0 (a bumped epoch starts over)
 *   same epoch, batch equals a kept one  -> duplicate: success with the original offsets
 *   same epoch, first = last kept + 1    -> accept (sequences wrap from INT32_MAX to 0)
 *   same epoch, nothing kept (a marker opened the epoch) -> accept only first sequence 0
 *   otherwise                            -> OUT_OF_ORDER_SEQUENCE_NUMBER
 */
export const PRODUCER_BATCHES_KEPT = 5;
export const SEQUENCE_MAX = 0x7fffffff;

export interface KeptBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export interface ProducerPartitionState {
  readonly epoch: number;
  readonly batches: readonly KeptBatch[];
}

export type SequenceVerdict =
  | { readonly kind: "append" }
  | { readonly kind: "duplicate"; readonly batch: KeptBatch }
  | {
      readonly kind: "error";
      readonly error: "INVALID_PRODUCER_EPOCH" | "OUT_OF_ORDER_SEQUENCE_NUMBER";
      readonly message: string;
    };

/** Last sequence of a batch starting at `firstSeq` with `count` records, wrapping at INT32_MAX. */
export function lastSequence(firstSeq: number, count: number): number {
  const last = firstSeq + count - 1;
  return last > SEQUENCE_MAX ? last - SEQUENCE_MAX - 1 : last;
}

export function nextInSequence(lastSeq: number, firstSeq: number): boolean {
  return lastSeq === SEQUENCE_MAX ? firstSeq === 0 : firstSeq === lastSeq + 1;
}

export function checkSequence(
  state: ProducerPartitionState | undefined,
  epoch: number,
  firstSeq: number,
  lastSeq: number,
): SequenceVerdict {
  if (!state) return { kind: "append" };
  if (epoch < state.epoch) {
    return {
      kind: "error",
      error: "INVALID_PRODUCER_EPOCH",
      message: `producer epoch ${epoch} is older than ${state.epoch}`,
    };
  }
  if (epoch > state.epoch) {
    if (firstSeq === 0) return { kind: "append" };
    return {
      kind: "error",
      error: "OUT_OF_ORDER_SEQUENCE_NUMBER",
      message: `a new epoch ${epoch} must start at sequence 0, got ${firstSeq}`,
    };
  }
  const dup = state.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
  if (dup) return { kind: "duplicate", batch: dup };
  // An epoch opened by a marker (a fence) has no batches yet: its first batch must be 0.
  const last = state.batches[state.batches.length - 1];
  if (last ? nextInSequence(last.lastSeq, firstSeq) : firstSeq === 0) return { kind: "append" };
  const expected = !last || last.lastSeq === SEQUENCE_MAX ? 0 : last.lastSeq + 1;
  return {
    kind: "error",
    error: "OUT_OF_ORDER_SEQUENCE_NUMBER",
    message: `expected sequence ${expected}, got ${firstSeq}`,
  };
}

/** The state after appending a batch that checkSequence accepted. */
export function afterAppend(
  state: ProducerPartitionState | undefined,
  epoch: number,
  batch: KeptBatch,
): ProducerPartitionState {
  const kept = state && state.epoch === epoch ? state.batches : [];
  const batches = [...kept, batch];
  if (batches.length > PRODUCER_BATCHES_KEPT) batches.splice(0, batches.length - PRODUCER_BATCHES_KEPT);
  return { epoch, batches };
}

/** The state after a transaction marker or an epoch bump: sequences carry on within an epoch. */
export function afterEpoch(state: ProducerPartitionState | undefined, epoch: number): ProducerPartitionState {
  if (state && state.epoch === epoch) return state;
  return { epoch, batches: [] };
}

export function encodeBatches(batches: readonly KeptBatch[]): string {
  return JSON.stringify(batches.map((b) => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset]));
}

export function decodeBatches(json: string): KeptBatch[] {
  return (JSON.parse(json) as [number, number, number, number][]).map(
    ([firstSeq, lastSeq, baseOffset, lastOffset]) => ({
      firstSeq,
      lastSeq,
      baseOffset,
      lastOffset,
    }),
  );
}
