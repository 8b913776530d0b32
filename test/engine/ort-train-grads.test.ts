import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { createOrtEngine } from '../../src/engine/ort-train/index.js';
import { softmaxCrossEntropy } from '../../src/engine/tfjs/losses.js';
import { init, rand } from './ort-train-helpers.js';

type S = tf.SymbolicTensor;
type Body = (x: S) => S;

/**
 * Per-op gradients: a model `input → body → Flatten → Dense(3)` trained one SGD step at lr 1
 * (so w_before − w_after is the gradient) must match TF.js' tf.variableGrads of the same loss,
 * and a few coordinates must match central finite differences of the graph's own loss.
 */
const conv = (k: number, s: number, padding: 'same' | 'valid', extra: Partial<{ useBias: boolean; activation: string; filters: number }> = {}): Body => (x) =>
  tf.layers.conv2d({ filters: extra.filters ?? 4, kernelSize: k, strides: s, padding, useBias: extra.useBias ?? false, activation: extra.activation as 'relu', kernelInitializer: init(11), biasInitializer: 'glorotUniform' as never }).apply(x) as S;
const dw = (k: number, s: number, padding: 'same' | 'valid', mult = 1): Body => (x) =>
  tf.layers.depthwiseConv2d({ kernelSize: k, strides: s, padding, depthMultiplier: mult, useBias: true, depthwiseInitializer: init(12), biasInitializer: 'glorotUniform' as never }).apply(x) as S;
const chain = (...bs: Body[]): Body => (x) => bs.reduce((h, b) => b(h), x);
const se: Body = (x) => {
  const c = x.shape[3] as number;
  let s = tf.layers.globalAveragePooling2d({}).apply(x) as S;
  s = tf.layers.dense({ units: 2, activation: 'relu', kernelInitializer: init(13) }).apply(s) as S;
  s = tf.layers.dense({ units: c, activation: 'sigmoid', kernelInitializer: init(14) }).apply(s) as S;
  s = tf.layers.reshape({ targetShape: [1, 1, c] }).apply(s) as S;
  return tf.layers.multiply().apply([x, s]) as S;
};

// `tfjsWrong`: TF.js' AvgPoolGrad divides by k·k even where its forward pass (like TF) divides by
// the valid pixels only, so at padded borders only finite differences are a fair reference.
const CASES: Array<{ name: string; shape: [number, number, number]; body: Body; fd?: boolean; tfjsWrong?: boolean }> = [
  { name: 'conv 3x3 s1 same', shape: [5, 5, 3], body: conv(3, 1, 'same') },
  { name: 'conv 3x3 s2 same (odd size)', shape: [7, 7, 3], body: conv(3, 2, 'same', { useBias: true }), fd: true },
  { name: 'conv 3x3 s2 valid (even size)', shape: [8, 8, 2], body: conv(3, 2, 'valid') },
  { name: 'conv 5x5 s2 same + bias + relu', shape: [6, 6, 3], body: conv(5, 2, 'same', { useBias: true, activation: 'relu' }) },
  // Above the im2col size cap (C·k²·Ho·Wo > 2^20 a sample): the Conv-form filter gradient.
  { name: 'conv 3x3 s1 same, large map (Conv-form filter gradient)', shape: [64, 64, 30], body: conv(3, 1, 'same') },
  { name: 'conv 3x3 s2 same, large map (Conv-form filter gradient)', shape: [160, 160, 24], body: conv(3, 2, 'same') },
  { name: 'conv 1x1 + bias + swish (pointwise path)', shape: [4, 4, 5], body: conv(1, 1, 'valid', { useBias: true, activation: 'swish', filters: 6 }) },
  { name: 'conv 1x1 s2 + tanh', shape: [5, 5, 3], body: conv(1, 2, 'same', { activation: 'tanh' }) },
  { name: 'depthwise 3x3 s1 same', shape: [5, 5, 4], body: dw(3, 1, 'same') },
  { name: 'depthwise 3x3 s2 same', shape: [7, 7, 3], body: dw(3, 2, 'same'), fd: true },
  { name: 'depthwise 3x3 s2 valid, multiplier 2', shape: [6, 6, 2], body: dw(3, 2, 'valid', 2) },
  { name: 'zero-padding + conv valid s2 (MobileNet stem)', shape: [6, 6, 3], body: chain((x) => tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(x) as S, conv(3, 2, 'valid')) },
  { name: 'batchnorm (training) + relu6', shape: [4, 4, 3], body: chain(conv(1, 1, 'valid'), (x) => tf.layers.batchNormalization({ momentum: 0.9 }).apply(x) as S, (x) => tf.layers.reLU({ maxValue: 6 }).apply(x) as S), fd: true },
  { name: 'max-pool 2x2 s2 valid', shape: [6, 6, 2], body: chain(conv(3, 1, 'same'), (x) => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as S) },
  { name: 'max-pool 3x3 s2 same', shape: [7, 7, 2], body: chain(conv(3, 1, 'same'), (x) => tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as S), fd: true },
  { name: 'avg-pool 2x2 s2 valid', shape: [6, 6, 2], body: chain(conv(3, 1, 'same'), (x) => tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }).apply(x) as S) },
  { name: 'avg-pool 3x3 s2 same', shape: [7, 7, 2], body: chain(conv(3, 1, 'same'), (x) => tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as S), fd: true, tfjsWrong: true },
  { name: 'concat + squeeze-excite multiply', shape: [4, 4, 3], body: chain((x) => tf.layers.concatenate().apply([conv(1, 1, 'valid')(x), conv(3, 1, 'same', { activation: 'sigmoid' })(x)]) as S, se) },
];

