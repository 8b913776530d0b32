import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { FeatureSet } from '../features/feature-set.js';
import { centerNormalize, meanRow, normalizedEmbedding, pooledRows } from './normalize.js';
import type { FewShotHead } from './prototype.js';

export interface KnnOptions {
  /** Centre embeddings on the support mean before normalising (default true). */
  center?: boolean;
  /** Fix the softmax scale over neighbours instead of calibrating it to `k`. */
  scale?: number;
}

/** Perplexity (effective number of neighbours) of softmax(scale · sims), self excluded. */
function meanPerplexity(sims: Float32Array, n: number, scale: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (j !== i) max = Math.max(max, sims[i * n + j]!);
    let z = 0;
    let ez = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const a = scale * (sims[i * n + j]! - max);
      const e = Math.exp(a);
      z += e;
      ez += e * a;
    }
    const entropy = Math.log(z) - ez / z;
    total += Math.exp(entropy);
  }
  return total / n;
}

/**
 * The softmax scale at which each support embedding's soft neighbourhood among the others has, on
 * average, perplexity `k` — i.e. weights spread over about k neighbours (bisection in log-scale).
 */
export function calibrateKnnScale(unit: Float32Array, dim: number, k: number): number {
  const n = unit.length / dim;
  if (n < 3) return 50;
  const target = Math.min(k, n - 1);
  const sims = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let q = 0; q < dim; q++) s += unit[i * dim + q]! * unit[j * dim + q]!;
      sims[i * n + j] = s;
      sims[j * n + i] = s;
    }
  }
  let lo = Math.log(0.1);
  let hi = Math.log(2000);
  for (let it = 0; it < 40; it++) {
    const mid = (lo + hi) / 2;
    // Perplexity falls as the scale grows.
    if (meanPerplexity(sims, n, Math.exp(mid)) > target) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * A k-nearest-neighbours head over the support embeddings, as stock layers so it saves and exports
 * like any head: normalisation (see normalize.ts) → Dense(N, softmax) whose kernel holds the N
 * normalised training embeddings times a scale → Dense(classes, no bias) whose kernel is the
 * one-hot label matrix, so a class's probability is the summed weight of its neighbours.
 *
 * This is a *soft* kNN. An exact top-k vote has no equivalent in TF.js layers or in the ONNX ops
 * the exporter writes, so the softmax scale is calibrated on the support set until each embedding's
 * weights spread over about `k` of the others (mean perplexity = k, as in t-SNE). With k = 1 it
 * behaves like 1-NN; ties and far tails differ from a hard vote. The model grows with the support
 * set (N × 2·dim weights): fine for few-shot, not for 100k images.
 *
 * @example
 * const head = knnHead(trainFeatures, 5);
 * const model = buildHeadModel(base, head);
 */
export function knnHead(features: FeatureSet, k: number, numClasses?: number, opts: KnnOptions = {}): FewShotHead {
  if (!Number.isInteger(k) || k < 1) throw new GraftError('E_HEAD_K', `k must be a positive integer. Received: k=${k}.`, 'E.g. k: 5.');
  const classes = numClasses ?? Math.max(...features.labels) + 1;
  const n = features.labels.length;
  if (n === 0) throw new GraftError('E_HEAD_NO_DATA', 'A kNN head needs labelled embeddings; received none.', 'Pass the training features.');
  const { data, dim } = pooledRows(features);
  const center = opts.center ?? true;
  const mu = center ? meanRow(data, dim) : new Float32Array(dim);
  const unit = centerNormalize(data, dim, mu);
  const scale = opts.scale ?? calibrateKnnScale(unit, dim, k);
  const w = new Float32Array(dim * n); // [dim × N], column j = embedding j · scale
  for (let j = 0; j < n; j++) for (let q = 0; q < dim; q++) w[q * n + j] = unit[j * dim + q]! * scale;
  const onehot = new Float32Array(n * classes);
  for (let j = 0; j < n; j++) onehot[j * classes + features.labels[j]!] = 1;
  return {
    kind: 'knn',
    inputShape: [...features.shape],
    numClasses: classes,
    config: { kind: 'knn', k, scale, center, support: n, approximation: 'soft kNN: softmax over all support embeddings, scale calibrated to perplexity k' },
    apply(x) {
      const { z, kernel } = normalizedEmbedding(x, mu);
      const nb = tf.layers.dense({ units: n, activation: 'softmax', useBias: false, name: 'graft_head_neighbours', trainable: false });
      const vote = tf.layers.dense({ units: classes, activation: 'linear', useBias: false, name: 'graft_head_predictions', trainable: false });
      const y = vote.apply(nb.apply(z)) as tf.SymbolicTensor;
      tf.tidy(() => {
        nb.setWeights([kernel(w, n)]);
        vote.setWeights([tf.tensor2d(onehot, [n, classes])]);
      });
      return y;
    },
  };
}
