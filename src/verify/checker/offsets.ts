/**
 * Offset anomalies:
 *  1. one offset holding two values (across acknowledgements, copier reads and writes, readers
 *     and the final reads);
 *  2. a reader's offsets in a partition going backwards (or repeating) with no restart,
 *     rebalance or crash of that reader in between;
 *  3. the copier group's committed offsets not matching the output actually produced: every
 *     input record below the committed offset must be in the output, none at or above it, and
 *     each output record's source position must hold the same value in the input.
 */
import type { HistoryEvent } from "../history.js";
import { type Model, sessionKey } from "./model.js";
import type { Anomalies, FinalState } from "./types.js";

export function checkOffsetValues(model: Model, final: FinalState, out: Anomalies): void {
  const seen = new Map<string, { value: string; source: string }>();
  const conflicted = new Set<string>();
  const see = (topic: string, partition: number, offset: number, value: string, source: string) => {
    const key = `${topic}/${partition}/${offset}`;
    const prev = seen.get(key);
    if (!prev) {
      seen.set(key, { value, source });
      return;
    }
    if (prev.value === value || conflicted.has(key)) return;
    conflicted.add(key);
    out.add("offset", `${topic} ${partition}:${offset} holds two values: ${prev.value} and ${value}`, {
      topic,
      partition,
      offset,
      values: [
        { value: prev.value, source: prev.source },
        { value, source },
      ],
    });
  };
  for (const s of model.sends)
    if (s.status === "ok")
      s.values.forEach((v, i) => {
        see("input", s.partition, s.offset! + i, v, `ack ${s.process}`);
      });
  for (const t of model.txns.values()) {
    for (const [off, v] of t.reads) see("input", t.partition, off, v, `copier read ${t.id}`);
    if (t.status === "ok") for (const [p, off, v] of t.writes ?? []) see("output", p, off, v, `txn ${t.id}`);
  }
  for (const p of model.polls)
    for (const [off, v] of p.records) see("output", p.partition, off, v, `reader ${p.process}`);
  for (const r of final.input) see("input", r.partition, r.offset, r.value, "final read");
  for (const r of final.output) see("output", r.partition, r.offset, r.value, "final read");
}

export function checkReaderOffsets(history: readonly HistoryEvent[], out: Anomalies): void {
  const last = new Map<string, Map<number, number>>();
  for (const e of history) {
    if (!e.process.startsWith("r")) continue;
    const key = sessionKey(e.process, e.inc);
    if (e.type === "info") {
      last.delete(key);
      continue;
    }
    if (e.type !== "ok" || e.f !== "poll" || e.partition === undefined) continue;
    let parts = last.get(key);
    if (!parts) last.set(key, (parts = new Map()));
    for (const [off] of e.records ?? []) {
      const prev = parts.get(e.partition);
      if (prev !== undefined && off <= prev)
        out.add("offset", `reader ${key} went from ${prev} back to ${off} in partition ${e.partition}`, {
          reader: key,
          partition: e.partition,
          from: prev,
          to: off,
          time: e.time,
        });
      parts.set(e.partition, off);
    }
  }
}

export function checkCommittedOffsets(final: FinalState, out: Anomalies): void {
  const inOutput = new Set(final.output.map((r) => r.value));
  const inputAt = new Map<string, string>();
  for (const r of final.input) inputAt.set(`${r.partition}:${r.offset}`, r.value);
  for (const [pText, committedRaw] of Object.entries(final.groupOffsets)) {
    const partition = Number(pText);
    const committed = Math.max(0, committedRaw);
    const end = final.inputEnds[partition] ?? 0;
    if (committed > end)
      out.add("offset", `committed offset ${committed} of input ${partition} is past its end ${end}`, {
        partition,
        committed,
        end,
      });
  }
  for (const r of final.input) {
    const committed = Math.max(0, final.groupOffsets[r.partition] ?? -1);
    const copied = inOutput.has(r.value);
    if (r.offset < committed && !copied)
      out.add(
        "offset",
        `input ${r.partition}:${r.offset} (${r.value}) is below the committed offset but not in the output`,
        {
          partition: r.partition,
          offset: r.offset,
          committed,
          value: r.value,
        },
      );
    else if (r.offset >= committed && copied)
      out.add(
        "offset",
        `input ${r.partition}:${r.offset} (${r.value}) is in the output but not below the committed offset`,
        {
          partition: r.partition,
          offset: r.offset,
          committed,
          value: r.value,
        },
      );
  }
  for (const r of final.output) {
    if (r.src === undefined) continue;
    const atSrc = inputAt.get(r.src);
    if (atSrc !== r.value)
      out.add(
        "offset",
        `output ${r.partition}:${r.offset} (${r.value}) says it came from input ${r.src}, which holds ${atSrc ?? "nothing"}`,
        {
          partition: r.partition,
          offset: r.offset,
          value: r.value,
          src: r.src,
          atSrc: atSrc ?? null,
        },
      );
  }
}
