import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { exportOnnx } from '../../src/engine/onnx/export.js';
import { ChannelScale, Normalization } from '../../src/zoo/layers.js';
import { preprocess } from '../../src/zoo/preprocess.js';
import type { PreprocessMode } from '../../src/zoo/types.js';
import { parity, randomInput, randomizeWeights, runOnnx } from './onnx-helpers.js';
import { isGraftError } from '../../src/errors.js';

const TOL = 1e-4;
type L = tf.layers.Layer;
const ap = (l: L, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;

/** One-layer-chain model on an [h, w, c] input, weights randomised. */
function chain(shape: number[], layers: L[]): tf.LayersModel {
  const input = tf.input({ shape });
  let x = input;
  for (const l of layers) x = ap(l, x);
  const m = tf.model({ inputs: input, outputs: x });
  randomizeWeights(m, 3);
  return m;
}

async function check(m: tf.LayersModel, what: string, opts = {}): Promise<void> {
  const d = await parity(m, opts);
  assert.ok(d <= TOL, `${what}: max abs diff ${d}`);
}

before(async () => {
  await initTf();
});

test('Conv2D: same padding with stride 2 on odd and even sizes, kernels 1-5, valid, dilation, no bias', async () => {
  for (const size of [7, 8, 9, 10]) {
    for (const k of [1, 2, 3, 4, 5]) {
      await check(chain([size, size, 3], [tf.layers.conv2d({ filters: 4, kernelSize: k, strides: 2, padding: 'same' })]), `same k${k} s2 ${size}px`);
    }
  }
  await check(chain([9, 8, 3], [tf.layers.conv2d({ filters: 5, kernelSize: [3, 2], strides: [2, 1], padding: 'same', useBias: false })]), 'rect kernel, no bias');
  await check(chain([9, 9, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' })]), 'valid s2');
  await check(chain([11, 11, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu6' })]), 'dilation 2 same');
  await check(chain([11, 11, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'valid' })]), 'dilation 2 valid');
});

test('DepthwiseConv2D (multiplier 1 and 2, stride 2 same) and SeparableConv2D', async () => {
  for (const size of [8, 9]) {
    await check(chain([size, size, 3], [tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2 })]), `dw m2 s2 ${size}`);
    await check(chain([size, size, 4], [tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, activation: 'relu6' })]), `dw m1 ${size}`);
  }
  await check(chain([9, 9, 3], [tf.layers.separableConv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu' })]), 'separable');
});

test('BatchNormalization with non-trivial statistics, rank 4 and rank 2', async () => {
  await check(chain([5, 5, 6], [tf.layers.conv2d({ filters: 4, kernelSize: 1 }), tf.layers.batchNormalization({ axis: 3, epsilon: 1e-3 })]), 'bn rank 4');
  await check(chain([6], [tf.layers.dense({ units: 5 }), tf.layers.batchNormalization({ epsilon: 1e-5 })]), 'bn rank 2');
  await check(chain([6, 5], [tf.layers.batchNormalization({ center: false, scale: false })]), 'bn rank 3, no gamma/beta');
});

test('activations: fused and as layers (relu6, swish, elu, sigmoid, tanh, softmax, ReLU max, LeakyReLU)', async () => {
  for (const activation of ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'swish', 'elu', 'linear', 'softplus', 'selu', 'hardSigmoid'] as const) {
    await check(chain([5, 5, 3], [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation })]), `conv + ${activation}`);
    await check(chain([6], [tf.layers.dense({ units: 4, activation })]), `dense + ${activation}`);
  }
  await check(chain([4, 4, 3], [tf.layers.conv2d({ filters: 4, kernelSize: 1 }), tf.layers.activation({ activation: 'softmax' })]), 'activation layer softmax rank 4');
  await check(chain([4, 4, 3], [tf.layers.reLU({ maxValue: 0.3 }), tf.layers.leakyReLU({ alpha: 0.2 }), tf.layers.elu({})]), 'ReLU/LeakyReLU/ELU layers');
  await check(chain([4, 4, 3], [tf.layers.conv2d({ filters: 4, kernelSize: 1 }), tf.layers.softmax({ axis: -1 })]), 'softmax layer');
});

test('pooling: max/avg same/valid (TF excludes padding from averages), global, zero padding', async () => {
  for (const size of [7, 8]) {
    for (const padding of ['same', 'valid'] as const) {
      await check(chain([size, size, 3], [tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding })]), `max ${padding} ${size}`);
      await check(chain([size, size, 3], [tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding })]), `avg ${padding} ${size}`);
    }
  }
  await check(chain([5, 5, 3], [tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' })]), 'avg same s1');
  await check(chain([5, 6, 3], [tf.layers.globalAveragePooling2d({})]), 'gap');
  await check(chain([5, 6, 3], [tf.layers.globalMaxPooling2d({})]), 'gmp');
  await check(chain([5, 6, 3], [tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }), tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 })]), 'zero padding asym');
  await check(chain([5, 6, 3], [tf.layers.zeroPadding2d({ padding: 1 })]), 'zero padding output (NHWC)');
});

