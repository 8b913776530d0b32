import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainClassifier } from '../../src/pipeline/train.js';
import { loadAdaptContext, splitAtFeatures, FeatureExtractor, predictTop, sourceItems, argmaxRows } from '../../src/adapt/common.js';
import { coralFold, pooled } from '../../src/adapt/coral.js';
import { loadDataset } from '../../src/data/dataset.js';
import { makeShiftedFolder } from '../../src/adapt/synthetic-shift.js';
import { makeDataset, tmpDir } from '../pipeline/fixtures.js';
const classes = 'Trouser,Bag,Sneaker,Dress'.split(',');
const ds = makeDataset({ classes, perClass: 30, test: 20 });
const cache = tmpDir('graft-cache-');
const out = path.join(tmpDir(), 'src-model');
await trainClassifier({ data: ds.root, out, inputSize: 64, epochs: 8, lr: 3e-3, batchSize: 16, seed: 7, cacheDir: cache, quiet: true });
const night = path.join(tmpDir(), 'night');
await makeShiftedFolder(ds.test, night, (process.env.KIND ?? 'night') as any, 1);
const ctx = await loadAdaptContext(out);
const split = splitAtFeatures(ctx);
const ex = await FeatureExtractor.create(split.frozen, ctx.manifest, ctx.featureLayer, cache);
const tgtDs = loadDataset(night);
const tgt = (await ex.extract(tgtDs.items, 't')).features;
const src = (await ex.extract(sourceItems(ctx.manifest).items, 's')).features;
const acc = (top: tf.LayersModel, f: typeof tgt) => { const p = argmaxRows(predictTop(top, f), 4); let c = 0; p.forEach((v, i) => { if (v === f.labels[i]) c++; }); return c / p.length; };
console.log('source-only', acc(split.top, tgt));
const w0 = split.top.getWeights().map((w) => w.clone());
for (const lambda of [1]) {
  split.top.setWeights(w0);
  const t = Date.now();
  const r = coralFold(split.top, src, tgt, { lambda });
  console.log('coral', lambda, acc(split.top, tgt), r.coralLossBefore, r.coralLossAfter, (Date.now()-t)/1000);
}
// mean shift only / diagonal
const s = pooled(src), t = pooled(tgt); const d = s.d;
const ms = new Float64Array(d), mt = new Float64Array(d), vs = new Float64Array(d), vt = new Float64Array(d);
for (let i = 0; i < s.n; i++) for (let j = 0; j < d; j++) { ms[j] += s.data[i*d+j]/s.n; }
for (let i = 0; i < t.n; i++) for (let j = 0; j < d; j++) { mt[j] += t.data[i*d+j]/t.n; }
for (let i = 0; i < s.n; i++) for (let j = 0; j < d; j++) { vs[j] += (s.data[i*d+j]-ms[j])**2/s.n; }
for (let i = 0; i < t.n; i++) for (let j = 0; j < d; j++) { vt[j] += (t.data[i*d+j]-mt[j])**2/t.n; }
for (const mode of ['mean', 'diag']) {
  const data = new Float32Array(t.data.length);
  for (let i = 0; i < t.n; i++) for (let j = 0; j < d; j++) { const x = t.data[i*d+j]; data[i*d+j] = mode === 'mean' ? x - mt[j] + ms[j] : (x - mt[j]) * Math.sqrt((vs[j]+1e-6)/(vt[j]+1e-6)) + ms[j]; }
  split.top.setWeights(w0);
  console.log(mode, acc(split.top, { ...tgt, data }));
}
