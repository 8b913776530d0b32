import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { registerWasmGradKernels, runViaCpuFallbackForTest, wasmGradFallbackCount } from '../../src/engine/tfjs/wasm-grads.js';
import { rand } from '../helpers/rand.js';

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** initTf picks the backend once; tests here switch between cpu and wasm themselves. */
async function useWasm(): Promise<void> {
  await initTf('wasm');
  assert.ok(await tf.setBackend('wasm'));
}

type Grad = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor;

/** Gradients of Σ(f(x,w)·r) w.r.t. x and w on `backend`; r makes dy non-uniform. */
async function gradsOn(backend: string, f: Grad, xShape: number[], wShape: number[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(rand(size(xShape), 1), xShape as [number, number, number, number]);
    const w = tf.tensor4d(rand(size(wShape), 2), wShape as [number, number, number, number]);
    const yShape = f(x, w).shape;
    const r = tf.tensor(rand(size(yShape), 3), yShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)));
    return g([x, w]).map((t) => t.dataSync() as Float32Array);
  });
}

function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let mag = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / mag;
}

async function compare(label: string, f: Grad, xShape: number[], wShape: number[]): Promise<number> {
  const ref = await gradsOn('cpu', f, xShape, wShape);
  const got = await gradsOn('wasm', f, xShape, wShape);
  let worst = 0;
  for (let i = 0; i < 2; i++) {
    const d = relDiff(got[i], ref[i]);
    worst = Math.max(worst, d);
    assert.ok(d <= 1e-4, `${label}: ${i === 0 ? 'dx' : 'dw'} relative diff ${d}`);
  }
  return worst;
}

test('wasm backend starts and has the three kernels registered', async () => {
  assert.equal(await initTf('wasm'), 'wasm');
  registerWasmGradKernels(); // idempotent
  for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
    assert.ok(tf.getKernel(k, 'wasm'), k);
  }
});

test('conv2d gradients match the cpu backend', async () => {
  await useWasm();
  const pads: Array<'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]> = [
    'same',
    'valid',
    [[0, 0], [1, 2], [0, 1], [0, 0]],
  ];
  let worst = 0;
  let cases = 0;
  for (const k of [1, 3, 5]) {
    for (const stride of [1, 2]) {
      for (const pad of pads) {
        for (const [n, hw] of [[1, 7], [3, 8]]) {
          if (pad === 'valid' && hw < k) continue;
          const f: Grad = (x, w) => tf.conv2d(x, w, stride, pad as 'same');
          worst = Math.max(worst, await compare(`conv k${k} s${stride} ${JSON.stringify(pad)} n${n} hw${hw}`, f, [n, hw, hw + 1, 3], [k, k, 3, 4]));
          cases++;
        }
      }
    }
  }
  assert.ok(cases >= 30);
  console.log(`conv2d: ${cases} cases, worst relative diff ${worst.toExponential(2)}`);
});

test('depthwise gradients match the cpu backend (multipliers 1 and 2)', async () => {
  await useWasm();
  let worst = 0;
  let cases = 0;
  for (const k of [1, 3, 5]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        for (const [n, hw, mult] of [[1, 7, 1], [3, 8, 2]]) {
          const f: Grad = (x, w) => tf.depthwiseConv2d(x, w, stride, pad);
          worst = Math.max(worst, await compare(`dw k${k} s${stride} ${pad} n${n} hw${hw} m${mult}`, f, [n, hw, hw - 1, 3], [k, k, 3, mult]));
          cases++;
        }
      }
    }
  }
  console.log(`depthwise: ${cases} cases, worst relative diff ${worst.toExponential(2)}`);
});

