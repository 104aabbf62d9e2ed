/**
 * Disk faults and how to tell whether this machine can inject them.
 *  - I/O errors: the server runs under libfiu's `fiu-run -x` (Debian package fiu-utils), and
 *    `fiu-ctrl` turns failure points on and off in the running server: fsync/fdatasync
 *    ("posix/io/sync/*") or pwrite ("posix/io/rw/pwrite"), each call failing with a probability.
 *  - A full disk: the data directory is a small tmpfs mounted for the run; a filler file takes
 *    every free byte for a while, then is deleted.
 * Each probe returns why it cannot work instead of throwing, so the verifier can skip the fault
 * and say why.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const FIU_PRELOAD = "/usr/lib/fiu/fiu_posix_preload.so";
const COMMAND_TIMEOUT_MS = 10_000;
/** Filler writes at most this many chunks: the tmpfs is bounded, so this is never reached. */
const FILL_CHUNKS_MAX = 1_000_000;

export const FIU_POINTS = {
  "disk-fsync": "posix/io/sync/*",
  "disk-write": "posix/io/rw/pwrite",
} as const;

export type Probe = { ok: true } | { ok: false; reason: string };

export function probeFiu(): Probe {
  if (!fs.existsSync(FIU_PRELOAD))
    return {
      ok: false,
      reason: `libfiu is not installed (${FIU_PRELOAD} missing; apt-get install -y fiu-utils)`,
    };
  const r = spawnSync("fiu-run", ["-x", "-f", "", "true"], { timeout: COMMAND_TIMEOUT_MS });
  if (r.error) return { ok: false, reason: `fiu-run cannot run: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `fiu-run -x true exited ${r.status}: ${r.stderr}` };
  const c = spawnSync("fiu-ctrl", ["-h"], { timeout: COMMAND_TIMEOUT_MS });
  if (c.error) return { ok: false, reason: `fiu-ctrl cannot run: ${c.error.message}` };
  return { ok: true };
}

function fiuCtrl(base: string, pid: number, command: string): void {
  execFileSync("fiu-ctrl", ["-f", base, "-c", command, String(pid)], {
    timeout: COMMAND_TIMEOUT_MS,
    stdio: "pipe",
  });
}

export function fiuEnable(base: string, pid: number, point: string, probability: number): void {
  fiuCtrl(base, pid, `enable_random name=${point},probability=${probability.toFixed(3)}`);
}

export function fiuDisable(base: string, pid: number, point: string): void {
  fiuCtrl(base, pid, `disable name=${point}`);
}

/** Mounts a tmpfs of `sizeMb` at `dir` (created); needs root or CAP_SYS_ADMIN. */
export function mountTmpfs(dir: string, sizeMb: number): Probe {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0700`, "tmpfs", dir], {
    timeout: COMMAND_TIMEOUT_MS,
    encoding: "utf8",
  });
  if (r.error) return { ok: false, reason: `mount cannot run: ${r.error.message}` };
  if (r.status !== 0)
    return {
      ok: false,
      reason: `mount -t tmpfs failed (${r.status}): ${(r.stderr ?? "").trim() || "not permitted"}`,
    };
  return { ok: true };
}

export function unmount(dir: string): void {
  const r = spawnSync("umount", [dir], { timeout: COMMAND_TIMEOUT_MS });
  if (r.status !== 0) spawnSync("umount", ["-l", dir], { timeout: COMMAND_TIMEOUT_MS });
}

/** Takes every free byte of the filesystem holding `dir`; returns the filler's path and size. */
export function fillDisk(dir: string): { file: string; bytes: number } {
  const file = path.join(dir, "verify-filler");
  const fd = fs.openSync(file, "w");
  let bytes = 0;
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < FILL_CHUNKS_MAX; i++) {
        try {
          bytes += fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { file, bytes };
}

export function freeDisk(file: string): void {
  fs.rmSync(file, { force: true });
}
