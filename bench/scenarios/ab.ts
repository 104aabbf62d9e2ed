/**
 * A/B machinery shared by the nats-* and rest-* scenarios: the same load script runs against OnceDB and
 * against a peer, in interleaved rounds (OnceDB, peer, OnceDB, peer ...), and ratios are computed pair
 * by pair. While OnceDB has no listener for the protocol (its ready line says `"nats":null` or
 * `"http":null`), only the peer is measured and the scenario is "partial"; when the listener lands the
 * same code measures both with no change.
 */
import { OnceServer, serverNotes } from "../harness/server.js";
import { medianPercentiles, type Percentiles, pairRatios, type Stat, summarize } from "../harness/stats.js";
import type { BarSeries, PercentileSeries, Row, ScenarioContext } from "../harness/types.js";

/** One server under test: OnceDB or the peer. */
export interface Target<E> {
  kind: "oncedb" | "peer";
  /** "OnceDB", "nats-server", "HarperDB". */
  name: string;
  /** For charts: "OnceDB", "nats", "Harper". */
  short: string;
  /** For metering its CPU (all threads) from /proc. */
  pid: number;
  /** What the load script needs to reach it (address, URL, credentials...). */
  endpoint: E;
}

/** What one run of one variant against one target produced. */
export interface Measurement {
  /** figure key -> value (NaN when not measured). */
  figures: Record<string, number>;
  latencyMs?: Percentiles;
  clientCpu: number;
  serverCpu: number;
  /** Caveats of this run (errors, early stop). */
  notes?: string[];
}

export interface FigureSpec {
  key: string;
  metric: string;
  unit: string;
  /** A throughput figure drawn as a bar. */
  bar?: boolean;
  /** Target as a minimum OnceDB/peer ratio (higher is better) or a maximum (lower is better). */
  target?: { text: string; minRatio?: number; maxRatio?: number };
}

export interface VariantSpec<E> {
  id: string;
  label: string;
  /** A short label for chart legends and bars (~15 characters). */
  short: string;
  figures: FigureSpec[];
  /** Expected duration of one run, for the progress bar. */
  expectMs: number;
  run(target: Target<E>, round: number): Promise<Measurement>;
}

/** One cell: a variant run against a target in a round; undefined when the run failed. */
export type Grid = Map<string, Map<string, (Measurement | undefined)[]>>;

/**
 * Runs `rounds` rounds; within a round every variant runs against every target in turn (OnceDB first,
 * then the peer), so the pair compared is always adjacent in time.
 */