test('merges: concat (channel and spatial axes), add, multiply, average, max, min; SE-style broadcast', async () => {
  const input = tf.input({ shape: [6, 6, 3] });
  const a = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), input);
  const b = ap(tf.layers.conv2d({ filters: 4, kernelSize: 1 }), input);
  const c = ap(tf.layers.concatenate({ axis: -1 }), [a, b, input]);
  const d = ap(tf.layers.concatenate({ axis: 2 }), [a, b]);
  const merges = [tf.layers.add({}), tf.layers.multiply({}), tf.layers.average({}), tf.layers.maximum({}), tf.layers.minimum({})].map((l) => ap(l, [a, b]));
  const e = ap(tf.layers.conv2d({ filters: 4, kernelSize: 1 }), a);
  const add3 = ap(tf.layers.add({}), [a, b, e]);
  // Squeeze-and-excitation: [n,1,1,c] gate times [n,h,w,c] (EfficientNet's pattern).
  const gap = ap(tf.layers.globalAveragePooling2d({}), a);
  const gate = ap(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid' }), ap(tf.layers.reshape({ targetShape: [1, 1, 4] }), gap));
  const se = ap(tf.layers.multiply({}), [a, gate]);
  const m = tf.model({ inputs: input, outputs: [c, d, ...merges, add3, se] });
  randomizeWeights(m, 5);
  await check(m, 'merges');
});

test('Flatten keeps NHWC order; Dense, Reshape, Permute, Dropout, Sequential models', async () => {
  await check(chain([5, 4, 3], [tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same' }), tf.layers.flatten(), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 7, activation: 'softmax' })]), 'flatten + dense');
  await check(chain([4, 4, 3], [tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.reshape({ targetShape: [8, 12] }), tf.layers.dense({ units: 3 })]), 'reshape + dense rank 3');
  await check(chain([4, 4, 3], [tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.reshape({ targetShape: [2, 8, 6] }), tf.layers.conv2d({ filters: 2, kernelSize: 2 })]), 'reshape rank 4 then conv');
  await check(chain([4, 5, 3], [tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.permute({ dims: [2, 1, 3] })]), 'permute');
  const seq = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 3 })] });
  randomizeWeights(seq, 9);
  await check(seq, 'sequential');
});

test('Rescaling, zoo Normalization and ChannelScale layers', async () => {
  const m = chain([4, 4, 3], [tf.layers.rescaling({ scale: 1 / 255, offset: 0.1 }), new Normalization({ mean: [0.4, 0.5, 0.6], variance: [0.05, 0.1, 0.2] }), new ChannelScale({ scale: [1, 2, 3] })]);
  // randomizeWeights rewrote mean/variance with other values: also a check that the weights (not the init args) are read.
  await check(m, 'rescaling + normalization + channel scale', {});
  const conv = chain([4, 4, 3], [tf.layers.conv2d({ filters: 3, kernelSize: 1 }), new Normalization({}), tf.layers.rescaling({ scale: 2 })]);
  await check(conv, 'normalization on NCHW values');
});

test('intermediate outputs by layer name; several outputs', async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const a = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'a' }), input);
  const b = ap(tf.layers.globalAveragePooling2d({ name: 'b' }), a);
  const m = tf.model({ inputs: input, outputs: ap(tf.layers.dense({ units: 2, name: 'c' }), b) });
  randomizeWeights(m, 2);
  const d = await parity(m, { outputs: ['a', 'b'] });
  assert.ok(d <= TOL, `cut diff ${d}`);
  assert.throws(() => exportOnnx(m, { outputs: ['nope'] }), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_OUTPUT' && /"nope"/.test(e.message) && /a, b, c/.test(e.message));
});

test('preprocess prefix equals zoo preprocess() for every mode', async () => {
  const m = chain([5, 6, 3], [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' })]);
  const shape = [2, 5, 6, 3];
  const raw = randomInput(shape, 11, 0, 255);
  for (const mode of ['caffe', 'tf', 'torch', 'raw01', 'none'] as PreprocessMode[]) {
    const [got] = await runOnnx(exportOnnx(m, { preprocess: mode }), raw, shape);
    const ref = tf.tidy(() => (m.predict(tf.tensor(preprocess(raw, mode), shape)) as tf.Tensor).dataSync());
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - got.data[i]));
    assert.ok(d <= TOL * 10, `${mode}: ${d}`); // inputs up to ±150 (caffe): allow float rounding of the larger values
  }
});

test('unsupported layers raise E_ONNX_UNSUPPORTED naming the layer and class', () => {
  const m = chain([4, 4, 3], [tf.layers.upSampling2d({ size: [2, 2], name: 'up' })]);
  assert.throws(() => exportOnnx(m), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_UNSUPPORTED' && /"up"/.test(e.message) && /UpSampling2D/.test(e.message));
  const bad = chain([4, 4, 3], [tf.layers.conv2d({ filters: 2, kernelSize: 2, name: 'cg', activation: 'mish' })]);
  assert.throws(() => exportOnnx(bad), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_UNSUPPORTED' && /"cg"/.test(e.message) && /mish/.test(e.message));
});
