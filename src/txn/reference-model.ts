/**
 * Test-only reference model of the idempotent-producer sequence rules (Kafka's
 * ProducerStateManager), written independently of sequence.ts: it keeps the full history of
 * accepted batches and markers for one (producer id, partition) and derives every verdict from
 * that history instead of from a small rolling state.
 */

export const MODEL_SEQUENCE_MAX = 2147483647;
export const MODEL_BATCHES_KEPT = 5;

export interface ModelBatch {
  readonly epoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export type ModelVerdict =
  | { readonly kind: "append" }
  | { readonly kind: "duplicate"; readonly batch: ModelBatch }
  | { readonly kind: "error"; readonly error: "INVALID_PRODUCER_EPOCH" | "OUT_OF_ORDER_SEQUENCE_NUMBER" };

/** Sequence `count - 1` after `first`, modulo 2^31. */
export function modelLastSeq(first: number, count: number): number {
  return (first + count - 1) % (MODEL_SEQUENCE_MAX + 1);
}

/** The sequence that follows `seq`, modulo 2^31. */
export function modelNextSeq(seq: number): number {
  return (seq + 1) % (MODEL_SEQUENCE_MAX + 1);
}

export interface SequenceModelOptions {
  /**
   * Kafka's rule for a known producer whose current epoch has no batch yet (its epoch was set by
   * a transaction marker): the first batch must have sequence 0. When false, any sequence is
   * accepted there, as the implementation does today.
   */
  readonly strictEmptyEpoch?: boolean;
}

export class SequenceModel {
  /** Every batch ever accepted, oldest first. */
  readonly history: ModelBatch[] = [];
  /** Epoch of the latest accepted batch or marker; null while the producer is unknown. */
  epoch: number | null = null;

  constructor(private readonly opts: SequenceModelOptions = {}) {}

  /** Batches of the current epoch that a duplicate may still match (the last five). */
  kept(): ModelBatch[] {
    return this.history.filter((b) => b.epoch === this.epoch).slice(-MODEL_BATCHES_KEPT);
  }

  verdict(epoch: number, firstSeq: number, lastSeq: number): ModelVerdict {
    if (this.epoch === null) return { kind: "append" };
    if (epoch < this.epoch) return { kind: "error", error: "INVALID_PRODUCER_EPOCH" };
    if (epoch > this.epoch) {
      return firstSeq === 0 ? { kind: "append" } : { kind: "error", error: "OUT_OF_ORDER_SEQUENCE_NUMBER" };
    }
    const dup = this.kept().find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup) return { kind: "duplicate", batch: dup };
    const inEpoch = this.history.filter((b) => b.epoch === epoch);
    const last = inEpoch[inEpoch.length - 1];
    if (!last) {
      if (!this.opts.strictEmptyEpoch || firstSeq === 0) return { kind: "append" };
      return { kind: "error", error: "OUT_OF_ORDER_SEQUENCE_NUMBER" };
    }
    return firstSeq === modelNextSeq(last.lastSeq)
      ? { kind: "append" }
      : { kind: "error", error: "OUT_OF_ORDER_SEQUENCE_NUMBER" };
  }

  append(batch: ModelBatch): void {
    this.history.push(batch);
    this.epoch = batch.epoch;
  }

  /** A transaction marker written in `epoch` (never older than the current one). */
  marker(epoch: number): void {
    if (this.epoch !== null && epoch < this.epoch) throw new Error("marker in an older epoch");
    this.epoch = epoch;
  }
}
