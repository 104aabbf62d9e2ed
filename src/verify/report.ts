/** report.json and the printed table. */
import fs from "node:fs";
import path from "node:path";
import type { CheckResult } from "./checker/check.js";
import type { Liveness } from "./checker/types.js";
import { AnomalyKinds } from "./checker/types.js";
import type { FaultKind, FaultStep } from "./faults/schedule.js";

export interface Report {
  ok: boolean;
  seed: number;
  options: Record<string, unknown>;
  startedAt: string;
  elapsedMs: number;
  out: string;
  server: { external: boolean; address: string; starts: number; crashes: number };
  records: {
    attempted: number;
    acknowledged: number;
    indeterminate: number;
    inputRecords: number;
    readFinal: number;
    readFinalDistinct: number;
    readerRecords: number;
  };
  transactions: { committed: number; aborted: number; unknown: number };
  faults: {
    planned: number;
    injected: Record<FaultKind, number>;
    byAction: Record<string, number>;
    skipped: { kind: string; reason: string }[];
    schedule: FaultStep[];
  };
  workerRestarts: Record<string, number>;
  liveness: Liveness;
  anomalies: CheckResult["counts"] & { total: number };
  examples: CheckResult["examples"];
  historyLinesGarbled: number;
}

export function writeReport(dir: string, r: Report): string {
  const file = path.join(dir, "report.json");
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

const n = (x: number) => x.toLocaleString("en-US");

export function formatTable(r: Report): string {
  const rows: [string, string][] = [];
  const section = (title: string) => rows.push([title, ""]);
  const row = (k: string, v: string) => rows.push([`  ${k}`, v]);
  section("records");
  row("attempted", n(r.records.attempted));
  row("acknowledged", n(r.records.acknowledged));
  row("indeterminate", n(r.records.indeterminate));
  row("in input (final)", n(r.records.inputRecords));
  row("read (final)", n(r.records.readFinal));
  row("seen by readers", n(r.records.readerRecords));
  section("copier transactions");
  row("committed", n(r.transactions.committed));
  row("aborted", n(r.transactions.aborted));
  row("unknown outcome", n(r.transactions.unknown));
  section("faults injected");
  for (const [kind, count] of Object.entries(r.faults.injected)) {
    const actions = Object.entries(r.faults.byAction)
      .filter(([a]) => a.startsWith(kind === "disk" ? "disk" : kind))
      .map(([a, c]) => `${a} ${c}`)
      .join(", ");
    row(kind, `${n(count)}${actions ? `  (${actions})` : ""}`);
  }
  for (const s of r.faults.skipped) row(`${s.kind} skipped`, s.reason);
  row("server starts", n(r.server.starts));
  section("anomalies");
  for (const k of AnomalyKinds) row(k, n(r.anomalies[k]));
  row("total", n(r.anomalies.total));
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = [
    `oncedb verify: seed ${r.seed}, ${Math.round(r.elapsedMs / 1000)} s, server ${r.server.address}${r.server.external ? " (external)" : ""}`,
    ...rows.map(([k, v]) => (v ? `${k.padEnd(w)}${v}` : k)),
    `healing: ${r.liveness.healMs} ms (bound ${r.liveness.boundMs} ms)`,
    r.ok ? "RESULT: OK, no anomalies" : `RESULT: FAILED, ${n(r.anomalies.total)} anomalies`,
    `history: ${path.join(r.out, "history.jsonl")}`,
    `report:  ${path.join(r.out, "report.json")}`,
  ];
  return `${lines.join("\n")}\n`;
}
