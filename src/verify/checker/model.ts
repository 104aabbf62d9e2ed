/**
 * Indexes the history for the checks: producer sends (by value), copier transactions (by id),
 * reader polls, and each process incarnation's completed operations in order.
 */
import type { HistoryEvent } from "../history.js";

export type SendStatus = "ok" | "info" | "pending";
export type TxnStatus = "ok" | "fail" | "info" | "pending";

export interface SendOp {
  node: number;
  process: string;
  inc: number;
  partition: number;
  values: string[];
  status: SendStatus;
  /** Base offset when acknowledged. */
  offset?: number;
}

export interface TxnOp {
  node: number;
  id: string;
  process: string;
  inc: number;
  partition: number;
  reads: [number, string][];
  status: TxnStatus;
  commit?: number;
  writes?: [number, number, string][];
  error?: string;
}

export interface PollOp {
  node: number;
  process: string;
  inc: number;
  partition: number;
  records: [number, string, string][];
}

export interface Model {
  /** Every value a producer tried to send, with its send. */
  attempted: Map<string, SendOp>;
  /** Acknowledged values: input partition and offset. */
  acked: Map<string, { partition: number; offset: number }>;
  sends: SendOp[];
  txns: Map<string, TxnOp>;
  polls: PollOp[];
  /** Per "process#inc": graph nodes of completed (ok) operations, in completion order. */
  sessions: Map<string, number[]>;
  nodeCount: number;
}

/** "p3-17" -> { producer: "p3", seq: 17 }; null when the value is not of that shape. */
export function parseValue(value: string): { producer: string; seq: number } | null {
  const m = /^(p\d+)-(\d+)$/.exec(value);
  return m ? { producer: m[1]!, seq: Number(m[2]) } : null;
}

export function sessionKey(process: string, inc: number | undefined): string {
  return `${process}#${inc ?? 0}`;
}

export function buildModel(history: readonly HistoryEvent[]): Model {
  const m: Model = {
    attempted: new Map(),
    acked: new Map(),
    sends: [],
    txns: new Map(),
    polls: [],
    sessions: new Map(),
    nodeCount: 0,
  };
  const openSend = new Map<string, SendOp>();
  const done = (key: string, node: number) => {
    let s = m.sessions.get(key);
    if (!s) m.sessions.set(key, (s = []));
    s.push(node);
  };
  for (const e of history) {
    const key = sessionKey(e.process, e.inc);
    if (e.f === "send") {
      if (e.type === "invoke") {
        const op: SendOp = {
          node: m.nodeCount++,
          process: e.process,
          inc: e.inc ?? 0,
          partition: e.partition ?? -1,
          values: e.values ?? [],
          status: "pending",
        };
        m.sends.push(op);
        for (const v of op.values) m.attempted.set(v, op);
        openSend.set(key, op);
      } else {
        const op = openSend.get(key);
        if (!op) continue;
        openSend.delete(key);
        if (e.type === "ok") {
          op.status = "ok";
          op.offset = e.offset ?? -1;
          op.values.forEach((v, i) => {
            m.acked.set(v, { partition: op.partition, offset: op.offset! + i });
          });
          done(key, op.node);
        } else op.status = "info";
      }
    } else if (e.f === "txn" && e.txn !== undefined) {
      if (e.type === "invoke") {
        m.txns.set(e.txn, {
          node: m.nodeCount++,
          id: e.txn,
          process: e.process,
          inc: e.inc ?? 0,
          partition: e.partition ?? -1,
          reads: e.reads ?? [],
          status: "pending",
        });
      } else {
        const op = m.txns.get(e.txn);
        if (!op) continue;
        op.status = e.type;
        if (e.error !== undefined) op.error = e.error;
        if (e.type === "ok") {
          op.commit = e.commit;
          op.writes = e.writes ?? [];
          done(key, op.node);
        }
      }
    } else if (e.f === "poll" && e.type === "ok") {
      const op: PollOp = {
        node: m.nodeCount++,
        process: e.process,
        inc: e.inc ?? 0,
        partition: e.partition ?? -1,
        records: e.records ?? [],
      };
      m.polls.push(op);
      done(key, op.node);
    }
  }
  return m;
}
