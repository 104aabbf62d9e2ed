/** Hand-written SVG: throughput bars, latency percentiles, lines over time. One section per scenario. */
import { fmtCompact } from "./format.js";
import type { BarSeries, PercentileSeries, ScenarioResult, TimeSeries } from "./types.js";

const W = 400; // panel width
const H = 250; // panel height
const COLS = 3;
const PAD = { l: 58, r: 14, t: 28, b: 36 };
const COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const r1 = (v: number) => Math.round(v * 10) / 10;

function niceStep(range: number, target = 5): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${r1(x)}" y="${r1(y)}" ${attrs}>${esc(s)}</text>`;
}

interface Panel {
  title: string;
  body: string; // drawn in a W x H box at origin
}

/** Horizontal bars, scaled per unit, with min-max whiskers. */
function barsPanel(title: string, bars: BarSeries[]): Panel {
  const parts: string[] = [];
  const rowH = Math.min(34, (H - PAD.t - 10) / Math.max(1, bars.length));
  const labelW = 150;
  const x0 = labelW;
  const x1 = W - 70;
  const maxByUnit = new Map<string, number>();
  for (const b of bars)
    maxByUnit.set(b.unit, Math.max(maxByUnit.get(b.unit) ?? 0, b.stat.max || b.stat.median || 0));
  bars.forEach((b, i) => {
    const y = PAD.t + i * rowH;
    const max = maxByUnit.get(b.unit) || 1;
    const sx = (v: number) => x0 + ((x1 - x0) * Math.max(0, v)) / max;
    const bh = rowH * 0.6;
    const lbl = b.label.length > 26 ? `${b.label.slice(0, 25)}…` : b.label;
    parts.push(text(x0 - 6, y + bh * 0.75, lbl, 'text-anchor="end" font-size="10"'));
    if (Number.isFinite(b.stat.median)) {
      parts.push(
        `<rect x="${x0}" y="${r1(y)}" width="${r1(sx(b.stat.median) - x0)}" height="${r1(bh)}" fill="${COLORS[i % COLORS.length]}" opacity="0.85"/>`,
      );
      if (b.stat.n > 1) {
        const ym = y + bh / 2;
        parts.push(
          `<path d="M${r1(sx(b.stat.min))} ${r1(ym)}H${r1(sx(b.stat.max))}M${r1(sx(b.stat.min))} ${r1(ym - 4)}v8M${r1(sx(b.stat.max))} ${r1(ym - 4)}v8" stroke="#222" stroke-width="1" fill="none"/>`,
        );
      }
      parts.push(
        text(sx(b.stat.max) + 4, y + bh * 0.75, `${fmtCompact(b.stat.median)} ${b.unit}`, 'font-size="10"'),
      );
    } else {
      parts.push(text(x0 + 4, y + bh * 0.75, "n/a", 'font-size="10"'));
    }
  });
  return { title, body: parts.join("") };
}

