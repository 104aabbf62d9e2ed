/** Shapes shared by scenarios, the report, the chart and the results JSON. */
import type { MachineFacts } from "./machine.js";
import type { Progress } from "./progress.js";
import type { Percentiles, Stat } from "./stats.js";

/** A value from somewhere other than this run (a published figure), or measured here. */
export interface Reference {
  name: string;
  value: Stat | number;
  unit: string;
  /** "measured" in this run, or "published" (not measured on this machine). */
  source: "measured" | "published";
}

/** One line of a scenario's table. */
export interface Row {
  metric: string;
  unit: string;
  oncedb?: Stat;
  peer?: Reference;
  /** OnceDB / peer, computed pair by pair when both were measured in interleaved runs. */
  ratio?: Stat;
  limit?: Reference;
  /** OnceDB / machine limit, pair by pair when the limit was measured in interleaved runs. */
  limitRatio?: Stat;
  /** Human-readable target, e.g. ">= 1,000,000". */
  target?: string;
  /** Whether the target is met (informational only: the bench never fails on speed). */
  targetMet?: boolean;
  /** Extra columns (CPU etc.). */
  extra?: Record<string, string>;
}

export interface BarSeries {
  label: string;
  unit: string;
  stat: Stat;
}

export interface PercentileSeries {
  label: string;
  unit: string;
  p: Percentiles;
}

export interface TimeSeries {
  label: string;
  unit: string;
  /** [seconds since start, value] */
  points: [number, number][];
}

export interface ScenarioResult {
  scenario: string;
  date: string;
  durationMs: number;
  status: "ok" | "partial" | "skipped" | "failed";
  /** Why skipped/failed, or caveats. */
  notes: string[];
  rows: Row[];
  charts: {
    bars?: BarSeries[];
    percentiles?: PercentileSeries[];
    series?: TimeSeries[];
  };
  /** Raw per-run data for anyone re-analysing. */
  raw?: unknown;
  machine?: MachineFacts;
}

export interface RunOptions {
  quick: boolean;
  /** Root for temporary data dirs (same filesystem as the server's data). */
  dataRoot: string;
  /** Path to OnceDB's CLI entry (dist/src/cli/main.js). */
  oncedbCli: string;
  /** Number of runs per figure (median of these). */
  runs: number;
  /** Cache dir for peers, outside the repo. */
  peerCache: string;
  verbose: boolean;
}

export interface ScenarioContext {
  opts: RunOptions;
  progress: Progress;
  /** Log a line above the progress bar. */
  log: (line: string) => void;
}

export type PeerName = "nats-server" | "harperdb";

export interface Scenario {
  name: string;
  description: string;
  /** Needs a built OnceDB server. */
  needsServer: boolean;
  peers: PeerName[];
  /** Rough time this scenario takes, for the progress bar. */
  estimateMs(opts: RunOptions): number;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
