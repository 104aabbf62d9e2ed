/**
 * Lines a preloaded probe (eld-probe.ts, span-probe.ts) collects in the watched process, appended
 * to `file` once a second and at exit: one write a second keeps the probe's own cost off the
 * process it measures.
 */
import { appendFileSync } from "node:fs";

export function lineFile(file: string): (line: string) => void {
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, `${lines.join("\n")}\n`);
    lines = [];
  };
  setInterval(flush, 1000).unref();
  process.on("exit", flush);
  return (line) => lines.push(line);
}
