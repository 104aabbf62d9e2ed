/** The checker: every check over one history and its final reads. Pure; no I/O. */
import { checkCycles } from "./cycles.js";
import { checkCrashes, checkLiveness } from "./liveness.js";
import { buildModel } from "./model.js";
import { checkCommittedOffsets, checkOffsetValues, checkReaderOffsets } from "./offsets.js";
import { checkReordered } from "./order.js";
import { Anomalies, type Anomaly, type AnomalyKind, type CheckInput } from "./types.js";
import { checkAbortedReads, checkDuplicated, checkLost, checkUnexpected } from "./values.js";

export interface CheckStats {
  attempted: number;
  acknowledged: number;
  indeterminate: number;
  readFinal: number;
  readFinalDistinct: number;
  inputRecords: number;
  txnsCommitted: number;
  txnsAborted: number;
  txnsUnknown: number;
  readerRecords: number;
}

export interface CheckResult {
  valid: boolean;
  total: number;
  counts: Record<AnomalyKind, number>;
  examples: Anomaly[];
  stats: CheckStats;
}

export function check(input: CheckInput): CheckResult {
  const { history, final } = input;
  const model = buildModel(history);
  const out = new Anomalies();
  checkLost(model, final, out);
  checkDuplicated(final, out);
  checkUnexpected(model, final, out);
  checkAbortedReads(model, final, out);
  checkReordered(model, final, out);
  checkOffsetValues(model, final, out);
  checkReaderOffsets(history, out);
  checkCommittedOffsets(final, out);
  checkCycles(model, out);
  checkLiveness(final, out);
  checkCrashes(history, out);

  let indeterminate = 0;
  for (const s of model.sends) if (s.status !== "ok") indeterminate += s.values.length;
  let txnsCommitted = 0;
  let txnsAborted = 0;
  let txnsUnknown = 0;
  for (const t of model.txns.values())
    if (t.status === "ok") txnsCommitted++;
    else if (t.status === "fail") txnsAborted++;
    else txnsUnknown++;
  let readerRecords = 0;
  for (const p of model.polls) readerRecords += p.records.length;
  return {
    valid: out.total === 0,
    total: out.total,
    counts: out.counts,
    examples: out.examples,
    stats: {
      attempted: model.attempted.size,
      acknowledged: model.acked.size,
      indeterminate,
      readFinal: final.output.length,
      readFinalDistinct: new Set(final.output.map((r) => r.value)).size,
      inputRecords: final.input.length,
      txnsCommitted,
      txnsAborted,
      txnsUnknown,
      readerRecords,
    },
  };
}
