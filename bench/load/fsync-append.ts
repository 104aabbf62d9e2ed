/**
 * Machine limit: sequential append + fdatasync to a file in a temp dir.
 * mode "throughput": blocks of `blockBytes`, fdatasync after each; reports MB/s.
 * mode "latency": small appends, fdatasync after each; reports the fdatasync latency.
 */
import { randomFillSync } from "node:crypto";
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { Percentiles } from "../harness/stats.js";
import { Samples } from "../harness/stats.js";
import { loadConfig, runMain, SelfCpu } from "./ipc.js";

export interface FsyncAppendConfig {
  dir: string;
  mode: "throughput" | "latency";
  blockBytes: number;
  durationMs: number;
  /** Safety cap on bytes written. */
  maxBytes: number;
}

export interface FsyncAppendResult {
  mode: string;
  blockBytes: number;
  blocks: number;
  bytes: number;
  seconds: number;
  mbPerSec: number;
  /** Time for write + fdatasync of one block, ms. */
  blockMs: Percentiles;
  /** fdatasync alone, ms. */
  syncMs: Percentiles;
  cpuCores: number;
}

async function main(): Promise<FsyncAppendResult> {
  const cfg = loadConfig<FsyncAppendConfig>();
  const dir = mkdtempSync(path.join(cfg.dir, "fsync-"));
  const file = path.join(dir, "append.bin");
  const fd = openSync(file, "a");
  const block = randomFillSync(Buffer.alloc(cfg.blockBytes));
  const blockMs = new Samples(200_000);
  const syncMs = new Samples(200_000);
  const cpu = new SelfCpu();
  let bytes = 0;
  let blocks = 0;
  const t0 = performance.now();
  const end = t0 + cfg.durationMs;
  try {
    while (performance.now() < end && bytes < cfg.maxBytes && blocks < 10_000_000) {
      const a = performance.now();
      let off = 0;
      while (off < block.length) off += writeSync(fd, block, off, block.length - off);
      const b = performance.now();
      fdatasyncSync(fd);
      const c = performance.now();
      blockMs.add(c - a);
      syncMs.add(c - b);
      bytes += block.length;
      blocks++;
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    mode: cfg.mode,
    blockBytes: cfg.blockBytes,
    blocks,
    bytes,
    seconds,
    mbPerSec: bytes / 1e6 / seconds,
    blockMs: blockMs.percentiles(),
    syncMs: syncMs.percentiles(),
    cpuCores: cpu.stop(),
  };
}

runMain(main);
