/**
 * The fault schedule: a pure function of the seed, the duration, the fault kinds and the
 * targets, so a run is replayed from its seed. Faults run one after another (each is applied,
 * held, healed, then a gap); every kind enabled appears at least once when the duration allows.
 * Every duration is bounded.
 */
import { type Rng, seededRng } from "../net-proxy.js";

export const FaultKinds = ["kill", "pause", "net", "disk"] as const;
export type FaultKind = (typeof FaultKinds)[number];

export type FaultAction =
  | "kill-server"
  | "kill-client"
  | "pause-server"
  | "pause-client"
  | "net-drop-all"
  | "net-drop-mid"
  | "net-delay"
  | "net-stall"
  | "disk-fsync"
  | "disk-write"
  | "disk-full";

export interface FaultStep {
  /** Planned start, ms after the workload started. */
  atMs: number;
  kind: FaultKind;
  action: FaultAction;
  /** "server" or a worker name ("p0", "c1", "r0"). */
  target: string;
  /** How long the fault holds before it is healed (a kill: how long the target stays down). */
  holdMs: number;
  /** Probability (drop, disk) or delay in ms (net-delay). */
  param?: number;
}

export interface ScheduleSpec {
  seed: number;
  durationMs: number;
  kinds: FaultKind[];
  /** Server faults allowed (false when targeting an external server). */
  server: boolean;
  producers: number;
  copiers: number;
  readers: number;
  /** Disk actions that work on this machine. */
  diskActions: FaultAction[];
}

/** Quiet time at the start, so the workload is running before the first fault. */
const WARMUP_MS = 2000;
/** Quiet time at the end, before healing. */
const COOLDOWN_MS = 1000;
const GAP_MS_MIN = 800;
const GAP_MS_MAX = 2500;

const between = (rng: Rng, lo: number, hi: number) => Math.round(lo + rng() * (hi - lo));
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

function clientTargets(spec: ScheduleSpec, withReaders: boolean): string[] {
  const t: string[] = [];
  for (let i = 0; i < spec.producers; i++) t.push(`p${i}`);
  for (let i = 0; i < spec.copiers; i++) t.push(`c${i}`);
  if (withReaders) for (let i = 0; i < spec.readers; i++) t.push(`r${i}`);
  return t;
}

function step(rng: Rng, spec: ScheduleSpec, kind: FaultKind, atMs: number): FaultStep | null {
  const server = spec.server && rng() < 0.5;
  switch (kind) {
    case "kill":
      if (server)
        return { atMs, kind, action: "kill-server", target: "server", holdMs: between(rng, 0, 1000) };
      return {
        atMs,
        kind,
        action: "kill-client",
        target: pick(rng, clientTargets(spec, false)),
        holdMs: between(rng, 0, 1500),
      };
    case "pause": {
      // Some pauses outlast the 6 s session timeout, so a paused copier is thrown out of its
      // group and must be fenced when it wakes up.
      const holdMs = rng() < 0.2 ? between(rng, 6500, 9000) : between(rng, 300, 4000);
      if (server) return { atMs, kind, action: "pause-server", target: "server", holdMs };
      return { atMs, kind, action: "pause-client", target: pick(rng, clientTargets(spec, true)), holdMs };
    }
    case "net": {
      const action = pick(rng, ["net-drop-all", "net-drop-mid", "net-delay", "net-stall"] as const);
      if (action === "net-drop-all") return { atMs, kind, action, target: "proxy", holdMs: 0 };
      if (action === "net-drop-mid")
        return {
          atMs,
          kind,
          action,
          target: "proxy",
          holdMs: between(rng, 1000, 4000),
          param: 0.005 + rng() * 0.045,
        };
      if (action === "net-delay")
        return {
          atMs,
          kind,
          action,
          target: "proxy",
          holdMs: between(rng, 1000, 4000),
          param: between(rng, 20, 300),
        };
      return { atMs, kind, action, target: "proxy", holdMs: between(rng, 500, 5000) };
    }
    case "disk": {
      if (spec.diskActions.length === 0 || !spec.server) return null;
      const action = pick(rng, spec.diskActions);
      const param = action === "disk-full" ? undefined : 0.2 + rng() * 0.8;
      return { atMs, kind, action, target: "server", holdMs: between(rng, 500, 4000), param };
    }
  }
}

export function planFaults(spec: ScheduleSpec): FaultStep[] {
  const rng = seededRng(spec.seed ^ 0x5eed);
  const steps: FaultStep[] = [];
  if (spec.kinds.length === 0) return steps;
  // First round: every kind once, in a seeded order; then kinds at random.
  const firstRound = [...spec.kinds];
  for (let i = firstRound.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [firstRound[i], firstRound[j]] = [firstRound[j]!, firstRound[i]!];
  }
  let at = WARMUP_MS;
  for (let i = 0; i < 100_000; i++) {
    const kind = i < firstRound.length ? firstRound[i]! : pick(rng, spec.kinds);
    const s = step(rng, spec, kind, at);
    if (!s) continue;
    if (s.atMs + s.holdMs > spec.durationMs - COOLDOWN_MS) break;
    steps.push(s);
    at = s.atMs + s.holdMs + between(rng, GAP_MS_MIN, GAP_MS_MAX);
  }
  return steps;
}
