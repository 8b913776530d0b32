/**
 * Domain-adaptation measurement for RESULTS.md (issue 5, part 3): Fashion-MNIST, the embedded
 * default backbone (mobilenet_v2, nsfwjs weights), a source model trained with Graft, two
 * constructed target domains made from the test images ('night': dark, low contrast, sensor noise;
 * 'invert-blur'), source-only vs each adaptation method, mean ± sd over seeds, plus what
 * `graft shift` says of each pair. The target images are adapted on WITHOUT labels; their labels
 * are used only to score the result.
 *
 *   node scripts/build-demo-data.mjs --train 100 --test 50 --out /tmp/fm
 *   npx tsx scripts/results-adapt.ts --data /tmp/fm --seeds 1,2,3 --size 96 --out /tmp/graft-adapt
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../src/workflow/train.js';
import { evaluateModelDir } from '../src/workflow/evaluate.js';
import { adaptModel, shiftReport, ADAPT_METHODS } from '../src/adapt/index.js';
import { makeShiftedFolder, type ShiftKind } from '../src/adapt/synthetic-shift.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1]! : d;
};
const data = arg('data', '/tmp/fm');
const out = arg('out', '/tmp/graft-adapt');
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const size = Number(arg('size', '96'));
const shifts = arg('shifts', 'night,invert-blur').split(',') as ShiftKind[];
const methods = arg('methods', ADAPT_METHODS.join(',')).split(',') as (typeof ADAPT_METHODS)[number][];
const cacheDir = path.join(out, 'cache');
fs.mkdirSync(out, { recursive: true });
const rows: Record<string, unknown>[] = [];
const log = (r: Record<string, unknown>) => {
  rows.push(r);
  fs.appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify(r) + '\n');
  console.log(JSON.stringify(r));
};

for (const seed of seeds) {
  const model = path.join(out, `source-${seed}`);
  let t = Date.now();
  // The source model is what `graft train` gives with no tuning flag (at --size).
  await trainClassifier({ data, out: model, force: true, inputSize: size, seed, cacheDir, quiet: true });
  const clean = await evaluateModelDir(model, path.join(data, 'test'));
  log({ seed, shift: 'none', method: 'source-only', accuracy: clean.accuracy, seconds: (Date.now() - t) / 1000 });
  for (const shift of shifts) {
    const target = path.join(out, `${shift}-${seed}`);
    if (!fs.existsSync(target)) await makeShiftedFolder(path.join(data, 'test'), target, shift, seed);
    const base = await evaluateModelDir(model, target);
    log({ seed, shift, method: 'source-only', accuracy: base.accuracy });
    const s = await shiftReport(model, path.join(data, 'test'), target, { seed, cacheDir });
    log({ seed, shift, method: 'shift-report', pValue: s.pValue, mmd: s.mmd, domainAcc: s.domainClassifierAccuracy, verdict: s.verdict, confA: s.confidenceDrift?.a.meanMaxProb, confB: s.confidenceDrift?.b.meanMaxProb });
    for (const method of methods) {
      t = Date.now();
      const r = await adaptModel(model, { target, method, out: path.join(out, `${method}-${shift}-${seed}`), seed, cacheDir });
      const e = await evaluateModelDir(r.outDir, target);
      log({ seed, shift, method, accuracy: e.accuracy, confBefore: r.before.meanMaxProb, confAfter: r.after.meanMaxProb, sourceAccuracy: r.sourceAccuracy, seconds: (Date.now() - t) / 1000 });
    }
  }
  // Control: two disjoint halves of the same clean test set should show no shift.
  const halves = [path.join(out, `half-a-${seed}`), path.join(out, `half-b-${seed}`)];
  if (!fs.existsSync(halves[0]!)) {
    for (const c of fs.readdirSync(path.join(data, 'test'))) {
      const files = fs.readdirSync(path.join(data, 'test', c)).sort();
      files.forEach((f, i) => {
        const dst = path.join(halves[i % 2]!, c);
        fs.mkdirSync(dst, { recursive: true });
        fs.copyFileSync(path.join(data, 'test', c, f), path.join(dst, f));
      });
    }
  }
  const ctl = await shiftReport(model, halves[0]!, halves[1]!, { seed, cacheDir });
  log({ seed, shift: 'control (clean half vs clean half)', method: 'shift-report', pValue: ctl.pValue, mmd: ctl.mmd, domainAcc: ctl.domainClassifierAccuracy, verdict: ctl.verdict });
}

// Summary table: mean ± sd of accuracy per shift × method.
const stat = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return `${(m * 100).toFixed(1)} ± ${(sd * 100).toFixed(1)}`;
};
const lines = ['| shift | source-only | ' + methods.join(' | ') + ' |', '|---|---|' + methods.map(() => '---|').join('')];
for (const shift of shifts) {
  const acc = (m: string) => rows.filter((r) => r.shift === shift && r.method === m).map((r) => Number(r.accuracy));
  lines.push(`| ${shift} | ${stat(acc('source-only'))} | ${methods.map((m) => stat(acc(m))).join(' | ')} |`);
}
console.log(lines.join('\n'));
fs.writeFileSync(path.join(out, 'table.md'), lines.join('\n') + '\n');
