import * as tf from '@tensorflow/tfjs';
import type { FeatureSet } from '../features/feature-set.js';

/**
 * Cosine similarity inside a layers model, built from stock layers that load in plain TF.js and
 * export to ONNX (TF.js 4.22 has no UnitNormalization, and a custom layer would need registering
 * wherever the model is loaded).
 *
 * The trick: for a centred embedding c (d values), z = [c, -c] has mean exactly 0 and variance
 * |c|²/d, so LayerNormalization(z) = z·√d/|c|: the unit vector, scaled. Centring and negation are
 * inference-mode BatchNormalization layers (moving mean μ, variance 1-ε, gamma ±1), which cost d
 * weights each, not the d² of a Dense layer. A Dense layer on top whose kernel is [W; -W]/(2√d)
 * then computes ĉ·W exactly — cosine similarity when W's columns are unit vectors.
 *
 * Centring on the support set's mean embedding before normalising ("CL2N", SimpleShot) matters
 * for ReLU features, which all live in the positive orthant and are otherwise nearly parallel.
 */

/** One row per image: 4-D activations [h, w, c] are averaged over h and w (GlobalAveragePooling2D). */
export function pooledRows(f: FeatureSet): { data: Float32Array; dim: number; n: number } {
  const n = f.labels.length;
  if (f.shape.length === 1) return { data: f.data, dim: f.shape[0]!, n };
  const c = f.shape[f.shape.length - 1]!;
  const spatial = f.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const base = i * spatial * c;
    const o = i * c;
    for (let s = 0; s < spatial; s++) for (let k = 0; k < c; k++) out[o + k] += f.data[base + s * c + k]!;
    for (let k = 0; k < c; k++) out[o + k] /= spatial;
  }
  return { data: out, dim: c, n };
}

/** Mean row. */
export function meanRow(data: Float32Array, dim: number): Float32Array {
  const n = data.length / dim;
  const m = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) m[k] += data[i * dim + k]!;
  for (let k = 0; k < dim; k++) m[k] /= Math.max(1, n);
  return m;
}

/** (row - center) / |row - center| for every row (a zero row stays zero). */
export function centerNormalize(data: Float32Array, dim: number, center: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length / dim; i++) {
    let ss = 0;
    for (let k = 0; k < dim; k++) {
      const v = data[i * dim + k]! - center[k]!;
      out[i * dim + k] = v;
      ss += v * v;
    }
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let k = 0; k < dim; k++) out[i * dim + k]! *= inv;
  }
  return out;
}

const EPS_BN = 1e-3;

/**
 * Applies pooling (for 4-D inputs) → centre → [c, -c] → LayerNormalization to `x`, with fixed
 * weights. Returns the normalised tensor (2·dim wide) and `kernel(W)`, which turns a [dim × m]
 * row-major matrix into the kernel a following Dense layer needs to compute ĉ·W.
 */
export function normalizedEmbedding(x: tf.SymbolicTensor, center: Float32Array, prefix = 'graft_head'): { z: tf.SymbolicTensor; kernel: (w: Float32Array, m: number) => tf.Tensor2D } {
  const dim = center.length;
  let h = x;
  if (x.shape.length === 4) h = tf.layers.globalAveragePooling2d({ name: `${prefix}_pool` }).apply(x) as tf.SymbolicTensor;
  const bn = (name: string, gamma: number) => {
    const layer = tf.layers.batchNormalization({ name, epsilon: EPS_BN, trainable: false });
    const y = layer.apply(h) as tf.SymbolicTensor;
    tf.tidy(() => layer.setWeights([tf.fill([dim], gamma), tf.zeros([dim]), tf.tensor1d(center), tf.fill([dim], 1 - EPS_BN)]));
    return y;
  };
  const pos = bn(`${prefix}_center`, 1);
  const neg = bn(`${prefix}_negate`, -1);
  const cat = tf.layers.concatenate({ name: `${prefix}_pair`, axis: -1 }).apply([pos, neg]) as tf.SymbolicTensor;
  const z = tf.layers.layerNormalization({ name: `${prefix}_l2norm`, epsilon: 1e-12, center: false, scale: false, trainable: false }).apply(cat) as tf.SymbolicTensor;
  const kernel = (w: Float32Array, m: number) => {
    const k = new Float32Array(2 * dim * m);
    const s = 1 / (2 * Math.sqrt(dim));
    for (let i = 0; i < dim * m; i++) {
      k[i] = w[i]! * s;
      k[dim * m + i] = -w[i]! * s;
    }
    return tf.tensor2d(k, [2 * dim, m]);
  };
  return { z, kernel };
}
