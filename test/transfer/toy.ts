// Tiny fixtures for the transfer tests: a residual CNN with BatchNorm and named blocks.
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec } from '../../src/zoo/types.js';

type Sym = tf.SymbolicTensor;
const ap = (l: tf.layers.Layer, x: Sym | Sym[]) => l.apply(x) as Sym;

/**
 * input[8,8,3] → stem (conv, bn, relu) → b1 (conv, bn, relu, conv, + shortcut from stem) →
 * b2 (conv, relu) → pool → predictions(4). Blocks: stem, b1, b2.
 */
export function toyResidual(name = 'toy'): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'input' });
  let x = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem_conv' }), input);
  x = ap(tf.layers.batchNormalization({ name: 'stem_bn' }), x);
  const s = ap(tf.layers.activation({ activation: 'relu', name: 'stem_relu' }), x);
  x = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'b1_conv1' }), s);
  x = ap(tf.layers.batchNormalization({ name: 'b1_bn' }), x);
  x = ap(tf.layers.activation({ activation: 'relu', name: 'b1_relu' }), x);
  x = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'b1_conv2' }), x);
  x = ap(tf.layers.add({ name: 'b1_add' }), [s, x]);
  x = ap(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', name: 'b2_conv' }), x);
  x = ap(tf.layers.activation({ activation: 'relu', name: 'b2_relu' }), x);
  x = ap(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const y = ap(tf.layers.dense({ units: 4, activation: 'softmax', name: 'predictions' }), x);
  return tf.model({ inputs: input, outputs: y, name });
}

const OUTPUTS: Record<string, string> = { stem: 'stem_relu', b1: 'b1_add', b2: 'b2_relu' };

export const toySpec = {
  name: 'toy',
  blocks: ['stem', 'b1', 'b2'],
  blockOf: (layer: string) => /^(stem|b1|b2)_/.exec(layer)?.[1],
  blockOutput: (block: string) => OUTPUTS[block],
  featureLayer: 'b2_relu',
} as unknown as ArchitectureSpec;

/** Deterministic input batch. */
export function toyInput(n = 2, shape: number[] = [8, 8, 3]): tf.Tensor {
  const size = n * shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37)), [n, ...shape]);
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Gives BN layers non-trivial moving statistics so inference and training modes differ. */
export function perturbBatchNorm(model: tf.LayersModel): void {
  for (const l of model.layers) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const ws = l.getWeights();
    l.setWeights(ws.map((w, i) => tf.tidy(() => tf.add(w, tf.mul(tf.randomUniform(w.shape, 0, 1, 'float32', 7 + i), i === 3 ? 2 : 0.5)))));
  }
}
