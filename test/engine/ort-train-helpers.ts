import * as tf from '@tensorflow/tfjs';
import type { StepBatch } from '../../src/train/engine.js';
import { rand } from '../helpers/rand.js';

export { rand };

/** Image batch [n, h, w, c] whose class shows as a brighter channel. */
export function images(n: number, h: number, w: number, c: number, classes: number, seed: number): StepBatch {
  const x = rand(n * h * w * c, seed);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = (i * 7 + seed) % classes;
    for (let p = 0; p < h * w; p++) x[(i * h * w + p) * c + (y[i] % c)] += 0.8;
  }
  return { x, xShape: [n, h, w, c], y };
}

export const init = (seed: number) => tf.initializers.glorotUniform({ seed });
type S = tf.SymbolicTensor;

/** MobileNetV2-style inverted residual top: expand → BN → ReLU6 → dw3x3 → BN → ReLU6 → project → BN (+ x) → GAP → Dense. */
export function mobileTop(c: number, classes: number, seed: number, opts: { frozenFirstBn?: boolean; stride2?: boolean } = {}): tf.LayersModel {
  const inp = tf.input({ shape: [6, 6, c] });
  const bn = (name: string) => tf.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-3 });
  let h = tf.layers.conv2d({ filters: 4 * c, kernelSize: 1, useBias: false, name: 'expand', kernelInitializer: init(seed) }).apply(inp) as S;
  const bn1 = bn('expand_BN');
  if (opts.frozenFirstBn) bn1.trainable = false;
  h = bn1.apply(h) as S;
  h = tf.layers.reLU({ maxValue: 6, name: 'expand_relu' }).apply(h) as S;
  h = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'depthwise', depthwiseInitializer: init(seed + 1) }).apply(h) as S;
  h = bn('depthwise_BN').apply(h) as S;
  h = tf.layers.reLU({ maxValue: 6, name: 'depthwise_relu' }).apply(h) as S;
  h = tf.layers.conv2d({ filters: c, kernelSize: 1, useBias: false, name: 'project', kernelInitializer: init(seed + 2) }).apply(h) as S;
  h = bn('project_BN').apply(h) as S;
  h = tf.layers.add({ name: 'add' }).apply([inp, h]) as S;
  h = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as S;
  const out = tf.layers.dense({ units: classes, activation: 'softmax', name: 'head', kernelInitializer: init(seed + 3) }).apply(h) as S;
  return tf.model({ inputs: inp, outputs: out, name: 'mobile_top' });
}

/** Dense head on features: Dense(relu) → Dropout? → Dense(softmax). */
export function denseHead(d: number, classes: number, seed: number, dropout = 0): tf.LayersModel {
  const inp = tf.input({ shape: [d] });
  let h = tf.layers.dense({ units: 12, activation: 'relu', name: 'hidden', kernelInitializer: init(seed) }).apply(inp) as S;
  if (dropout > 0) h = tf.layers.dropout({ rate: dropout, name: 'drop' }).apply(h) as S;
  const out = tf.layers.dense({ units: classes, activation: 'softmax', name: 'head', kernelInitializer: init(seed + 1) }).apply(h) as S;
  return tf.model({ inputs: inp, outputs: out, name: 'dense_head' });
}

/** Largest |a − b| / (largest |a| + floor): one relative error per array. */
export function relErr(a: Float32Array, b: Float32Array, floor = 1e-6): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / (m + floor);
}
