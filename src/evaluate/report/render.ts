import { GRAFT_FILE_MARKER } from '../../io/out-target.js';
import { esc, lineChart, type Series } from './charts.js';
import { REPORT_CSS } from './style.js';
import type { ReportData, ReportExample, ReportImage } from './types.js';

const ALLOWED_MIME = new Set(['image/png', 'image/jpeg', 'image/webp']);
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
const num = (v: number | undefined, d = 3) => (v !== undefined && Number.isFinite(v) ? v.toFixed(d) : '–');
const int = (v: number) => v.toLocaleString('en-US');

/** A class name, or its id when the list is short (keeps bad input from crashing a report). */
function className(d: ReportData, c: number): string {
  return d.classes[c] ?? `class ${c}`;
}

function dataUri(img: ReportImage): string | undefined {
  // Only image types go into src: a caller-supplied mime must not smuggle markup in.
  if (!ALLOWED_MIME.has(img.mime)) return undefined;
  return `data:${img.mime};base64,${Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength).toString('base64')}`;
}

function kvTable(rows: [string, string | undefined][]): string {
  return `<table class="kv">${rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
    .join('')}</table>`;
}

function summary(d: ReportData): string {
  const ev = d.evaluation;
  const last = d.history?.at(-1);
  const tiles: [string, string][] = [
    [`${ev.split} accuracy`, pct(ev.accuracy)],
    ...ev.topK.map((t): [string, string] => [`top-${t.k} accuracy`, pct(t.accuracy)]),
    ['macro F1', num(ev.macro.f1)],
    [`${ev.split} loss`, num(ev.loss)],
    ['classes', String(d.classes.length)],
  ];
  if (last) tiles.push(['epochs', String(d.history!.length)]);
  const m = d.model;
  const ds = d.dataset;
  const skipped = ds.skipped ?? [];
  const sizes = [`${int(ds.train)} train`, ds.val !== undefined ? `${int(ds.val)} validation` : '', ds.test !== undefined ? `${int(ds.test)} test` : ''].filter(Boolean).join(' · ');
  const rows: [string, string | undefined][] = [
    ['Model', m.name],
    ['Backbone', m.backbone],
    ['Cut at layer', m.cutLayer],
    ['Input size', m.inputSize ? `${m.inputSize[0]} × ${m.inputSize[1]}` : undefined],
    ['Parameters', m.params ? `${int(m.params.trainable)} trainable of ${int(m.params.total)}` : undefined],
    ['Training engine', m.engine],
    ...(m.extra ?? []),
    ['Dataset', sizes],
    ['Data source', ds.source],
    ['Evaluated on', `${ev.split} (${int(ev.n)} examples)`],
    ['Skipped files', String(skipped.length)],
  ];
  const classList = d.classes.map((c) => esc(c)).join(', ');
  let skippedHtml = '';
  if (skipped.length) {
    const shown = skipped.slice(0, 200);
    skippedHtml = `<details${skipped.length <= 10 ? ' open' : ''}><summary>${skipped.length} file(s) skipped</summary><table class="data left"><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody>${shown
      .map((s) => `<tr><td>${esc(s.path)}</td><td>${esc(s.reason)}</td></tr>`)
      .join('')}</tbody></table>${skipped.length > shown.length ? `<p class="muted">… and ${skipped.length - shown.length} more.</p>` : ''}</details>`;
  }
  return `<section id="summary"><h2>Summary</h2><div class="tiles">${tiles
    .map(([k, v]) => `<div class="tile"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`)
    .join('')}</div>${kvTable(rows)}<p><span class="muted">Classes:</span> ${classList}</p>${skippedHtml}</section>`;
}