test('depthwise kernels honour dilation 2 (checked against a zero-expanded 5×5 filter on cpu)', async () => {
  await useWasm();
  const xShape = [2, 9, 8, 3];
  const wv = rand(3 * 3 * 3 * 2, 12);
  // A 3×3 filter at dilation 2 is the 5×5 filter with zeros between taps.
  const wide = new Float32Array(5 * 5 * 3 * 2);
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let i = 0; i < 6; i++) wide[((2 * ky) * 5 + 2 * kx) * 6 + i] = wv[(ky * 3 + kx) * 6 + i];
  await tf.setBackend('cpu');
  const ref = tf.tidy(() => {
    const x = tf.tensor4d(rand(size(xShape), 1), xShape as [number, number, number, number]);
    const r = tf.tensor4d(rand(2 * 9 * 8 * 6, 3), [2, 9, 8, 6]);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), r)));
    return g([x, tf.tensor4d(wide, [5, 5, 3, 2])]).map((t) => t.dataSync() as Float32Array);
  });
  await tf.setBackend('wasm');
  const [dx, dw] = tf.tidy(() => {
    const x = tf.tensor4d(rand(size(xShape), 1), xShape as [number, number, number, number]);
    const dy = tf.tensor4d(rand(2 * 9 * 8 * 6, 3), [2, 9, 8, 6]);
    const attrs = { strides: [1, 1], dilations: [2, 2], pad: 'same' } as const;
    const w = tf.tensor4d(wv, [3, 3, 3, 2]);
    const gx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape }) as tf.Tensor;
    const gw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 2] }) as tf.Tensor;
    return [gx.dataSync() as Float32Array, gw.dataSync() as Float32Array];
  });
  assert.ok(relDiff(dx, ref[0]) <= 1e-4, `dx ${relDiff(dx, ref[0])}`);
  const dwRef = new Float32Array(dw.length);
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let i = 0; i < 6; i++) dwRef[(ky * 3 + kx) * 6 + i] = ref[1][((2 * ky) * 5 + 2 * kx) * 6 + i];
  assert.ok(relDiff(dw, dwRef) <= 1e-4, `dw ${relDiff(dw, dwRef)}`);
});

test('Conv2DBackpropFilter kernel handles NCHW and ceil rounding like cpu', async () => {
  await useWasm();
  const run = async (backend: string, attrs: Record<string, unknown>, xShape: number[], dyShape: number[]) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor(rand(size(xShape), 4), xShape);
      const dy = tf.tensor(rand(size(dyShape), 5), dyShape);
      const out = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as tf.NamedAttrMap) as tf.Tensor;
      return out.dataSync() as Float32Array;
    });
  };
  const nchw = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 5] };
  assert.ok(relDiff(await run('wasm', nchw, [2, 2, 7, 6], [2, 5, 4, 3]), await run('cpu', nchw, [2, 2, 7, 6], [2, 5, 4, 3])) <= 1e-4);
  // pad 1 with ceil: (8 − 3 + 2)/2 + 1 = 4.5 → 5 output rows, the last window hangs off the edge.
  const ceil = { strides: [2, 2], pad: 1, dataFormat: 'NHWC', dimRoundingMode: 'ceil', filterShape: [3, 3, 2, 3] };
  assert.ok(relDiff(await run('wasm', ceil, [1, 8, 8, 2], [1, 5, 5, 3]), await run('cpu', ceil, [1, 8, 8, 2], [1, 5, 5, 3])) <= 1e-4);
});

