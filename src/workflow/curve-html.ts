import { GRAFT_FILE_MARKER } from '../io/out-target.js';
import { esc, lineChart, type Series } from '../evaluate/report/charts.js';
import type { CurveResult } from './curve.js';

const COLORS: Record<string, string> = {
  default: '#111827',
  prototype: '#2563eb',
  knn: '#0891b2',
  head: '#16a34a',
  'fine-tune': '#9333ea',
  scratch: '#dc2626',
  'small-cnn': '#ea580c',
};

const pct = (v: number) => (v * 100).toFixed(1);

/**
 * A self-contained HTML page (inline SVG, no scripts or URLs): accuracy vs labelled images per
 * class, one line per method (mean over seeds, ±1 sd band as dashed lines), and a table of
 * mean ± sd and wall time.
 *
 * @example
 * fs.writeFileSync('curve.html', renderCurveHtml(await learningCurve(opts)));
 */
export function renderCurveHtml(r: CurveResult, title = 'Learning curves'): string {
  const methods = [...new Set(r.summary.map((s) => s.method))];
  const series: Series[] = [];
  for (const m of methods) {
    const rows = r.summary.filter((s) => s.method === m).sort((a, b) => a.labelsPerClass - b.labelsPerClass);
    const color = COLORS[m] ?? '#555';
    series.push({ name: m, color, points: rows.map((s) => ({ x: s.labelsPerClass, y: s.mean * 100 })) });
  }
  const xs = [...new Set(r.summary.map((s) => s.labelsPerClass))].sort((a, b) => a - b);
  const chart = lineChart(series, {
    title: 'Test accuracy vs labelled images per class',
    xLabel: 'labelled images per class (log scale)',
    yLabel: 'accuracy %',
    xLog: xs.length > 1 && xs[0]! > 0,
    yMin: 0,
    yMax: 100,
    width: 720,
    height: 400,
    markers: r.summary.map((s) => ({ x: s.labelsPerClass, y: s.mean * 100, label: '', color: COLORS[s.method] ?? '#555' })),
  });
  const budgets = [...new Set(r.summary.map((s) => `${s.budget}`))];
  const head = `<tr><th>method</th>${budgets.map((b) => `<th>${esc(b)}/class</th>`).join('')}</tr>`;
  const body = methods
    .map((m) => {
      const cells = budgets.map((b) => {
        const s = r.summary.find((x) => x.method === m && `${x.budget}` === b);
        return s ? `<td>${pct(s.mean)} ± ${pct(s.sd)}<br><small>${s.seconds.toFixed(1)} s</small></td>` : '<td>—</td>';
      });
      return `<tr><th>${esc(m)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<!-- ${GRAFT_FILE_MARKER} -->
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child{text-align:left}small{color:#666}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${esc(r.classes.length)} classes (${esc(r.classes.join(', '))}); ${esc(r.testImages)} test images; backbone ${esc(r.backbone.name)} (weights: ${esc(r.backbone.weights)}); ${esc(r.options.seeds)} seed(s). Accuracy: mean ± sd over seeds, percent; time: mean wall seconds per run. Backbone embeddings: ${esc(r.backbone.featureSeconds.toFixed(1))} s once (${esc(r.backbone.featureImages)} images computed, the rest cached), not included in the prototype/kNN times.</p>
${chart}
<table>${head}
${body}</table>
</body></html>
`;
}
