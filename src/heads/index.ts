import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { FeatureSet } from '../features/feature-set.js';
import { knnHead, type KnnOptions } from './knn.js';
import { prototypeHead, type FewShotHead, type PrototypeOptions } from './prototype.js';

export { prototypeHead, computePrototypes, type FewShotHead, type PrototypeOptions } from './prototype.js';
export { knnHead, calibrateKnnScale, type KnnOptions } from './knn.js';
export { pooledRows, centerNormalize } from './normalize.js';

export type HeadKind = 'dense' | 'prototype' | 'knn';
export const FEW_SHOT_HEADS = ['prototype', 'knn'] as const;

export interface FewShotOptions extends PrototypeOptions, KnnOptions {
  /** Neighbours for 'knn' (default 5, at most the support size - 1). */
  k?: number;
}

/**
 * Computes a few-shot head of `kind` from labelled embeddings at the cut (no gradient steps).
 *
 * @example
 * const head = fewShotHead('prototype', trainFeatures, classes.length);
 */
export function fewShotHead(kind: 'prototype' | 'knn', features: FeatureSet, numClasses: number, opts: FewShotOptions = {}): FewShotHead {
  if (kind === 'prototype') return prototypeHead(features, numClasses, opts);
  if (kind === 'knn') return knnHead(features, opts.k ?? 5, numClasses, opts);
  throw new GraftError('E_HEAD_KIND', `Unknown few-shot head. Received: head=${String(kind)}.`, `Should be one of: ${FEW_SHOT_HEADS.join(', ')} (or 'dense' for a trained head).`);
}

/**
 * The full model: `base` (a backbone cut at the layer the features came from) → the few-shot head.
 * Takes either a computed head, or a kind plus the support features.
 *
 * @example
 * const base = cutModel(created.model, spec.featureLayer, spec);
 * const model = buildHeadModel(base, 'prototype', trainFeatures, { numClasses: 10 });
 * await saveModelDir(out, { model, manifest, ... }); // model.json + model.onnx as usual
 */
export function buildHeadModel(base: tf.LayersModel, head: FewShotHead | 'prototype' | 'knn', features?: FeatureSet, opts: FewShotOptions & { numClasses?: number } = {}): tf.LayersModel {
  let h: FewShotHead;
  if (typeof head === 'string') {
    if (!features) throw new GraftError('E_HEAD_NO_DATA', `buildHeadModel(base, '${head}') needs the support features.`, 'Pass the training features at the cut.');
    h = fewShotHead(head, features, opts.numClasses ?? Math.max(...features.labels) + 1, opts);
  } else h = head;
  if (base.outputs.length !== 1) throw new GraftError('E_HEAD_INPUT', `A head goes on a model with one output; "${base.name}" has ${base.outputs.length}.`, 'Cut the base at a single layer first (cutModel).');
  const out = base.outputs[0]!;
  const got = out.shape.slice(1).join(',');
  if (got !== h.inputShape.join(',')) {
    throw new GraftError('E_HEAD_INPUT', `The ${h.kind} head was computed from features of shape [${h.inputShape.join(', ')}], but "${base.name}" outputs [${out.shape.slice(1).join(', ')}].`, 'Compute the features at the same cut and input size as the base model.');
  }
  return tf.model({ inputs: base.inputs, outputs: h.apply(out), name: `${base.name}_graft_${h.kind}` });
}

/**
 * The head alone, taking cut activations as input: evaluates a few-shot head on cached features
 * (as `engine.predict` does for a trained head).
 *
 * @example
 * const probs = headOnlyModel(head).predict(tf.tensor(testFeatures.data, [n, ...testFeatures.shape]));
 */
export function headOnlyModel(head: FewShotHead): tf.LayersModel {
  const x = tf.input({ shape: head.inputShape, name: 'graft_head_input' });
  return tf.model({ inputs: x, outputs: head.apply(x), name: `graft_${head.kind}_head` });
}

/** Class probabilities for cached features, row-major [n × classes], in batches. */
export function predictHead(model: tf.LayersModel, f: FeatureSet, batchSize = 128): Float32Array {
  const n = f.labels.length;
  const d = f.shape.reduce((a, b) => a * b, 1);
  const classes = model.outputs[0]!.shape[1] as number;
  const out = new Float32Array(n * classes);
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const p = tf.tidy(() => (model.predict(tf.tensor(f.data.subarray(s * d, (s + m) * d), [m, ...f.shape])) as tf.Tensor).dataSync());
    out.set(p, s * classes);
  }
  return out;
}
