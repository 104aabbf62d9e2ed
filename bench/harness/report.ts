/** Tables on the terminal, markdown for docs, and the results JSON files. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fmtRatio, fmtRef, fmtStat } from "./format.js";
import type { MachineFacts } from "./machine.js";
import type { Row, ScenarioResult } from "./types.js";

const HEADERS = ["metric", "unit", "OnceDB", "peer", "ratio", "machine limit", "ratio to limit", "target"];

function rowCells(r: Row): string[] {
  const target = r.target
    ? `${r.target}${r.targetMet === undefined ? "" : r.targetMet ? " (met)" : " (not met)"}`
    : "";
  return [
    r.metric,
    r.unit,
    fmtStat(r.oncedb),
    fmtRef(r.peer),
    fmtRatio(r.ratio),
    fmtRef(r.limit),
    fmtRatio(r.limitRatio),
    target,
  ];
}

function extraKeys(rows: Row[]): string[] {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.extra ?? {})) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function tableData(res: ScenarioResult): { headers: string[]; body: string[][] } {
  const extras = extraKeys(res.rows);
  const all = [...HEADERS, ...extras];
  const body = res.rows.map((r) => [...rowCells(r), ...extras.map((k) => r.extra?.[k] ?? "")]);
  // drop columns that are empty in every row
  const keep = all.map((_, i) => i < 2 || body.some((b) => b[i] !== ""));
  return {
    headers: all.filter((_, i) => keep[i]),
    body: body.map((b) => b.filter((_, i) => keep[i])),
  };
}

export function renderTable(res: ScenarioResult): string {
  const lines: string[] = [];
  lines.push(`== ${res.scenario} (${res.status}, ${(res.durationMs / 1000).toFixed(0)} s) ==`);
  if (res.rows.length > 0) {
    const { headers, body } = tableData(res);
    const widths = headers.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(" | ");
    lines.push(line(headers));
    lines.push(widths.map((w) => "-".repeat(w)).join("-+-"));
    for (const b of body) lines.push(line(b));
  }
  for (const n of res.notes) lines.push(`  - ${n}`);
  return lines.join("\n");
}

export function renderMarkdown(results: ScenarioResult[], machine: MachineFacts | undefined): string {
  const out: string[] = [];
  if (machine) {
    out.push(
      `Measured ${machine.date.slice(0, 10)} on ${machine.cpuModel}, ${machine.cores} cores, ${Math.round(machine.memoryTotalMB / 1024)} GiB RAM, ${machine.filesystem}; Node ${machine.node}, SQLite ${machine.sqlite}.`,
      "",
    );
  }
  for (const res of results) {
    out.push(`### ${res.scenario} (${res.date.slice(0, 10)}, ${res.status})`, "");
    if (res.rows.length > 0) {
      const { headers, body } = tableData(res);
      const esc = (s: string) => s.replace(/\|/g, "\\|");
      out.push(`| ${headers.join(" | ")} |`);
      out.push(`|${headers.map(() => "---").join("|")}|`);
      for (const b of body) out.push(`| ${b.map(esc).join(" | ")} |`);
      out.push("");
    }
    for (const n of res.notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}

export interface ResultsFile {
  generated: string;
  machine: MachineFacts;
  options: Record<string, unknown>;
  scenarios: ScenarioResult[];
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Writes `<date>-<scenario>.json` per scenario and merges the scenarios into `latest.json`
 * (a scenario run now replaces the same scenario from an earlier run; others are kept).
 */
export function writeResults(outDir: string, file: ResultsFile): ResultsFile {
  mkdirSync(outDir, { recursive: true });
  const day = file.generated.slice(0, 10);
  for (const s of file.scenarios) {
    const one: ResultsFile = { ...file, scenarios: [s] };
    writeAtomic(path.join(outDir, `${day}-${s.scenario}.json`), `${JSON.stringify(one, null, 1)}\n`);
  }
  const latestPath = path.join(outDir, "latest.json");
  let merged: ScenarioResult[] = [];
  if (existsSync(latestPath)) {
    try {
      const prev = JSON.parse(readFileSync(latestPath, "utf8")) as ResultsFile;
      merged = (prev.scenarios ?? []).map((s) => ({ ...s, machine: s.machine ?? prev.machine }));
    } catch {
      merged = [];
    }
  }
  for (const s of file.scenarios) {
    const withMachine = { ...s, machine: file.machine };
    const i = merged.findIndex((m) => m.scenario === s.scenario);
    if (i >= 0) merged[i] = withMachine;
    else merged.push(withMachine);
  }
  const latest: ResultsFile = { ...file, scenarios: merged };
  // keep latest.json small: drop raw per-run data
  const slim = { ...latest, scenarios: merged.map(({ raw: _raw, ...rest }) => rest) };
  writeAtomic(latestPath, `${JSON.stringify(slim, null, 1)}\n`);
  return latest;
}

/** Replaces the text between the results markers in a markdown file. */
export function updateDocs(docPath: string, markdown: string): boolean {
  if (!existsSync(docPath)) return false;
  const text = readFileSync(docPath, "utf8");
  const start = "<!-- bench-results:start -->";
  const end = "<!-- bench-results:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(docPath, `${text.slice(0, a + start.length)}\n${markdown}\n${text.slice(b)}`);
  return true;
}
