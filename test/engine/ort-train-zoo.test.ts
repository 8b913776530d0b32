import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/backend.js';
import { createOrtEngine } from '../../src/engine/ort-train/index.js';
import { createTfjsEngine } from '../../src/train/tfjs-engine.js';
import { addHead, splitAt } from '../../src/transfer/index.js';
import { createModel } from '../../src/zoo/registry.js';
import { relErr, rand } from './ort-train-helpers.js';

/** The zoo's MobileNetV2 (64 px, random weights) split after block_13: its top trains identically. */
async function mobilenetTop(): Promise<tf.LayersModel> {
  const { model, spec } = await createModel('mobilenet_v2', { includeTop: false, weights: 'none', inputShape: [64, 64, 3] });
  const full = addHead(model, { classes: 5 });
  return splitAt(full, 'block_13', spec).top;
}

// SGD, not Adam: deep in a randomly initialised net some gradients are ~1e-8, where Adam's g/(|g|+ε)
// turns float32 summation-order noise into visible weight differences (the small-model tests cover Adam).
test('mobilenet_v2 split at block_13: two sgd steps of the top match TF.js (wasm)', async () => {
  await initTf('wasm');
  const [a, b] = [await mobilenetTop(), await mobilenetTop()];
  b.setWeights(a.getWeights());
  const shape = a.inputs[0].shape.slice(1) as number[];
  const n = 4;
  const x = rand(n * shape.reduce((p, q) => p * q, 1), 3).map((v) => 2 * v);
  const batch = { x, xShape: [n, ...shape], y: Int32Array.from([0, 1, 2, 3]) };
  const opts = { optimizer: { type: 'sgd' as const, lr: 0.05, momentum: 0.9 } };
  const [ref, ort] = [await createTfjsEngine(a, opts), await createOrtEngine(b, opts)];
  for (let s = 0; s < 2; s++) {
    const [r1, r2] = [await ref.trainStep(batch, 0.05), await ort.trainStep(batch, 0.05)];
    assert.ok(Math.abs(r1.loss - r2.loss) <= 1e-4 * r1.loss, `step ${s}: loss ${r2.loss} vs ${r1.loss}`);
  }
  const [w1, w2] = [ref.getWeights(), ort.getWeights()];
  // Floor 1e-2 (absolute differences up to 1e-6 pass): the BNs' β gradients are sums over
  // batch × space that nearly cancel — projection BNs feed only training-mode BNs, which remove
  // per-channel shifts (true gradient 0), and expand BNs feed one through ReLU6 and a depthwise
  // conv. Summed in different orders, the engines differ by ~4e-7 on β values of ~1e-3; a wrong
  // gradient would differ by the size of the update itself (≥ 1e-3).
  a.weights.forEach((w, i) => assert.ok(relErr(w1[i], w2[i], 1e-2) <= 1e-4, `${w.name}: ${relErr(w1[i], w2[i], 1e-2)}`));
  ref.dispose();
  ort.dispose();
});