function curves(d: ReportData): string {
  const h = d.history ?? [];
  if (h.length === 0) return `<section id="curves"><h2>Learning curves</h2><p class="muted">No training history was recorded.</p></section>`;
  // Epochs restart at 0 in each fine-tune stage: plot against the running epoch number.
  const x = (i: number) => i + 1;
  const vlines: { x: number; label: string }[] = [];
  h.forEach((e, i) => {
    if (e.stage && (i === 0 || h[i - 1].stage !== e.stage)) vlines.push({ x: i === 0 ? x(0) : x(i) - 0.5, label: e.stage });
  });
  const hasVal = h.some((e) => e.valLoss !== undefined);
  const mk = (key: 'loss' | 'acc' | 'valLoss' | 'valAcc', name: string, color: string, dashed = false): Series => ({
    name,
    color,
    dashed,
    points: h.map((e, i) => ({ x: x(i), y: e[key] ?? NaN })),
  });
  const xTick = (v: number) => (Number.isInteger(v) ? String(v) : '');
  const loss = lineChart([mk('loss', 'train loss', '#2563eb'), ...(hasVal ? [mk('valLoss', 'validation loss', '#ea580c', true)] : [])], {
    title: 'Loss',
    xLabel: 'epoch',
    vlines,
    xTick,
  });
  const acc = lineChart([mk('acc', 'train accuracy', '#2563eb'), ...(hasVal ? [mk('valAcc', 'validation accuracy', '#ea580c', true)] : [])], {
    title: 'Accuracy',
    xLabel: 'epoch',
    vlines,
    xTick,
  });
  const secs = h.reduce((a, e) => a + e.seconds, 0);
  return `<section id="curves"><h2>Learning curves</h2><div class="cols">${loss}${acc}</div><p class="legend">${h.length} epoch(s), ${secs.toFixed(1)} s of training${
    vlines.length ? '; dashed vertical lines mark training stages' : ''
  }.</p></section>`;
}

/** White-to-colour ramp; diagonal cells green (correct), off-diagonal red (errors). */
function heat(frac: number, diagonal: boolean): { bg: string; fg: string } {
  // Errors rarely take more than half a row: saturate them at 50% so a 15% confusion stands out.
  const t = Math.max(0, Math.min(1, diagonal ? frac : frac * 2));
  const [r, g, b] = diagonal ? [22, 163, 74] : [220, 38, 38];
  const mix = (c: number) => Math.round(255 + (c - 255) * t);
  return { bg: t === 0 ? '#f9fafb' : `rgb(${mix(r)},${mix(g)},${mix(b)})`, fg: t > 0.55 ? '#fff' : '#111827' };
}

function confusion(d: ReportData): string {
  const cm = d.evaluation.confusion;
  const k = cm.length;
  const dense = k > 20;
  const head = cm.map((_, c) => `<th class="col" title="${esc(className(d, c))}"><span>${esc(className(d, c))}</span></th>`).join('');
  const rows = cm
    .map((row, a) => {
      const total = row.reduce((s, v) => s + v, 0);
      const cells = row
        .map((v, p) => {
          const frac = total ? v / total : 0;
          const { bg, fg } = heat(frac, a === p);
          const tip = `${className(d, a)} → ${className(d, p)}: ${v} (${pct(frac)} of ${className(d, a)})`;
          return `<td style="background:${bg};color:${fg}" title="${esc(tip)}">${v || (dense ? '' : '·')}</td>`;
        })
        .join('');
      return `<tr><th class="row" title="${esc(className(d, a))}">${esc(className(d, a))}</th>${cells}</tr>`;
    })
    .join('');
  return `<section id="confusion"><h2>Confusion matrix</h2><div class="axis">rows: actual class · columns: predicted class · colour: share of the row</div><div class="cm-wrap"><table class="cm${
    dense ? ' dense' : ''
  }"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table></div><p class="legend">Green: correct (recall of the row). Red: errors, darker = a larger share of the row goes there (full colour at 50%).</p></section>`;
}

function perClass(d: ReportData): string {
  const ev = d.evaluation;
  const rows = ev.perClass
    .map((m) => {
      const low = m.support > 0 && m.f1 < ev.macro.f1 - 0.15;
      return `<tr${low ? ' class="low"' : ''}><td>${esc(className(d, m.cls))}</td><td>${num(m.precision)}</td><td>${num(m.recall)}</td><td>${num(m.f1)}<span class="bar" style="width:${Math.round(m.f1 * 60)}px"></span></td><td>${int(m.support)}</td></tr>`;
    })
    .join('');
  const avg = (name: string, a: { precision: number; recall: number; f1: number }) =>
    `<tr><td>${name}</td><td>${num(a.precision)}</td><td>${num(a.recall)}</td><td>${num(a.f1)}</td><td>${int(ev.n)}</td></tr>`;
  return `<section id="per-class"><h2>Per-class metrics</h2><table class="data"><thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th></tr></thead><tbody>${rows}</tbody><tfoot>${avg(
    'macro average',
    ev.macro,
  )}${avg('weighted average', ev.weighted)}</tfoot></table><p class="legend">Rows shaded red have an F1 more than 0.15 below the macro average.</p></section>`;
}

