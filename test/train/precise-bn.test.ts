import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { recomputeBatchNormStats } from '../../src/train/precise-bn.js';
import type { BatchSource } from '../../src/train/fit.js';

test('precise BN sets moving statistics to the mean of the per-batch statistics', async () => {
  await initTf();
  const input = tf.input({ shape: [4] });
  const out = tf.layers.batchNormalization({ name: 'bn', momentum: 0.999 }).apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const batches = [
    new Float32Array([1, 2, 3, 4, 3, 4, 5, 6]),
    new Float32Array([10, 10, 10, 10, 12, 12, 12, 12]),
    new Float32Array([0, 0, 0, 0, 2, 2, 2, 2]),
  ];
  const src: BatchSource = {
    size: 3,
    async *batches() {
      for (const x of batches) yield { x, xShape: [2, 4], y: new Int32Array(2) };
    },
  };
  assert.equal(await recomputeBatchNormStats(model, src), 3);
  const bn = model.getLayer('bn') as unknown as { movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable; momentum: number };
  const mean = bn.movingMean.read().dataSync();
  const variance = bn.movingVariance.read().dataSync();
  // per-batch means of feature 0: 2, 11, 1 → 14/3; per-batch (biased) variances: 1, 1, 1 → 1
  assert.ok(Math.abs(mean[0]! - 14 / 3) < 1e-5, `mean ${mean[0]}`);
  assert.ok(Math.abs(variance[0]! - 1) < 1e-5, `variance ${variance[0]}`);
  assert.equal(bn.momentum, 0.999, 'momentum restored');
  model.dispose();
});

test('precise BN on onnxruntime gives the TF.js pass\'s statistics (two conv+BN layers in series, each normalised by its batch)', async () => {
  await initTf();
  const { recomputeBatchNormStatsOrt } = await import('../../src/engine/ort-train/precise-bn.js');
  const { Rng } = await import('../../src/data/rng.js');
  const build = () => {
    const input = tf.input({ shape: [8, 8, 3] });
    let h = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'bn1' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU().apply(h) as tf.SymbolicTensor;
    h = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'd2', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'bn2' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: h });
  };
  const rng = new Rng(5);
  const xs = Array.from({ length: 4 }, (_, b) => Float32Array.from({ length: 5 * 8 * 8 * 3 }, () => rng.next() * 255 * (1 + b / 4)));
  const src: BatchSource = {
    size: xs.length,
    async *batches() {
      for (const x of xs) yield { x, xShape: [5, 8, 8, 3], y: new Int32Array(5) };
    },
  };
  const [a, b] = [build(), build()];
  const stats = (m: tf.LayersModel) => ['bn1', 'bn2'].flatMap((n) => {
    const l = m.getLayer(n) as unknown as { movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable };
    return [Array.from(l.movingMean.read().dataSync()), Array.from(l.movingVariance.read().dataSync())];
  });
  const before = stats(a);
  assert.equal(await recomputeBatchNormStats(a, src), 4);
  assert.equal(await recomputeBatchNormStatsOrt(b, src), 4);
  const [ta, tb] = [stats(a), stats(b)];
  assert.notDeepEqual(ta, before, 'the TF.js pass changed nothing (vacuous comparison)');
  ta.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - tb[i]![j]!) <= 1e-3 * Math.max(1, Math.abs(v)), `stat ${i}[${j}]: TF.js ${v}, ORT ${tb[i]![j]}`)));
  a.dispose();
  b.dispose();
});