export async function runInterleaved<E>(
  ctx: ScenarioContext,
  scenario: string,
  targets: Target<E>[],
  variants: VariantSpec<E>[],
  rounds: number,
  failures: string[],
  isAlive: (t: Target<E>) => string | undefined,
): Promise<Grid> {
  const grid: Grid = new Map();
  for (const v of variants) {
    const byTarget = new Map<string, (Measurement | undefined)[]>();
    for (const t of targets) byTarget.set(t.name, []);
    grid.set(v.id, byTarget);
  }
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      for (const t of targets) {
        ctx.progress.step(`${scenario}: ${v.label}, ${t.name}, round ${r + 1}/${rounds}`, v.expectMs);
        let m: Measurement | undefined;
        const dead = isAlive(t);
        if (dead) {
          failures.push(`round ${r + 1}, ${v.label}, ${t.name}: not running (${dead})`);
        } else {
          try {
            m = await v.run(t, r);
          } catch (e) {
            const msg = `round ${r + 1}, ${v.label}, ${t.name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
            failures.push(msg);
            ctx.log(`  ! ${scenario} ${msg}`);
          }
        }
        grid.get(v.id)?.get(t.name)?.push(m);
      }
    }
  }
  return grid;
}

const fig = (m: Measurement | undefined, key: string) => m?.figures[key] ?? Number.NaN;

/** Table rows: OnceDB median [min-max], the peer's, and OnceDB/peer pair by pair (same round). */
export function buildRows<E>(
  targets: Target<E>[],
  variants: VariantSpec<E>[],
  grid: Grid,
  peerName: string,
): Row[] {
  const rows: Row[] = [];
  const once = targets.find((t) => t.kind === "oncedb");
  const peer = targets.find((t) => t.kind === "peer");
  for (const v of variants) {
    const om = once ? (grid.get(v.id)?.get(once.name) ?? []) : [];
    const pm = peer ? (grid.get(v.id)?.get(peer.name) ?? []) : [];
    const cpu = (ms: (Measurement | undefined)[], k: "serverCpu" | "clientCpu") =>
      summarize(ms.map((m) => m?.[k] ?? Number.NaN)).median;
    const cpuCell = (ms: (Measurement | undefined)[], k: "serverCpu" | "clientCpu") => {
      const c = cpu(ms, k);
      return Number.isFinite(c) ? c.toFixed(2) : "";
    };
    for (const f of v.figures) {
      const ov = om.map((m) => fig(m, f.key));
      const pv = pm.map((m) => fig(m, f.key));
      const row: Row = { metric: `${v.label}: ${f.metric}`, unit: f.unit };
      const os = summarize(ov);
      const ps = summarize(pv);
      if (os.n > 0) row.oncedb = os;
      if (ps.n > 0) row.peer = { name: peerName, value: ps, unit: f.unit, source: "measured" };
      if (os.n > 0 && ps.n > 0) {
        row.ratio = pairRatios(ov, pv);
        if (row.ratio.n === 0) delete row.ratio;
      }
      if (f.target) {
        row.target = f.target.text;
        const r = row.ratio?.median;
        if (r !== undefined && Number.isFinite(r)) {
          if (f.target.minRatio !== undefined) row.targetMet = r >= f.target.minRatio;
          if (f.target.maxRatio !== undefined) row.targetMet = r <= f.target.maxRatio;
        }
      }
      const extra: Record<string, string> = {};
      if (once && os.n > 0) {
        extra["OnceDB CPU (server / client)"] = `${cpuCell(om, "serverCpu")} / ${cpuCell(om, "clientCpu")}`;
      }
      if (peer && ps.n > 0) {
        extra[`${peerName} CPU (server / client)`] =
          `${cpuCell(pm, "serverCpu")} / ${cpuCell(pm, "clientCpu")}`;
      }
      row.extra = extra;
      rows.push(row);
    }
  }
  return rows;
}

/** Bars for the `bar` figures and latency percentiles per variant and target. */
export function buildCharts<E>(
  targets: Target<E>[],
  variants: VariantSpec<E>[],
  grid: Grid,
): { bars: BarSeries[]; percentiles: PercentileSeries[] } {
  const bars: BarSeries[] = [];
  const percentiles: PercentileSeries[] = [];
  for (const v of variants) {
    for (const t of targets) {
      const ms = grid.get(v.id)?.get(t.name) ?? [];
      for (const f of v.figures.filter((x) => x.bar)) {
        const s: Stat = summarize(ms.map((m) => fig(m, f.key)));
        if (s.n > 0) bars.push({ label: `${t.short}: ${v.short}`, unit: f.unit, stat: s });
      }
      const ps = ms.flatMap((m) => (m?.latencyMs && m.latencyMs.count > 0 ? [m.latencyMs] : []));
      if (ps.length > 0)
        percentiles.push({ label: `${t.short}: ${v.short}`, unit: "ms", p: medianPercentiles(ps) });
    }
  }
  return { bars, percentiles };
}

/** Notes about client-bound runs: a load process near one core is the limit, not the server. */
export function clientBoundNotes<E>(targets: Target<E>[], variants: VariantSpec<E>[], grid: Grid): string[] {
  const notes: string[] = [];
  for (const v of variants)
    for (const t of targets) {
      const ms = grid.get(v.id)?.get(t.name) ?? [];
      const c = summarize(ms.map((m) => m?.clientCpu ?? Number.NaN)).median;
      const s = summarize(ms.map((m) => m?.serverCpu ?? Number.NaN)).median;
      if (c >= 0.85)
        notes.push(
          `${v.label} against ${t.name}: client-bound (the load process used ${c.toFixed(2)} of one core, the server ${Number.isFinite(s) ? s.toFixed(2) : "n/a"}); Node is single-threaded.`,
        );
      for (const m of ms) for (const n of m?.notes ?? []) if (!notes.includes(n)) notes.push(n);
    }
  return notes.slice(0, 20);
}

/** OnceDB started for a protocol family; `address` is set when its ready line carries that listener. */
export interface OnceDbProbe {
  server?: OnceServer;
  address?: string;
  note?: string;
}

/**
 * Starts OnceDB with `--<listener> 127.0.0.1:0` and reads the ready line: `"nats":"host:port"` or
 * `"http":"host:port"` when the listener exists, `null` while it does not (then OnceDB is stopped
 * at once and the scenario reports the peer's figures only).
 */
export async function startOnceDbWith(
  cli: string,
  dataDir: string,
  listener: "nats" | "http",
  what: string,
): Promise<OnceDbProbe> {
  let server: OnceServer;
  try {
    server = await OnceServer.start({ cli, dataDir, extraArgs: [`--${listener}`, "127.0.0.1:0"] });
  } catch (e) {
    return { note: `OnceDB did not start: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const address = readyAddress(server, listener);
  if (!address) {
    const stop = await server.stop();
    const extra = serverNotes(server, stop);
    return {
      note: `OnceDB has no ${what} listener yet (its ready line says "${listener}":null): peer figures only; the ratio appears when it lands.${extra.length ? ` ${extra.join(" ")}` : ""}`,
    };
  }
  return { server, address };
}

/** The `listener` address on OnceDB's ready line, if it has one. */
function readyAddress(server: OnceServer, listener: "nats" | "http"): string | undefined {
  for (const line of server.lastLines(40).split("\n")) {
    if (!line.includes('"msg":"ready"')) continue;
    try {
      const v = (JSON.parse(line) as Record<string, unknown>)[listener];
      return typeof v === "string" && v.length > 0 ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function statusOf(
  targets: Target<unknown>[],
  measured: number,
  failures: string[],
): "ok" | "partial" | "failed" | "skipped" {
  if (targets.length === 0) return "skipped";
  if (measured === 0) return "failed";
  if (targets.length < 2 || failures.length > 0) return "partial";
  return "ok";
}

export function countMeasured(grid: Grid): number {
  let n = 0;
  for (const byT of grid.values()) for (const ms of byT.values()) for (const m of ms) if (m) n++;
  return n;
}
