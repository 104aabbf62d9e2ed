/** Number and stat formatting shared by tables, markdown and charts. */
import type { Stat } from "./stats.js";
import type { Reference } from "./types.js";

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  const a = Math.abs(v);
  if (a >= 1000 || Number.isInteger(v)) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return "0";
  return v.toPrecision(2);
}

/** Compact form for ranges and chart labels: 1.23M, 456k. */
export function fmtCompact(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  return fmtNum(v);
}

export function fmtStat(s: Stat | undefined): string {
  if (!s || s.n === 0) return "";
  if (s.n === 1 || s.min === s.max) return fmtNum(s.median);
  return `${fmtNum(s.median)} [${fmtCompact(s.min)}-${fmtCompact(s.max)}]`;
}

export function fmtRatio(s: Stat | undefined): string {
  if (!s || s.n === 0) return "";
  const f = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (s.n === 1 || s.min === s.max) return `${f(s.median)}x`;
  return `${f(s.median)}x [${f(s.min)}-${f(s.max)}]`;
}

export function fmtRef(r: Reference | undefined): string {
  if (!r) return "";
  const v = typeof r.value === "number" ? fmtNum(r.value) : fmtStat(r.value);
  return `${r.name ? `${r.name}: ` : ""}${v}${r.source === "published" ? " (published)" : ""}`;
}

export function refValue(r: Reference | undefined): number {
  if (!r) return Number.NaN;
  return typeof r.value === "number" ? r.value : r.value.median;
}
