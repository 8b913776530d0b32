import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { coralFold, firstDense } from '../../src/adapt/coral.js';
import { meanCov } from '../../src/adapt/linalg.js';
import { selectConfident } from '../../src/adapt/pseudo-label.js';
import { gradientReversal } from '../../src/adapt/dann.js';
import { mmdPermutationTest, domainClassifierAccuracy } from '../../src/adapt/stats.js';
import { Rng } from '../../src/data/rng.js';
import type { FeatureSet } from '../../src/features/feature-set.js';

const gauss = (rng: Rng) => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
function sampleRows(n: number, d: number, seed: number, mix: number[][], shift: number[]): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: d }, () => gauss(rng));
    for (let j = 0; j < d; j++) out[i * d + j] = shift[j]! + z.reduce((s, v, k) => s + v * mix[k]![j]!, 0);
  }
  return out;
}
const fs = (data: Float32Array, d: number): FeatureSet => ({ data, shape: [d], labels: new Int32Array(data.length / d), paths: [] });

test('coral: the folded head sees target features with the source mean and covariance', async () => {
  await initTf();
  const d = 6;
  const eye = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  const skew = eye.map((r, i) => r.map((v, j) => v * (i + 1) * 0.7 + (j === (i + 1) % d ? 0.8 : 0)));
  const src = sampleRows(4000, d, 1, eye, new Array(d).fill(0));
  const tgt = sampleRows(4000, d, 2, skew, [3, -2, 1, 0, 5, -1]);
  const input = tf.input({ shape: [d] });
  const dense = tf.layers.dense({ units: 3, name: 'graft_head_predictions', activation: 'linear', kernelInitializer: 'glorotUniform' });
  const top = tf.model({ inputs: input, outputs: tf.layers.dropout({ rate: 0.2 }).apply(input) as tf.SymbolicTensor });
  const head = tf.model({ inputs: input, outputs: dense.apply(top.outputs[0]!) as tf.SymbolicTensor });
  const W = dense.getWeights()[0]!.arraySync() as number[][];
  const bias = dense.getWeights()[1]!.dataSync().slice();
  const r = coralFold(head, fs(src, d), fs(tgt, d), { lambda: 1e-4 });
  assert.equal(r.layer, 'graft_head_predictions');
  assert.ok(r.coralLossAfter < r.coralLossBefore / 100, `${r.coralLossBefore} → ${r.coralLossAfter}`);
  // Outputs on the target: their mean and covariance are those of the source's outputs (W^T Cs W).
  const yT = (head.predict(tf.tensor2d(tgt, [4000, d])) as tf.Tensor).dataSync() as Float32Array;
  const yS = tf.tidy(() => tf.matMul(tf.tensor2d(src, [4000, d]), tf.tensor2d(W!)).dataSync() as Float32Array);
  const a = meanCov(yT, 4000, 3);
  const b = meanCov(yS, 4000, 3);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(a.mean[j]! - (b.mean[j]! + bias[j]!)) < 0.15, `mean ${j}: ${a.mean[j]} vs ${b.mean[j]! + bias[j]!}`);
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(a.cov[i]! - b.cov[i]!) < 0.15 * (1 + Math.abs(b.cov[i]!)), `cov ${i}: ${a.cov[i]} vs ${b.cov[i]}`);
});

test('coral: a head whose features reach a non-Dense layer first is refused with the reason', async () => {
  await initTf();
  const input = tf.input({ shape: [4] });
  const y = tf.layers.dense({ units: 2 }).apply(tf.layers.layerNormalization().apply(input)) as tf.SymbolicTensor;
  assert.throws(() => firstDense(tf.model({ inputs: input, outputs: y })), /LayerNormalization/);
});

test('pseudo-label selection keeps confident rows only, at most k per predicted class, most confident first', () => {
  const probs = Float32Array.from([0.9, 0.1, 0.95, 0.05, 0.6, 0.4, 0.99, 0.01, 0.2, 0.8]);
  const s = selectConfident(probs, 2, 0.7, 2);
  assert.deepEqual(s.index, [3, 1, 4]);
  assert.deepEqual(s.label, [0, 0, 1]);
  assert.deepEqual(s.counts, [2, 1]);
});

test('gradient reversal: identity forward, gradient times -lambda', async () => {
  await initTf();
  let lambda = 0.5;
  const grl = gradientReversal(() => lambda);
  const x = tf.tensor1d([1, 2, 3]);
  assert.deepEqual(Array.from(grl(x).dataSync()), [1, 2, 3]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(grl(v), tf.tensor1d([1, 2, 3]))))(x);
  assert.deepEqual(Array.from(g.dataSync()), [-0.5, -1, -1.5]);
  lambda = 2;
  assert.deepEqual(Array.from(tf.grad((v: tf.Tensor) => tf.sum(grl(v)))(x).dataSync()), [-2, -2, -2]);
});

test('MMD permutation test and domain classifier: same distribution vs shifted', async () => {
  await initTf();
  const d = 8;
  const eye = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  const a = sampleRows(120, d, 1, eye, new Array(d).fill(0));
  const b = sampleRows(120, d, 2, eye, new Array(d).fill(0));
  const c = sampleRows(120, d, 3, eye, new Array(d).fill(0.8));
  const same = mmdPermutationTest(a, 120, b, 120, d, 200, 1);
  const diff = mmdPermutationTest(a, 120, c, 120, d, 200, 1);
  assert.ok(same.pValue > 0.05, `same p ${same.pValue}`);
  assert.ok(diff.pValue < 0.01, `shifted p ${diff.pValue}`);
  assert.ok(diff.mmd2 > same.mmd2);
  assert.ok(domainClassifierAccuracy(a, 120, b, 120, d, 1).accuracy < 0.65);
  assert.ok(domainClassifierAccuracy(a, 120, c, 120, d, 1).accuracy > 0.8);
});
