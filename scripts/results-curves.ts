// Reproduces RESULTS.md's "Learning curves (less data)" and "Chained transfer" tables on Debian's
// dataset-fashion-mnist. Usage (about 15 minutes on 2 busy cores):
//   npx tsx scripts/results-curves.ts [--out /tmp/graft-results] [--quick] [--only curves|chain]
// Writes OUT/curves.json, OUT/curves.html, OUT/chain.json and OUT/tables.md (markdown tables).
import fs from 'node:fs';
import { eventLine, type GraftEvent } from '../src/events.js';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { learningCurve, type CurveOptions, type CurveResult, type CurveSummary } from '../src/workflow/curve.js';
import { renderCurveHtml } from '../src/workflow/curve-html.js';
import { trainClassifier } from '../src/workflow/train.js';
import { loadImageFolder } from '../src/data/dataset.js';

const args = process.argv.slice(2);
const OUT = path.resolve(args[args.indexOf('--out') + 1] && args.includes('--out') ? args[args.indexOf('--out') + 1]! : '/tmp/graft-results');
const QUICK = args.includes('--quick');
const CACHE = path.join(OUT, 'cache');
const SEEDS = QUICK ? 1 : 3;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
fs.mkdirSync(OUT, { recursive: true });
const log = (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const onEvent = (e: GraftEvent) => {
  const line = eventLine(e);
  if (line) log(line);
};

// 1. Data: the first 100 train and 50 test images per class of the official splits.
const FM = path.join(OUT, 'fm');
if (!fs.existsSync(path.join(FM, 'test'))) {
  execFileSync(process.execPath, ['scripts/build-demo-data.mjs', '--train', '100', '--test', '50', '--out', FM], { stdio: 'inherit' });
}

const pct = (v: number) => (v * 100).toFixed(1);
function table(rs: CurveResult[], title: string): string {
  const summary: CurveSummary[] = rs.flatMap((r) => r.summary);
  const budgets = [...new Set(summary.map((s) => `${s.budget}`))];
  const methods = [...new Set(summary.map((s) => s.method))];
  const lines = [`**${title}**`, '', `| method | ${budgets.map((b) => `${b} labels/class`).join(' | ')} |`, `|---|${budgets.map(() => '---').join('|')}|`];
  for (const m of methods) {
    const cells = budgets.map((b) => {
      const s = summary.find((x) => x.method === m && `${x.budget}` === b);
      return s ? `${pct(s.mean)} ± ${pct(s.sd)} (${s.seconds.toFixed(1)} s, n=${s.runs})` : '—';
    });
    lines.push(`| ${m} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

const t0 = Date.now();
const md: string[] = [];

// 2. Learning curves on the 10 classes with the embedded default backbone.
const budgets = QUICK ? [1, 10] : [1, 5, 10, 25];
if (ONLY !== 'chain') {
log('learning curves: transfer methods and the small CNN');
const main = await learningCurve({
  train: path.join(FM, 'train'),
  test: path.join(FM, 'test'),
  budgets,
  seeds: SEEDS,
  methods: ['default', 'prototype', 'knn', 'head', 'fine-tune', 'small-cnn'],
  epochs: 10,
  fineTuneEpochs: 5,
  scratchEpochs: 10,
  minSteps: 60,
  cacheDir: CACHE,
  onEvent,
});
// MobileNetV2 from scratch is the slowest run (~0.4 s a step at 32x32 on wasm): one seed.
log('learning curves: MobileNetV2 from scratch (1 seed)');
const scratch = await learningCurve({ train: path.join(FM, 'train'), test: path.join(FM, 'test'), budgets, seeds: 1, methods: ['scratch'], scratchEpochs: 5, minSteps: 60, cacheDir: CACHE, onEvent });
fs.writeFileSync(path.join(OUT, 'curves.json'), JSON.stringify({ main, scratch }, null, 2));
fs.writeFileSync(path.join(OUT, 'curves.html'), renderCurveHtml({ ...main, points: [...main.points, ...scratch.points], summary: [...main.summary, ...scratch.summary] }, 'Fashion-MNIST learning curves'));
md.push(table([main, scratch], `Fashion-MNIST, 10 classes, test ${main.testImages} images; accuracy % mean ± sd over seeds (mean wall seconds per run)`));
md.push(`Backbone embeddings (mobilenet_v2, nsfwjs weights, 224x224): ${main.backbone.featureImages} images computed in ${main.backbone.featureSeconds.toFixed(1)} s (once; cached for every later run).\n`);
}

// 3. Chained transfer: source = 5 classes, target = the other 5 with 10 labels per class.
if (ONLY !== 'curves') {
const all = loadImageFolder(path.join(FM, 'train'));
const allTest = loadImageFolder(path.join(FM, 'test'));
const A = all.classes.slice(0, 5);
const B = all.classes.filter((c) => !A.includes(c));
const manifest = (file: string, ds: typeof all, classes: string[]) => {
  const rows = ds.items.filter((i) => classes.includes(ds.classes[i.label]!)).map((i) => `"${i.path}",${ds.classes[i.label]}`);
  fs.writeFileSync(file, ['path,label', ...rows].join('\n') + '\n');
  return file;
};
const aTrain = manifest(path.join(OUT, 'A-train.csv'), all, A);
const aTest = manifest(path.join(OUT, 'A-test.csv'), allTest, A);
const bTrain = manifest(path.join(OUT, 'B-train.csv'), all, B);
const bTest = manifest(path.join(OUT, 'B-test.csv'), allTest, B);
log(`source task: ${A.join(', ')} (fine-tuning the top block); target: ${B.join(', ')}`);
const source = await trainClassifier({ data: aTrain, val: aTest, allowOutside: true, out: path.join(OUT, 'source-A'), force: true, epochs: 5, fineTuneBlocks: 1, fineTuneEpochs: 3, batchSize: 16, report: false, onnx: false, quiet: true, cacheDir: CACHE });
log(`source model: ${pct(source.evaluation.accuracy)}% on its own test set in ${source.seconds.toFixed(0)} s`);
const target: CurveOptions = { train: bTrain, test: bTest, allowOutside: true, budgets: [10], seeds: SEEDS, epochs: 10, minSteps: 60, scratchEpochs: 10, cacheDir: CACHE, onEvent };
const chained = await learningCurve({ ...target, backbone: path.join(OUT, 'source-A'), methods: ['default', 'prototype', 'head'] });
const direct = await learningCurve({ ...target, methods: ['default', 'prototype', 'head', 'small-cnn'] });
const scratchB = await learningCurve({ ...target, methods: ['scratch'], scratchEpochs: 5 });
// Only the backbone-based methods get the backbone's name; small-cnn and scratch use none.
const rename = (r: CurveResult, prefix: string): CurveResult => ({ ...r, summary: r.summary.map((s) => ({ ...s, method: (s.method === 'default' || s.method === 'prototype' || s.method === 'head' ? `${prefix}${s.method}` : `${s.method} (from scratch)`) as never })) });
fs.writeFileSync(path.join(OUT, 'chain.json'), JSON.stringify({ source: { accuracy: source.evaluation.accuracy, seconds: source.seconds, classes: A }, chained, direct, scratchB }, null, 2));
md.push(table([rename(chained, 'chained (source-A model) + '), rename(direct, 'embedded backbone + '), { ...scratchB, summary: scratchB.summary.map((x) => ({ ...x, method: 'MobileNetV2 from scratch (32x32)' as never })) }], `Target task ${B.join(', ')}: 10 labels per class, test ${chained.testImages} images; source model ${pct(source.evaluation.accuracy)}% on ${A.join(', ')} (trained in ${source.seconds.toFixed(0)} s)`));
}
md.push(`Total: ${((Date.now() - t0) / 60000).toFixed(1)} min.\n`);
fs.writeFileSync(path.join(OUT, 'tables.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
