/**
 * The operation history: one JSON object per line in `history.jsonl`, written by the workers
 * (on their stdout) and by the verifier itself (server, nemesis, heal). The checker reads only
 * these events and the final reads.
 *
 * Event shapes, by `f`:
 *  - send (producers):  invoke {partition, values} -> ok {partition, offset (base), values} |
 *                       info {partition, values, error} (indeterminate: may or may not be written).
 *  - txn (copiers):     invoke {txn, partition, reads: [inOffset, value][]} ->
 *                       ok {txn, partition, commit (next input offset), writes: [outPartition, outOffset, value][]} |
 *                       fail {txn, error} (EndTxn(commit) never sent: must never be visible) |
 *                       info {txn, error} (commit sent, outcome unknown).
 *  - poll (readers):    ok {partition, records: [outOffset, value, txn][]}.
 *  - start / rebalance / crash / exit / acquire / gap (info): a worker's position may legitimately
 *                       move back after these.
 *  - fault (nemesis):   invoke {kind, action, target} -> ok {kind, action, target} | info {error}.
 *  - server:            info {f: "start" | "killed" | "exit"}.
 */
import fs from "node:fs";

export const EventTypes = ["invoke", "ok", "fail", "info"] as const;
export type EventType = (typeof EventTypes)[number];

export interface HistoryEvent {
  /** Wall-clock ms (Date.now()) when the event was recorded by its process. */
  time: number;
  /** "p0" (producer 0), "c1" (copier 1), "r0" (reader 0), "server", "nemesis", "verifier". */
  process: string;
  /** Incarnation of the process: 0 at first start, +1 per restart. */
  inc?: number;
  type: EventType;
  f: string;
  partition?: number;
  offset?: number;
  values?: string[];
  txn?: string;
  reads?: [number, string][];
  commit?: number;
  writes?: [number, number, string][];
  records?: [number, string, string][];
  error?: string;
  [key: string]: unknown;
}

/** Validates the shape of a parsed line; returns null for anything that is not an event. */
export function asEvent(x: unknown): HistoryEvent | null {
  if (typeof x !== "object" || x === null) return null;
  const e = x as Record<string, unknown>;
  if (typeof e.process !== "string" || typeof e.f !== "string" || typeof e.time !== "number") return null;
  if (!EventTypes.includes(e.type as EventType)) return null;
  return e as HistoryEvent;
}

/** Appends events to history.jsonl and keeps them in memory for the checker. */
export class HistoryLog {
  readonly events: HistoryEvent[] = [];
  private readonly fd: number | null;
  private pending: string[] = [];
  /** Lines from workers that were not events (counted, not kept). */
  garbled = 0;
  /** Called for every event appended (the verifier's live counters). */
  onAppend: (e: HistoryEvent) => void = () => {};

  constructor(file: string | null) {
    this.fd = file ? fs.openSync(file, "a") : null;
  }

  append(e: HistoryEvent): void {
    this.events.push(e);
    this.onAppend(e);
    if (this.fd !== null) {
      this.pending.push(JSON.stringify(e));
      if (this.pending.length >= 256) this.flush();
    }
  }

  appendLine(line: string): HistoryEvent | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.garbled++;
      return null;
    }
    const e = asEvent(parsed);
    if (!e) {
      this.garbled++;
      return null;
    }
    this.append(e);
    return e;
  }

  flush(): void {
    if (this.fd === null || this.pending.length === 0) return;
    fs.writeSync(this.fd, `${this.pending.join("\n")}\n`);
    this.pending = [];
  }

  close(): void {
    this.flush();
    if (this.fd !== null) fs.closeSync(this.fd);
  }
}

/** Reads a history.jsonl back (for re-checking a saved run). */
export function readHistoryFile(file: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const e = asEvent(JSON.parse(line));
    if (e) out.push(e);
  }
  return out;
}
