import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { FeatureSet } from '../features/feature-set.js';
import { centerNormalize, meanRow, normalizedEmbedding, pooledRows } from './normalize.js';

/** A head computed from labelled embeddings in one pass, without gradient training. */
export interface FewShotHead {
  kind: 'prototype' | 'knn';
  /** Shape of one input row (the cut activation: [d] or [h, w, c]). */
  inputShape: number[];
  numClasses: number;
  /** Adds the head's layers (weights set) on `x`; returns class probabilities. Call once per model. */
  apply(x: tf.SymbolicTensor): tf.SymbolicTensor;
  /** What graft.json's `head` records about it. */
  config: Record<string, unknown>;
}

export interface PrototypeOptions {
  /** Softmax scale on cosine similarity (inverse temperature). Default 10. */
  scale?: number;
  /** Centre embeddings on the support mean before normalising (default true). */
  center?: boolean;
}

function checkSupport(f: FeatureSet, numClasses: number, what: string): void {
  if (f.labels.length === 0) throw new GraftError('E_HEAD_NO_DATA', `A ${what} head needs labelled embeddings; received none.`, 'Pass the training features (extractFeatures / cachedExtract).');
  const counts = new Array(numClasses).fill(0);
  for (const l of f.labels) {
    if (!(l >= 0 && l < numClasses)) throw new GraftError('E_LABEL', `Label ${l} is outside 0..${numClasses - 1}. Received: numClasses=${numClasses}.`);
    counts[l]++;
  }
  const empty = counts.map((c, i) => (c === 0 ? i : -1)).filter((i) => i >= 0);
  if (empty.length > 0) throw new GraftError('E_HEAD_EMPTY_CLASS', `A ${what} head needs at least one example per class; none for class index(es) ${empty.join(', ')}.`, 'Add an image of every class.');
}

/**
 * Class prototypes: the mean of each class's centred, L2-normalised embeddings, normalised again.
 * Returns them row-major [numClasses × dim], plus the centre used.
 */
export function computePrototypes(f: FeatureSet, numClasses: number, center = true): { prototypes: Float32Array; center: Float32Array; dim: number } {
  checkSupport(f, numClasses, 'prototype');
  const { data, dim } = pooledRows(f);
  const mu = center ? meanRow(data, dim) : new Float32Array(dim);
  const unit = centerNormalize(data, dim, mu);
  const sums = new Float32Array(numClasses * dim);
  for (let i = 0; i < f.labels.length; i++) {
    const c = f.labels[i]!;
    for (let k = 0; k < dim; k++) sums[c * dim + k] += unit[i * dim + k]!;
  }
  return { prototypes: centerNormalize(sums, dim, new Float32Array(dim)), center: mu, dim };
}

/**
 * A prototype (nearest-class-mean) head: softmax(scale · cos(x, p_c)) over classes, where p_c is
 * class c's mean normalised embedding. It is stock TF.js layers — [GlobalAveragePooling2D] →
 * BatchNormalization ×2 + Concatenate + LayerNormalization (L2 normalisation, see normalize.ts) →
 * Dense(classes, softmax) with the normalised prototypes as kernel — so it saves as model.json and
 * exports to ONNX like a trained head. The argmax is exactly the cosine-nearest prototype.
 *
 * @example
 * const feats = (await cachedExtract(ex, items, key)).features;
 * const head = prototypeHead(feats, classes.length);
 * const model = buildHeadModel(base, head); // base: the backbone cut at the feature layer
 */
export function prototypeHead(features: FeatureSet, numClasses: number, opts: PrototypeOptions = {}): FewShotHead {
  const scale = opts.scale ?? 10;
  if (!(scale > 0)) throw new GraftError('E_HEAD_SCALE', `The prototype head's scale must be > 0. Received: scale=${scale}.`, 'E.g. scale: 10.');
  const { prototypes, center, dim } = computePrototypes(features, numClasses, opts.center ?? true);
  // Dense kernel is [dim × classes]: column c is prototype c, times the softmax scale.
  const w = new Float32Array(dim * numClasses);
  for (let c = 0; c < numClasses; c++) for (let k = 0; k < dim; k++) w[k * numClasses + c] = prototypes[c * dim + k]! * scale;
  return {
    kind: 'prototype',
    inputShape: [...features.shape],
    numClasses,
    config: { kind: 'prototype', scale, center: opts.center ?? true, support: features.labels.length },
    apply(x) {
      const { z, kernel } = normalizedEmbedding(x, center);
      const dense = tf.layers.dense({ units: numClasses, activation: 'softmax', name: 'graft_head_predictions', trainable: false });
      const y = dense.apply(z) as tf.SymbolicTensor;
      tf.tidy(() => dense.setWeights([kernel(w, numClasses), tf.zeros([numClasses])]));
      return y;
    },
  };
}
