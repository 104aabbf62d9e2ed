/** Facts about the machine a result was measured on. */
import { execFileSync } from "node:child_process";
import { readFileSync, statfsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

export interface MachineFacts {
  date: string;
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryTotalMB: number;
  memoryFreeMB: number;
  loadAverage: number[];
  os: string;
  kernel: string;
  dataRoot: string;
  filesystem: string;
  diskFreeGB: number;
  diskTotalGB: number;
  node: string;
  sqlite: string;
  betterSqlite3: string;
  kafkajs: string;
  gitCommit: string;
}

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function sqliteVersion(): string {
  try {
    const Database = require("better-sqlite3") as new (
      f: string,
    ) => { prepare(s: string): { pluck(): { get(): unknown } }; close(): void };
    const db = new Database(":memory:");
    const v = String(db.prepare("select sqlite_version()").pluck().get());
    db.close();
    return v;
  } catch {
    return "unknown";
  }
}

function filesystemOf(dir: string): string {
  try {
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((p) => p.length >= 3);
    const abs = path.resolve(dir);
    let best: string[] | undefined;
    for (const m of mounts) {
      const mp = m[1];
      if (
        (abs === mp || abs.startsWith(mp.endsWith("/") ? mp : `${mp}/`)) &&
        (!best || mp.length > best[1].length)
      )
        best = m;
    }
    return best ? `${best[2]} on ${best[1]} (${best[0]})` : "unknown";
  } catch {
    return "unknown";
  }
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    })
      .toString()
      .trim();
  } catch {
    return "none";
  }
}

export function machineFacts(dataRoot: string): MachineFacts {
  let diskFreeGB = Number.NaN;
  let diskTotalGB = Number.NaN;
  try {
    const s = statfsSync(dataRoot);
    diskFreeGB = (s.bavail * s.bsize) / 1e9;
    diskTotalGB = (s.blocks * s.bsize) / 1e9;
  } catch {
    // leave NaN
  }
  let osName = `${os.type()} ${os.release()}`;
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"));
    if (m) osName = m[1];
  } catch {
    // keep uname
  }
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    cores: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    memoryTotalMB: Math.round(os.totalmem() / 2 ** 20),
    memoryFreeMB: Math.round(os.freemem() / 2 ** 20),
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    os: osName,
    kernel: os.release(),
    dataRoot,
    filesystem: filesystemOf(dataRoot),
    diskFreeGB: Math.round(diskFreeGB * 10) / 10,
    diskTotalGB: Math.round(diskTotalGB * 10) / 10,
    node: process.version,
    sqlite: sqliteVersion(),
    betterSqlite3: pkgVersion("better-sqlite3"),
    kafkajs: pkgVersion("kafkajs"),
    gitCommit: gitCommit(),
  };
}
