/**
 * Preloaded (`node --import`) into OnceDB by the responsiveness scenario: subscribes to the
 * server's diagnostics channels (src/util/diagnostics.ts) and appends one line per Produce
 * request and per storage commit to $ONCEDB_BENCH_SPANS_FILE once a second.
 *
 * Why: the probe's ack latency is measured in another process, so it includes that process's
 * and the kernel's scheduling. These server-side times say where inside OnceDB an ack waited:
 * for the commit to reach the writer thread, for the commit itself (SQLite + fsync), for the
 * main thread to hear of it.
 */
import diagnostics from "node:diagnostics_channel";
import { isMainThread } from "node:worker_threads";
import type { CommitEvent, KafkaRequestEvent } from "../../src/util/diagnostics.js";
import { lineFile } from "./line-file.js";

const PRODUCE = 0;
const file = process.env.ONCEDB_BENCH_SPANS_FILE;
if (file && isMainThread) {
  const write = lineFile(file);
  const f = (v: number) => v.toFixed(3);
  diagnostics.subscribe("oncedb:kafka:request", (m) => {
    const e = m as KafkaRequestEvent;
    if (e.apiKey === PRODUCE) write(`P ${f(e.receivedAt)} ${f(e.answeredAt)} ${f(e.writtenAt)}`);
  });
  diagnostics.subscribe("oncedb:storage:commit", (m) => {
    const e = m as CommitEvent;
    write(`C ${f(e.submittedAt)} ${f(e.sentAt)} ${f(e.startedAt)} ${f(e.endedAt)} ${f(e.doneAt)}`);
  });
}

export interface ProduceSpan {
  receivedAt: number;
  answeredAt: number;
  writtenAt: number;
}
export interface CommitSpan {
  submittedAt: number;
  sentAt: number;
  startedAt: number;
  endedAt: number;
  doneAt: number;
}

/** Reads what the probe wrote. */
export function readSpans(text: string): { produces: ProduceSpan[]; commits: CommitSpan[] } {
  const produces: ProduceSpan[] = [];
  const commits: CommitSpan[] = [];
  for (const line of text.split("\n")) {
    const [kind, ...rest] = line.split(" ");
    const v = rest.map(Number);
    if (v.some((x) => !Number.isFinite(x))) continue;
    if (kind === "P" && v.length === 3)
      produces.push({ receivedAt: v[0], answeredAt: v[1], writtenAt: v[2] });
    if (kind === "C" && v.length === 5)
      commits.push({ submittedAt: v[0], sentAt: v[1], startedAt: v[2], endedAt: v[3], doneAt: v[4] });
  }
  return { produces, commits };
}
