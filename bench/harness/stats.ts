/** Small statistics helpers: medians of runs, percentiles of samples, slopes of series. */

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
  values: number[];
}

export function summarize(values: readonly number[]): Stat {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0, values: [] };
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length, values: [...finite] };
}

/** Ratios computed pair by pair (a[i] / b[i]), then summarized. */
export function pairRatios(a: readonly number[], b: readonly number[]): Stat {
  const n = Math.min(a.length, b.length);
  const r: number[] = [];
  for (let i = 0; i < n; i++) if (b[i] > 0) r.push(a[i] / b[i]);
  return summarize(r);
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
}

/** Exact percentiles (nearest-rank) of the first `count` samples; sorts a copy. */
export function percentiles(samples: Float64Array | readonly number[], count = samples.length): Percentiles {
  const n = Math.min(count, samples.length);
  if (n === 0)
    return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN, count: 0 };
  const sorted = Float64Array.from(samples.slice(0, n) as ArrayLike<number>).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted[n - 1], count: n };
}

/** Median of each percentile across runs. */
export function medianPercentiles(runs: readonly Percentiles[]): Percentiles {
  const m = (k: keyof Percentiles) => summarize(runs.map((r) => r[k])).median;
  return { p50: m("p50"), p90: m("p90"), p99: m("p99"), p999: m("p999"), max: m("max"), count: m("count") };
}

/**
 * Theil-Sen slope (y per x unit): the median of the slopes of all pairs of points. Robust to
 * the spikes RSS shows (a garbage collection, a burst of buffers): one outlier moves a
 * least-squares fit, not this median. O(n^2) pairs, so long series are thinned to
 * SLOPE_POINTS_MAX evenly spaced points first.
 */
export const SLOPE_POINTS_MAX = 1000;
export function slope(series: readonly (readonly [number, number])[]): number {
  const step = Math.ceil(series.length / SLOPE_POINTS_MAX);
  const points = step > 1 ? series.filter((_, i) => i % step === 0) : series;
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let k = i + 1; k < points.length; k++) {
      const dx = points[k]![0] - points[i]![0];
      if (dx !== 0) slopes.push((points[k]![1] - points[i]![1]) / dx);
    }
  }
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const m = slopes.length >> 1;
  return slopes.length % 2 === 1 ? slopes[m]! : (slopes[m - 1]! + slopes[m]!) / 2;
}

/** A bounded sample store: keeps at most `capacity` samples (reservoir after that). */
export class Samples {
  readonly data: Float64Array;
  count = 0;
  seen = 0;
  constructor(readonly capacity: number) {
    this.data = new Float64Array(capacity);
  }
  add(v: number): void {
    this.seen++;
    if (this.count < this.capacity) {
      this.data[this.count++] = v;
      return;
    }
    const j = Math.floor(Math.random() * this.seen);
    if (j < this.capacity) this.data[j] = v;
  }
  percentiles(): Percentiles {
    return percentiles(this.data, this.count);
  }
}