/** Grouped vertical bars p50/p90/p99/p99.9 per series; log scale when the spread is wide. */
function percentilesPanel(title: string, series: PercentileSeries[]): Panel {
  const keys = [
    ["p50", "p50"],
    ["p90", "p90"],
    ["p99", "p99"],
    ["p999", "p99.9"],
  ] as const;
  const vals = series.flatMap((s) => keys.map(([k]) => s.p[k])).filter((v) => Number.isFinite(v) && v > 0);
  const parts: string[] = [];
  if (vals.length === 0) return { title, body: text(W / 2, H / 2, "no data", 'text-anchor="middle"') };
  const vmax = Math.max(...vals);
  const vmin = Math.min(...vals);
  const log = vmax / vmin > 30;
  const y0 = H - PAD.b;
  const y1 = PAD.t + 8;
  let sy: (v: number) => number;
  const ticks: number[] = [];
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(vmin));
    const hi = 10 ** Math.ceil(Math.log10(vmax));
    sy = (v) =>
      y0 - ((y0 - y1) * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
    for (let t = lo; t <= hi * 1.001 && ticks.length < 12; t *= 10) ticks.push(t);
  } else {
    const step = niceStep(vmax);
    const top = Math.ceil(vmax / step) * step;
    sy = (v) => y0 - ((y0 - y1) * v) / top;
    for (let t = 0; t <= top * 1.001 && ticks.length < 12; t += step) ticks.push(t);
  }
  for (const t of ticks) {
    parts.push(`<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${r1(sy(t))}" y2="${r1(sy(t))}" stroke="#ddd"/>`);
    parts.push(text(PAD.l - 4, sy(t) + 3, fmtCompact(t), 'text-anchor="end" font-size="9"'));
  }
  const unit = series[0]?.unit ?? "";
  parts.push(text(W - PAD.r, 16, `${unit}${log ? ", log scale" : ""}`, 'text-anchor="end" font-size="9"'));
  const groupW = (W - PAD.l - PAD.r) / keys.length;
  const barW = Math.min(22, (groupW * 0.8) / Math.max(1, series.length));
  keys.forEach(([k, name], gi) => {
    const gx = PAD.l + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.p[k];
      if (!Number.isFinite(v) || v <= 0) return;
      const x = gx + si * barW;
      const y = sy(v);
      parts.push(
        `<rect x="${r1(x)}" y="${r1(y)}" width="${r1(barW - 2)}" height="${r1(Math.max(0.5, y0 - y))}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.label} ${name}: ${v.toPrecision(3)} ${s.unit}`)}</title></rect>`,
      );
      if (series.length <= 3)
        parts.push(text(x + (barW - 2) / 2, y - 2, fmtCompact(v), 'text-anchor="middle" font-size="8"'));
    });
    parts.push(text(PAD.l + gi * groupW + groupW / 2, y0 + 12, name, 'text-anchor="middle" font-size="10"'));
  });
  parts.push(legend(series.map((s) => s.label)));
  return { title, body: parts.join("") };
}

function legend(labels: string[]): string {
  const cols = Math.max(1, Math.min(3, labels.length));
  const colW = (W - PAD.l - 8) / cols;
  const maxChars = Math.floor((colW - 14) / 5.2);
  return labels
    .slice(0, 6)
    .map((l, i) => {
      const x = PAD.l + (i % cols) * colW;
      const y = H - 12 + Math.floor(i / cols) * 11 - (labels.length > cols ? 6 : 0);
      const s = l.length > maxChars ? `${l.slice(0, maxChars - 1)}…` : l;
      return `<rect x="${x}" y="${y - 7}" width="8" height="8" fill="${COLORS[i % COLORS.length]}"/>${text(x + 11, y, s, 'font-size="9"')}`;
    })
    .join("");
}

/** Lines over time (x: seconds). */
function seriesPanel(title: string, series: TimeSeries[]): Panel {
  const pts = series.flatMap((s) => s.points);
  const parts: string[] = [];
  if (pts.length === 0) return { title, body: text(W / 2, H / 2, "no data", 'text-anchor="middle"') };
  const xmax = Math.max(...pts.map((p) => p[0])) || 1;
  const ymax = Math.max(...pts.map((p) => p[1])) || 1;
  const x0 = PAD.l;
  const x1 = W - PAD.r;
  const y0 = H - PAD.b;
  const y1 = PAD.t + 8;
  const ystep = niceStep(ymax);
  const ytop = Math.ceil(ymax / ystep) * ystep;
  const xstep = niceStep(xmax);
  const sx = (v: number) => x0 + ((x1 - x0) * v) / xmax;
  const sy = (v: number) => y0 - ((y0 - y1) * v) / ytop;
  for (let t = 0, i = 0; t <= ytop * 1.001 && i < 12; t += ystep, i++) {
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${r1(sy(t))}" y2="${r1(sy(t))}" stroke="#ddd"/>`);
    parts.push(text(x0 - 4, sy(t) + 3, fmtCompact(t), 'text-anchor="end" font-size="9"'));
  }
  for (let t = 0, i = 0; t <= xmax * 1.001 && i < 15; t += xstep, i++) {
    parts.push(text(sx(t), y0 + 11, `${fmtCompact(t)}s`, 'text-anchor="middle" font-size="9"'));
  }
  parts.push(text(W - PAD.r, 16, series[0]?.unit ?? "", 'text-anchor="end" font-size="9"'));
  series.forEach((s, i) => {
    const d = s.points
      .slice(0, 5000)
      .map((p) => `${r1(sx(p[0]))},${r1(sy(p[1]))}`)
      .join(" ");
    parts.push(
      `<polyline points="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`,
    );
  });
  parts.push(legend(series.map((s) => s.label)));
  return { title, body: parts.join("") };
}

function panelsFor(res: ScenarioResult): Panel[] {
  const panels: Panel[] = [];
  const c = res.charts;
  if (c.bars && c.bars.length > 0) panels.push(barsPanel("throughput (median, min-max)", c.bars));
  if (c.percentiles && c.percentiles.length > 0) {
    const units = [...new Set(c.percentiles.map((p) => p.unit))];
    for (const u of units)
      panels.push(
        percentilesPanel(
          `latency percentiles (${u})`,
          c.percentiles.filter((p) => p.unit === u),
        ),
      );
  }
  if (c.series && c.series.length > 0) {
    const units = [...new Set(c.series.map((s) => s.unit))];
    for (const u of units)
      panels.push(
        seriesPanel(
          `over time (${u})`,
          c.series.filter((s) => s.unit === u),
        ),
      );
  }
  return panels;
}

export function renderSvg(results: ScenarioResult[], subtitle: string): string {
  const sections: string[] = [];
  let y = 40;
  for (const res of results) {
    const panels = panelsFor(res);
    if (panels.length === 0) continue;
    sections.push(
      text(
        10,
        y + 16,
        `${res.scenario} — ${res.date.slice(0, 16).replace("T", " ")} (${res.status})`,
        'font-size="15" font-weight="bold"',
      ),
    );
    y += 24;
    panels.forEach((p, i) => {
      const px = 10 + (i % COLS) * (W + 10);
      const py = y + Math.floor(i / COLS) * (H + 10);
      sections.push(
        `<g transform="translate(${px},${py})"><rect width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>${text(8, 16, p.title, 'font-size="12" font-weight="bold"')}${p.body}</g>`,
      );
    });
    y += Math.ceil(panels.length / COLS) * (H + 10) + 8;
  }
  const width = 10 + COLS * (W + 10);
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#f7f7f7"/>`,
    text(10, 24, `OnceDB benchmarks — ${subtitle}`, 'font-size="18" font-weight="bold"'),
    ...sections,
    "</svg>",
    "",
  ].join("\n");
}
