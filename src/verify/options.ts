/** `oncedb verify` options: parsing and validation (usage errors exit 2). */
import { type FaultKind, FaultKinds } from "./faults/schedule.js";

export interface VerifyOptions {
  durationMs: number;
  faults: FaultKind[];
  seed: number;
  out: string;
  /** An existing server to target instead of starting one. */
  kafka: string | null;
  producers: number;
  copiers: number;
  readers: number;
  partitions: number;
  /** Records per second, all producers together. */
  rate: number;
  /** Liveness bound: healing plus the final read must finish within it. */
  healTimeoutMs: number;
  progress: boolean;
  /** kafkajs log level in the workers (their stderr goes to workers.log). */
  clientLog: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** Bounds that keep a typo from starting an unbounded run. */
export const LIMITS = {
  durationMsMax: 7 * 24 * 3600 * 1000,
  workersMax: 64,
  partitionsMax: 256,
  rateMax: 1_000_000,
} as const;

/** "60s", "5m", "1h", "500ms", or plain seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: not a duration: ${text} (e.g. 60s, 5m, 1h)`);
  const v = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms = unit === "ms" ? v : unit === "s" ? v * 1000 : unit === "m" ? v * 60_000 : v * 3_600_000;
  if (!(ms > 0) || ms > LIMITS.durationMsMax) throw new UsageError(`${flag}: ${text} is out of range`);
  return Math.round(ms);
}

export function parseFaults(text: string): FaultKind[] {
  if (text.trim() === "" || text.trim() === "none") return [];
  const kinds = text.split(",").map((s) => s.trim());
  for (const k of kinds)
    if (!FaultKinds.includes(k as FaultKind))
      throw new UsageError(`--faults: unknown fault ${k} (known: ${FaultKinds.join(", ")}, none)`);
  return [...new Set(kinds as FaultKind[])];
}

export function parseCount(text: string, flag: string, min: number, max: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(`${flag}: expected an integer in ${min}..${max}, got ${text}`);
  return v;
}

export function parseAddress(text: string): string {
  const m = /^([^:]+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new UsageError(`--kafka: expected HOST:PORT, got ${text}`);
  return text;
}
