/**
 * Value-level checks: lost, duplicated, unexpected and aborted reads. Values are unique by
 * construction (`p<producer>-<seq>`), so each must appear at most once in the input and once in
 * the output, and only if a producer tried to send it.
 */
import type { Model } from "./model.js";
import type { Anomalies, FinalState } from "./types.js";

/** Acknowledged by a producer but missing from the final input or output. */
export function checkLost(model: Model, final: FinalState, out: Anomalies): void {
  const inOutput = new Set(final.output.map((r) => r.value));
  const inInput = new Set(final.input.map((r) => r.value));
  for (const [value, ack] of model.acked) {
    const where: string[] = [];
    if (!inInput.has(value)) where.push("input");
    if (!inOutput.has(value)) where.push("output");
    if (where.length > 0)
      out.add("lost", `acknowledged ${value} is missing from the ${where.join(" and ")}`, {
        value,
        where,
        ack,
      });
  }
}

/** One value at two offsets of the output, or twice in the input. */
export function checkDuplicated(final: FinalState, out: Anomalies): void {
  for (const [topic, records] of [
    ["output", final.output],
    ["input", final.input],
  ] as const) {
    const at = new Map<string, string[]>();
    for (const r of records) {
      const list = at.get(r.value);
      const pos = `${r.partition}:${r.offset}`;
      if (list) list.push(pos);
      else at.set(r.value, [pos]);
    }
    for (const [value, positions] of at)
      if (positions.length > 1)
        out.add("duplicated", `${value} appears ${positions.length} times in the ${topic}`, {
          value,
          topic,
          positions,
          txns:
            topic === "output"
              ? records.filter((r) => r.value === value).map((r) => r.txn ?? null)
              : undefined,
        });
  }
}

/** Read (anywhere) but never sent by a producer; or written by a transaction nobody began. */
export function checkUnexpected(model: Model, final: FinalState, out: Anomalies): void {
  const reported = new Set<string>();
  const see = (value: string, where: string) => {
    if (model.attempted.has(value) || reported.has(value)) return;
    reported.add(value);
    out.add("unexpected", `${value} was read (${where}) but never sent`, { value, where });
  };
  for (const r of final.input) see(r.value, "final input");
  for (const r of final.output) see(r.value, "final output");
  for (const t of model.txns.values()) for (const [, v] of t.reads) see(v, `copier ${t.process}`);
  for (const p of model.polls) for (const [, v] of p.records) see(v, `reader ${p.process}`);
  const unknownTxn = new Set<string>();
  for (const r of final.output)
    if (r.txn !== undefined && !model.txns.has(r.txn) && !unknownTxn.has(r.txn)) {
      unknownTxn.add(r.txn);
      out.add("unexpected", `output ${r.value} names transaction ${r.txn}, which no copier began`, {
        value: r.value,
        txn: r.txn,
      });
    }
}

/** A read_committed consumer saw a record of a transaction whose commit was never sent. */
export function checkAbortedReads(model: Model, final: FinalState, out: Anomalies): void {
  const reported = new Set<string>();
  const see = (value: string, txn: string | undefined, where: string) => {
    if (txn === undefined) return;
    const t = model.txns.get(txn);
    if (t?.status !== "fail") return;
    const key = `${txn}/${value}/${where}`;
    if (reported.has(key)) return;
    reported.add(key);
    out.add("aborted-read", `${where} read ${value} from aborted transaction ${txn}`, {
      value,
      txn,
      where,
      error: t.error,
    });
  };
  for (const r of final.output) see(r.value, r.txn, "final read");
  for (const p of model.polls) for (const [, v, txn] of p.records) see(v, txn, `reader ${p.process}`);
}
