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
