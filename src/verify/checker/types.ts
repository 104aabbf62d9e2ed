/** Types shared by the checker's parts. The checker is pure: history and final reads in, anomalies out. */
import type { HistoryEvent } from "../history.js";

export const AnomalyKinds = [
  "lost",
  "duplicated",
  "unexpected",
  "aborted-read",
  "reordered",
  "offset",
  "g1c",
  "liveness",
  "crash",
] as const;
export type AnomalyKind = (typeof AnomalyKinds)[number];

export interface Anomaly {
  kind: AnomalyKind;
  message: string;
  detail?: Record<string, unknown>;
}

/** One record as read back by the final read_committed consumer. */
export interface ReadRecord {
  partition: number;
  offset: number;
  value: string;
  /** Output records only: the copier transaction that wrote it (header `txn`). */
  txn?: string;
  /** Output records only: "inputPartition:inputOffset" it was copied from (header `src`). */
  src?: string;
}

export interface Liveness {
  /** The bound the run gave healing plus the final read. */
  boundMs: number;
  /** Copiers' committed offsets reached the input's end offsets within the bound. */
  caughtUp: boolean;
  /** The final read reached every output and input partition's end within the bound. */
  finalReadComplete: boolean;
  /** From the start of healing to the end of the final read. */
  healMs: number;
  detail?: string;
}

export interface FinalState {
  output: ReadRecord[];
  input: ReadRecord[];
  /** The copier group's committed offset per input partition (-1: none). */
  groupOffsets: Record<number, number>;
  /** Each input partition's end offset (high watermark) after producers stopped. */
  inputEnds: Record<number, number>;
  liveness: Liveness;
}

export interface CheckInput {
  history: readonly HistoryEvent[];
  final: FinalState;
}

/** Keeps every anomaly's count but only the first few examples of each kind. */
export class Anomalies {
  readonly counts = Object.fromEntries(AnomalyKinds.map((k) => [k, 0])) as Record<AnomalyKind, number>;
  readonly examples: Anomaly[] = [];
  private readonly perKind = new Map<AnomalyKind, number>();

  constructor(private readonly examplesPerKindMax = 20) {}

  add(kind: AnomalyKind, message: string, detail?: Record<string, unknown>): void {
    this.counts[kind]++;
    const n = this.perKind.get(kind) ?? 0;
    if (n < this.examplesPerKindMax) {
      this.examples.push(detail ? { kind, message, detail } : { kind, message });
      this.perKind.set(kind, n + 1);
    }
  }

  get total(): number {
    let t = 0;
    for (const k of AnomalyKinds) t += this.counts[k];
    return t;
  }
}
