/**
 * G1c: cycles in the write-read dependency graph, found with Tarjan's algorithm.
 *
 * Nodes are operations: producer sends, copier transactions, reader polls. Edges:
 *  - wr on values: the send that wrote input value v -> the copier transaction that read v;
 *    the transaction that wrote an output record (its `txn` header) -> the poll that read it;
 *  - wr on committed offsets: the committed transaction that committed input offset c of
 *    partition p -> every transaction whose first read was p:c;
 *  - session order: consecutive completed operations of one process incarnation.
 * Every edge points forward in time in a correct run (a write takes effect before it is read;
 * an incarnation's operations are sequential), so any cycle is an anomaly: some operation
 * observed the effect of one that, by the other edges, came after it.
 */
import type { Model, PollOp, SendOp, TxnOp } from "./model.js";
import { cyclicComponents } from "./tarjan.js";
import type { Anomalies } from "./types.js";

const CYCLE_NODES_REPORTED_MAX = 12;

export function dependencyGraph(model: Model): Map<number, Set<number>> {
  const edges = new Map<number, Set<number>>();
  const edge = (a: number, b: number) => {
    let s = edges.get(a);
    if (!s) edges.set(a, (s = new Set()));
    s.add(b);
  };
  for (const t of model.txns.values())
    for (const [, v] of t.reads) {
      const w = model.attempted.get(v);
      if (w) edge(w.node, t.node);
    }
  for (const p of model.polls)
    for (const [, , txn] of p.records) {
      const t = txn ? model.txns.get(txn) : undefined;
      if (t) edge(t.node, p.node);
    }
  const committers = new Map<string, number[]>();
  for (const t of model.txns.values())
    if (t.status === "ok" && t.commit !== undefined) {
      const k = `${t.partition}:${t.commit}`;
      const list = committers.get(k);
      if (list) list.push(t.node);
      else committers.set(k, [t.node]);
    }
  for (const t of model.txns.values()) {
    const first = t.reads[0];
    if (!first) continue;
    for (const c of committers.get(`${t.partition}:${first[0]}`) ?? []) edge(c, t.node);
  }
  for (const ops of model.sessions.values()) for (let i = 1; i < ops.length; i++) edge(ops[i - 1]!, ops[i]!);
  return edges;
}

function describe(model: Model): Map<number, string> {
  const names = new Map<number, string>();
  const send = (s: SendOp) => `send ${s.process}#${s.inc} [${s.values[0] ?? ""}..] to input ${s.partition}`;
  const txn = (t: TxnOp) => `txn ${t.id} (${t.status}) input ${t.partition} from ${t.reads[0]?.[0] ?? "?"}`;
  const poll = (p: PollOp) =>
    `poll ${p.process}#${p.inc} output ${p.partition} at ${p.records[0]?.[0] ?? "?"}`;
  for (const s of model.sends) names.set(s.node, send(s));
  for (const t of model.txns.values()) names.set(t.node, txn(t));
  for (const p of model.polls) names.set(p.node, poll(p));
  return names;
}

export function checkCycles(model: Model, out: Anomalies): void {
  const comps = cyclicComponents(model.nodeCount, dependencyGraph(model));
  if (comps.length === 0) return;
  const names = describe(model);
  for (const comp of comps)
    out.add("g1c", `dependency cycle through ${comp.length} operations`, {
      size: comp.length,
      operations: comp.slice(0, CYCLE_NODES_REPORTED_MAX).map((n) => names.get(n) ?? `#${n}`),
    });
}