function buildCase(shape: number[], body: Body): tf.LayersModel {
  const inp = tf.input({ shape });
  const h = tf.layers.flatten().apply(body(inp)) as S;
  const out = tf.layers.dense({ units: 3, kernelInitializer: init(7) }).apply(h) as S;
  return tf.model({ inputs: inp, outputs: out });
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

test('per-op gradients match TF.js and finite differences', async () => {
  await initTf('cpu');
  const n = 3;
  for (const c of CASES) {
    const model = buildCase(c.shape, c.body);
    const x = rand(n * c.shape.reduce((a, b) => a * b, 1), 5);
    const y = Int32Array.from([0, 2, 1]);
    const xShape = [n, ...c.shape];
    const before = model.weights.map((w) => (w.read().dataSync() as Float32Array).slice());
    // TF.js reference gradient (training mode: BN uses batch statistics).
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => softmaxCrossEntropy(model.apply(tf.tensor(x, xShape), { training: true }) as tf.Tensor2D, tf.tensor1d(y, 'int32')), trainable);
    const tfGrads = new Map(trainable.map((v) => [v.name, grads[v.name].dataSync() as Float32Array]));
    // Reset BN statistics the TF.js pass moved, then one ORT step at lr 1.
    model.weights.forEach((w, i) => w.write(tf.tensor(before[i], w.shape as number[])));
    const engine = await createOrtEngine(model, { optimizer: { type: 'sgd', lr: 1 } });
    const w0 = engine.getWeights();
    await engine.trainStep({ x, xShape, y }, 1);
    const w1 = engine.getWeights();
    model.weights.forEach((w, i) => {
      const g = tfGrads.get((w.read() as tf.Variable).name);
      if (!g || c.tfjsWrong) return;
      const ours = w0[i].map((v, j) => v - w1[i][j]);
      // w0 − w1 carries float32 rounding of |w|; allow it on top of a 1e-4 relative gradient error.
      const tol = 1e-4 * maxAbs(g) + 3e-7 * maxAbs(w0[i]) + 1e-7;
      let worst = 0;
      for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(ours[j] - g[j]));
      assert.ok(worst <= tol, `${c.name}: ${w.name} gradient differs by ${worst} (tolerance ${tol})`);
    });
    if (c.fd) {
      // Central differences of the graph's own loss (a step at lr 0 returns the loss, changes nothing).
      engine.setWeights(w0);
      const lossAt = async (ws: Float32Array[]) => {
        engine.setWeights(ws);
        return (await engine.trainStep({ x, xShape, y }, 0)).loss;
      };
      const wi = model.weights.findIndex((w) => w.trainable && w.shape.length === 4);
      const ours = w0[wi].map((v, j) => v - w1[wi][j]);
      for (const j of [0, Math.floor(w0[wi].length / 2), w0[wi].length - 1]) {
        const h = 5e-4; // ReLU kinks and BN curvature bias larger steps; float32 rounding limits smaller ones
        const plus = w0.map((a) => a.slice());
        const minus = w0.map((a) => a.slice());
        plus[wi][j] += h;
        minus[wi][j] -= h;
        const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
        assert.ok(Math.abs(fd - ours[j]) <= 3e-3 + 3e-2 * Math.abs(fd), `${c.name}: finite difference ${fd} vs gradient ${ours[j]} at ${j}`);
      }
    }
    engine.dispose();
    model.dispose();
  }
});
