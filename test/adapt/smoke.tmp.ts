import path from 'node:path';
import fs from 'node:fs';
import { trainClassifier } from '../../src/pipeline/train.js';
import { evaluateModelDir } from '../../src/pipeline/evaluate.js';
import { adaptModel } from '../../src/adapt/index.js';
import { makeShiftedFolder } from '../../src/adapt/synthetic-shift.js';
import { makeDataset, tmpDir } from '../pipeline/fixtures.js';
const classes = (process.env.CLASSES ?? 'Trouser,Bag,Sneaker,Dress').split(',');
const size = Number(process.env.SIZE ?? 64);
const ds = makeDataset({ classes, perClass: 30, test: 20 });
const cache = tmpDir('graft-cache-');
const out = path.join(tmpDir(), 'src-model');
let t = Date.now();
await trainClassifier({ data: ds.root, out, inputSize: size, epochs: 8, lr: 3e-3, batchSize: 16, seed: 7, cacheDir: cache, quiet: true });
console.log('train', (Date.now()-t)/1000);
const kind = (process.env.KIND ?? 'night') as 'night';
const night = path.join(tmpDir(), kind);
await makeShiftedFolder(ds.test, night, kind, 1);
const base = await evaluateModelDir(out, night);
const clean = await evaluateModelDir(out, ds.test);
console.log('clean', clean.accuracy, 'source-only', base.accuracy);
for (const method of (process.env.METHODS ?? 'adabn,coral,pseudo-label,dann').split(',') as any[]) {
  t = Date.now();
  const r = await adaptModel(out, { target: night, method, out: path.join(tmpDir(), method), cacheDir: cache, seed: 1, adabn: { mode: process.env.MODE as any }, pseudoLabel: { threshold: Number(process.env.TH ?? 0.8), rounds: Number(process.env.ROUNDS ?? 3) } });
  const e = await evaluateModelDir(r.outDir, night);
  console.log(method, 'acc', e.accuracy.toFixed(3), 'conf', r.before.meanMaxProb.toFixed(3), '→', r.after.meanMaxProb.toFixed(3), 'srcAcc', r.sourceAccuracy, 's', (Date.now()-t)/1000);
}
