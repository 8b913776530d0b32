/**
 * Precise BatchNorm after a from-scratch run: the onnxruntime pass (one forward-only graph that
 * outputs every BN layer's batch statistics) against the TF.js (wasm) training-mode passes, on the
 * same MobileNetV2 (random init, every BN trainable) and the same images, in one process, one after
 * the other. Both set the same statistics (checked here too: max relative difference printed).
 *
 * Usage: npm run bench:precise-bn -- [--images 128] [--size 224] [--batch 32]
 */
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../src/engine/tfjs/backend.js';
import { buildModel } from '../src/zoo/registry.js';
import { addHead } from '../src/transfer/head.js';
import { seedWeights } from '../src/transfer/seed.js';
import { recomputeBatchNormStats } from '../src/train/precise-bn.js';
import { recomputeBatchNormStatsOrt } from '../src/engine/ort-train/precise-bn.js';
import { Rng } from '../src/data/rng.js';
import type { BatchSource } from '../src/train/fit.js';
import { machineInfo } from './lib/machine.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const [images, size, batch] = [arg('images', 128), arg('size', 224), arg('batch', 32)];
await initTf();
const make = () => {
  const base = buildModel('mobilenet_v2', { inputShape: [size, size, 3], includeTop: false });
  const m = addHead(base, { classes: 10, hidden: [], dropout: 0.2, pooling: 'avg' });
  seedWeights(m, 7, () => true);
  return m;
};
const rng = new Rng(1);
const xs: Float32Array[] = [];
for (let s = 0; s < images; s += batch) xs.push(Float32Array.from({ length: Math.min(batch, images - s) * size * size * 3 }, () => rng.next() * 2 - 1));
const src: BatchSource = {
  size: xs.length,
  async *batches() {
    for (const x of xs) yield { x, xShape: [x.length / (size * size * 3), size, size, 3], y: new Int32Array(x.length / (size * size * 3)) };
  },
};
type Bn = { movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable };
const bnStats = (m: tf.LayersModel) =>
  m.layers.filter((l) => l.getClassName() === 'BatchNormalization').flatMap((l) => [(l as unknown as Bn).movingMean, (l as unknown as Bn).movingVariance].map((v) => Array.from(v.read().dataSync())));
const [a, b] = [make(), make()];
let t = performance.now();
await recomputeBatchNormStatsOrt(b, src);
const ortS = (performance.now() - t) / 1000;
t = performance.now();
await recomputeBatchNormStats(a, src);
const tfjsS = (performance.now() - t) / 1000;
let worst = 0;
const [sa, sb] = [bnStats(a), bnStats(b)];
sa.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - sb[i]![j]!) / Math.max(1, Math.abs(v))))));
console.log(JSON.stringify({ machine: machineInfo('bench:precise-bn'), images, size, batch, ortSeconds: ortS, tfjsSeconds: tfjsS, speedup: tfjsS / ortS, maxRelativeDifference: worst }, null, 2));
