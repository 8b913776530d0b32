import { GRAFT_FILE_MARKER } from '../../io/out-target.js';
/**
 * Tiny self-contained SVG line charts (no fonts, scripts or URLs), used by the HTML report and
 * by `lrFindSvg`.
 */

/** Escape text for HTML/SVG content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  /** Dashed line (e.g. validation curves). */
  dashed?: boolean;
}

export interface Marker {
  x: number;
  y: number;
  label: string;
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Log-10 x axis (learning rates). */
  xLog?: boolean;
  /** Force the y range; otherwise taken from the finite data. */
  yMin?: number;
  yMax?: number;
  /** Vertical dashed lines with a label at the top (e.g. fine-tune stage boundaries). */
  vlines?: { x: number; label: string }[];
  markers?: Marker[];
  /** Format tick labels on the x axis (default: integers as-is, else 3 significant digits). */
  xTick?: (v: number) => string;
  /**
   * Add the SVG namespace, needed when the chart is written as its own .svg file. Inline SVG in
   * HTML5 does not need it, and leaving it out keeps reports free of any URL-like text.
   */
  standalone?: boolean;
}

/** "Nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmtNum = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(0));

/**
 * A line chart as an `<svg>` string.
 *
 * @example
 * lineChart([{ name: 'train loss', color: '#2563eb', points: [{ x: 1, y: 0.9 }, { x: 2, y: 0.5 }] }], { title: 'Loss', xLabel: 'epoch' });
 */
export function lineChart(series: Series[], o: LineChartOptions = {}): string {
  const W = o.width ?? 520;
  const H = o.height ?? 300;
  const m = { l: 56, r: 16, t: o.title ? 30 : 12, b: 44 + (series.length > 1 ? 18 : 0) };
  const tx = (x: number) => (o.xLog ? Math.log10(x) : x);
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && Number.isFinite(tx(p.x)));
  const xs = pts.map((p) => tx(p.x));
  const ys = pts.map((p) => p.y);
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 === x0) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  let y0 = o.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let y1 = o.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (o.yMin === undefined && o.yMax === undefined) {
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  }
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const sx = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + (1 - (Math.min(y1, Math.max(y0, y)) - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  const ns = o.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : '';
  parts.push(`<svg${ns} viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="11" role="img" aria-label="${esc(o.title ?? 'chart')}">`);
  if (o.standalone) parts.push(`<!-- ${GRAFT_FILE_MARKER} -->`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  if (o.title) parts.push(`<text x="${m.l}" y="18" font-size="13" font-weight="600" fill="#111">${esc(o.title)}</text>`);
  // Grid and y ticks.
  for (const v of niceTicks(y0, y1, 5)) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555">${esc(fmtNum(v))}</text>`);
  }
  // X ticks: decades on a log axis, nice numbers otherwise.
  const xt = o.xLog ? niceTicks(Math.ceil(x0), Math.floor(x1), Math.max(1, Math.min(8, Math.floor(x1) - Math.ceil(x0)))).filter(Number.isInteger).map((e) => 10 ** e) : niceTicks(x0, x1, 6);
  const xFmt = o.xTick ?? (o.xLog ? (v: number) => `1e${Math.round(Math.log10(v))}` : fmtNum);
  for (const v of xt) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#f1f5f9"/>`);
    parts.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle" fill="#555">${esc(xFmt(v))}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#9ca3af"/>`);
  if (o.xLabel) parts.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 32}" text-anchor="middle" fill="#333">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(o.yLabel)}</text>`);
  for (const v of o.vlines ?? []) {
    const x = sx(v.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#6b7280" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${Number(x) + 4}" y="${m.t + 12}" fill="#6b7280">${esc(v.label)}</text>`);
  }
  for (const s of series) {
    const ok = s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(tx(p.x)));
    if (ok.length === 0) continue;
    const d = ok.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    // Dots help when there are only a few epochs.
    if (ok.length <= 40) for (const p of ok) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="${esc(s.color)}"/>`);
  }
  for (const mk of o.markers ?? []) {
    if (!Number.isFinite(mk.y) || !Number.isFinite(tx(mk.x))) continue;
    const cx = sx(mk.x);
    const cy = sy(mk.y);
    const right = cx < m.l + pw * 0.7;
    parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5" fill="none" stroke="${esc(mk.color ?? '#dc2626')}" stroke-width="2"/>`);
    parts.push(`<text x="${(cx + (right ? 9 : -9)).toFixed(1)}" y="${(cy - 8).toFixed(1)}" text-anchor="${right ? 'start' : 'end'}" fill="${esc(mk.color ?? '#dc2626')}" font-weight="600">${esc(mk.label)}</text>`);
  }
  if (series.length > 1) {
    let lx = m.l;
    const ly = H - 10;
    for (const s of series) {
      parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${esc(s.color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      parts.push(`<text x="${lx + 22}" y="${ly}" fill="#333">${esc(s.name)}</text>`);
      lx += 30 + s.name.length * 6.5;
    }
  }
  parts.push('</svg>');
  return parts.join('');
}
