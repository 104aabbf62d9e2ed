/** Lets the disk settle between scenarios: flush dirty pages so one scenario's writeback does not bill the next. */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

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

function dirBytes(dir: string): number {
  let total = 0;
  try {
    for (const f of readdirSync(dir)) {
      try {
        total += statSync(path.join(dir, f)).size;
      } catch {
        // removed meanwhile
      }
    }
  } catch {
    return -1;
  }
  return total;
}

/**
 * Waits until a server's data dir is quiet after a bulk load: the files' total size unchanged for
 * `stableMs` (the WAL checkpoint into the database file has finished) and dirty pages below
 * ~16 MiB (its writeback is done), or `timeoutMs` passes. Returns how long it waited and whether
 * it got quiet.
 */
export async function waitQuiet(
  dataDir: string,
  timeoutMs = 60_000,
  stableMs = 1500,
): Promise<{ ms: number; quiet: boolean }> {
  const t0 = performance.now();
  let last = dirBytes(dataDir);
  let stableSince = performance.now();
  for (let i = 0; i < 10_000 && performance.now() - t0 < timeoutMs; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = dirBytes(dataDir);
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= stableMs && dirtyKB() < 16 * 1024) {
      return { ms: performance.now() - t0, quiet: true };
    }
  }
  return { ms: performance.now() - t0, quiet: false };
}