function confusedPairs(d: ReportData): string {
  const pairs = d.evaluation.mostConfused.slice(0, 15);
  const body = pairs.length
    ? `<ol class="pairs">${pairs
        .map((p) => `<li><span class="count">${p.count}</span><b>${esc(className(d, p.actual))}</b> predicted as <b>${esc(className(d, p.predicted))}</b></li>`)
        .join('')}</ol>`
    : '<p class="muted">No confusions: every example was classified correctly.</p>';
  return `<section id="most-confused"><h2>Most confused pairs</h2>${body}</section>`;
}

function worst(d: ReportData): string {
  const items: ReportExample[] = d.worst ?? d.evaluation.worst;
  if (items.length === 0) return `<section id="worst"><h2>Worst errors</h2><p class="muted">No examples.</p></section>`;
  const pix = d.thumbnailRendering === 'pixelated' ? ' pixelated' : '';
  const cards = items
    .map((e) => {
      const uri = e.thumbnail ? dataUri(e.thumbnail) : undefined;
      const img = uri ? `<img src="${uri}" alt="${esc(e.name ?? `example ${e.index}`)}">` : '<div class="noimg">no image</div>';
      const ok = e.actual === e.predicted;
      return `<div class="ex${pix}">${img}<div class="t"><div>actual <b>${esc(className(d, e.actual))}</b></div><div class="${ok ? 'good' : 'bad'}">predicted ${esc(
        className(d, e.predicted),
      )}</div><div class="m">loss ${num(e.loss, 2)}</div><div class="m">p(predicted) ${num(e.prob, 2)} · p(actual) ${num(e.probActual, 2)}</div>${
        e.name ? `<div class="name" title="${esc(e.name)}">${esc(e.name)}</div>` : `<div class="name">#${e.index}</div>`
      }</div></div>`;
    })
    .join('');
  return `<section id="worst"><h2>Worst errors</h2><p class="legend">The ${items.length} examples with the highest loss (least probability on the true class), highest first.</p><div class="grid">${cards}</div></section>`;
}

function notes(d: ReportData): string {
  const ns = d.notes ?? [];
  const body = ns.length
    ? ns
        .map(
          (n) =>
            `<h3 style="font-size:15px;margin:12px 0 6px">${esc(n.title)}</h3>${(n.text ?? '')
              .split(/\n\s*\n/)
              .filter((p) => p.trim())
              .map((p) => `<p>${esc(p.trim())}</p>`)
              .join('')}${n.chart ? `<div class="chart">${lineChart(n.chart.series, n.chart.options)}</div>` : ''}${n.items?.length ? kvTable(n.items) : ''}`,
        )
        .join('')
    : '<p class="muted">No notes.</p>';
  return `<section id="notes"><h2>Notes</h2>${body}</section>`;
}

/**
 * Render a training report as ONE self-contained HTML file: inline CSS, inline SVG charts,
 * thumbnails as data: URIs, no scripts and no external URLs. Every string is HTML-escaped.
 *
 * @example
 * const evaluation = { split: 'validation', ...evaluateProbs(probs, labels, classes.length) };
 * const html = renderReport({ model: { name: 'flowers' }, classes, dataset: { train: 800, val: 200 }, history: history.epochs, evaluation });
 * await atomicWriteFile('model/report.html', html);
 */
export function renderReport(d: ReportData): string {
  const title = d.title ?? `Graft training report — ${d.model.name}`;
  const created = d.createdAt ?? new Date().toISOString();
  const banner = d.sample
    ? '<div class="banner">SAMPLE REPORT — built from synthetic data to check the layout. None of these numbers are real results.</div>'
    : '';
  return `<!doctype html>
<!-- ${GRAFT_FILE_MARKER} -->
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${REPORT_CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1><p class="sub">${esc(created.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}${d.graftVersion ? ` · Graft ${esc(d.graftVersion)}` : ''}</p>
${banner}
${summary(d)}
${curves(d)}
${confusion(d)}
${perClass(d)}
${confusedPairs(d)}
${worst(d)}
${notes(d)}
<footer>Generated by Graft. Self-contained file: no scripts, no network requests.</footer>
</main></body></html>
`;
}
