/** Lets the disk settle between scenarios: flush dirty pages so one scenario's writeback does not bill the next. */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

function dirtyKB(): number {
  try {
    const m = /^Dirty:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs `sync` (bounded to `timeoutMs`), then waits until dirty pages are below ~16 MiB or the time is up. */
export async function settle(timeoutMs = 20_000): Promise<{ ms: number; dirtyKBBefore: number }> {
  const t0 = performance.now();
  const before = dirtyKB();
  await new Promise<void>((resolve) => {
    execFile("sync", [], { timeout: timeoutMs }, () => resolve());
  });
  for (let i = 0; i < 100 && dirtyKB() > 16 * 1024 && performance.now() - t0 < timeoutMs; i++)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  return { ms: performance.now() - t0, dirtyKBBefore: before };
}