test('wrapped wasm kernels (Conv2DBackpropInput, transposed BatchMatMul, Tile) match the cpu backend', async () => {
  await useWasm();
  const on = async (backend: string, f: () => tf.Tensor) => {
    await tf.setBackend(backend);
    return tf.tidy(() => f().dataSync() as Float32Array);
  };
  const cases: Array<[string, () => tf.Tensor]> = [
    ['matMul Aᵀ', () => tf.matMul(tf.tensor2d(rand(30, 1), [5, 6]), tf.tensor2d(rand(20, 2), [5, 4]), true, false)],
    ['matMul Bᵀ', () => tf.matMul(tf.tensor2d(rand(30, 1), [6, 5]), tf.tensor2d(rand(20, 2), [4, 5]), false, true)],
    ['batched AᵀBᵀ', () => tf.matMul(tf.tensor3d(rand(60, 3), [2, 5, 6]), tf.tensor3d(rand(40, 4), [2, 4, 5]), true, true)],
    ['conv2dTranspose s2 same', () => tf.conv2dTranspose(tf.tensor4d(rand(2 * 4 * 3 * 5, 5), [2, 4, 3, 5]), tf.tensor4d(rand(3 * 3 * 2 * 5, 6), [3, 3, 2, 5]), [2, 8, 6, 2], 2, 'same')],
    ['conv2dTranspose s2 valid odd', () => tf.conv2dTranspose(tf.tensor4d(rand(1 * 3 * 3 * 4, 7), [1, 3, 3, 4]), tf.tensor4d(rand(3 * 3 * 2 * 4, 8), [3, 3, 2, 4]), [1, 7, 8, 2], 2, 'valid')],
    ['Conv2DBackpropInput NCHW', () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(rand(2 * 5 * 4 * 3, 9), [2, 5, 4, 3]), filter: tf.tensor4d(rand(3 * 3 * 2 * 5, 10), [3, 3, 2, 5]) }, { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', inputShape: [2, 2, 7, 6] }) as tf.Tensor],
    ['Conv2DBackpropInput 1×1', () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(rand(2 * 3 * 3 * 4, 11), [2, 3, 3, 4]), filter: tf.tensor4d(rand(8, 12), [1, 1, 2, 4]) }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', inputShape: [2, 3, 3, 2] }) as tf.Tensor],
    ['tile as broadcast', () => tf.tile(tf.tensor4d(rand(5, 13), [1, 1, 1, 5]), [2, 3, 2, 1])],
    ['tile general', () => tf.tile(tf.tensor2d(rand(6, 14), [2, 3]), [2, 3])],
  ];
  for (const [label, f] of cases) {
    const d = relDiff(await on('wasm', f), await on('cpu', f));
    assert.ok(d <= 1e-5, `${label}: ${d}`);
  }
  await tf.setBackend('wasm');
});

test('cpu fallback path returns the cpu kernel result on wasm', async () => {
  await useWasm();
  const x = tf.tensor(rand(2 * 5 * 5 * 3, 6), [2, 5, 5, 3]);
  const dy = tf.tensor(rand(2 * 5 * 5 * 3, 7), [2, 5, 5, 3]);
  const attrs = { strides: [1, 1], dilations: [1, 1], pad: 'same', filterShape: [3, 3, 3, 1] };
  const before = tf.memory().numTensors;
  const viaCpu = runViaCpuFallbackForTest('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs);
  const viaWasm = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs) as tf.Tensor;
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(relDiff(viaWasm.dataSync() as Float32Array, viaCpu.dataSync() as Float32Array) <= 1e-5);
  tf.dispose([viaCpu, viaWasm]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, dy]);
});

test('gradient kernels leak no tensors', async () => {
  await useWasm();
  const x = tf.tensor4d(rand(2 * 6 * 6 * 4, 8), [2, 6, 6, 4]);
  const w = tf.tensor4d(rand(3 * 3 * 4 * 4, 9), [3, 3, 4, 4]);
  const dw = tf.tensor4d(rand(3 * 3 * 4 * 2, 10), [3, 3, 4, 2]);
  const before = tf.memory().numTensors;
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.add(tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')), tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 2, 'same'))));
  const out = g([x, w, dw]);
  assert.equal(tf.memory().numTensors, before + 3);
  tf.dispose(out);
  tf.dispose([x, w, dw]);
});

test('a tiny conv net trains on wasm: loss decreases', async () => {
  await useWasm();
  tf.util.assert(tf.getBackend() === 'wasm', () => 'wasm expected');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  const n = 16;
  const xs = rand(n * 8 * 8 * 3, 11);
  const labels = new Int32Array(n);
  // Learnable rule: class 1 images are brighter in the first channel.
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 64; p++) xs[i * 192 + p * 3] += labels[i] ? 0.8 : -0.8;
  }
  const x = tf.tensor4d(xs, [n, 8, 8, 3]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
  const opt = tf.train.adam(0.05);
  const losses: number[] = [];
  for (let step = 0; step < 15; step++) {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor), true) as tf.Scalar;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  assert.ok(losses[losses.length - 1] < losses[0] * 0.7, `loss ${losses[0]} → ${losses[losses.length - 1]}`);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
});

test('no kernel call above fell back to the cpu backend', () => {
  assert.equal(wasmGradFallbackCount(), 0);
});
