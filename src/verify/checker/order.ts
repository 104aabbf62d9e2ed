/**
 * Reordering: a producer's acknowledged values for one input partition were acknowledged in
 * sequence order (one send in flight), so they must sit at increasing offsets in the input and,
 * copied in input order, at increasing offsets of one output partition.
 */
import { type Model, parseValue } from "./model.js";
import type { Anomalies, FinalState, ReadRecord } from "./types.js";

export function checkReordered(model: Model, final: FinalState, out: Anomalies): void {
  const streams = new Map<string, { seq: number; value: string }[]>();
  for (const [value, ack] of model.acked) {
    const parsed = parseValue(value);
    if (!parsed) continue;
    const key = `${parsed.producer}/${ack.partition}`;
    let list = streams.get(key);
    if (!list) streams.set(key, (list = []));
    list.push({ seq: parsed.seq, value });
  }
  const index = (records: ReadRecord[]) => {
    const at = new Map<string, ReadRecord>();
    for (const r of records) if (!at.has(r.value)) at.set(r.value, r);
    return at;
  };
  const topics = [
    ["input", index(final.input)],
    ["output", index(final.output)],
  ] as const;
  for (const [key, list] of streams) {
    list.sort((a, b) => a.seq - b.seq);
    for (const [topic, at] of topics) {
      let prev: ReadRecord | null = null;
      let prevValue = "";
      for (const { value } of list) {
        const r = at.get(value);
        if (!r) continue;
        if (prev && (r.partition !== prev.partition || r.offset <= prev.offset))
          out.add("reordered", `${topic}: ${value} is not after ${prevValue} (stream ${key})`, {
            topic,
            stream: key,
            before: { value: prevValue, partition: prev.partition, offset: prev.offset },
            after: { value, partition: r.partition, offset: r.offset },
          });
        prev = r;
        prevValue = value;
      }
    }
  }
}
