import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { FeatureSet } from '../features/feature-set.js';
import { meanCov, regularize, sqrtm } from './linalg.js';

/**
 * CORAL (Sun, Feng & Saenko 2016), closed form, folded into the head.
 *
 * The paper whitens the source features and recolours them with the target covariance, then
 * retrains the classifier. Here the trained head stays and the target is moved instead: target
 * features are whitened with the target covariance and recoloured with the source covariance,
 * their mean moved onto the source mean:
 *
 *   f' = (f − μt) · A + μs,   A = Ct^−½ · Cs^½   (row vectors; C + λ·tr(C)/d·I for stability)
 *
 * That map is affine, so it folds into the head's first Dense layer (y = f'W + b):
 *
 *   W' = A·W,   b' = b + (μs − μt·A)·W
 *
 * and the adapted model has exactly the original layers: stock TF.js and ONNX export unchanged.
 */
export interface CoralOptions {
  /** Shrinkage towards the identity, relative to the mean variance. Default 1 (the paper's λ=1 on standardised features). */
  lambda?: number;
}

export interface CoralResult {
  /** Layer whose weights were rewritten. */
  layer: string;
  dims: number;
  sourceCount: number;
  targetCount: number;
  /** ‖Cs − Ct‖²_F / (4d²) before, and of the mapped target after (the Deep CORAL loss). */
  coralLossBefore: number;
  coralLossAfter: number;
}

/** Pooled (2-D) rows of a feature set: vectors are kept, [h, w, c] maps are averaged over space. */
export function pooled(f: FeatureSet): { data: Float32Array; n: number; d: number } {
  const n = f.labels.length;
  if (f.shape.length === 1) return { data: f.data, n, d: f.shape[0]! };
  const c = f.shape.at(-1)!;
  const hw = f.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) out[i * c + k]! += f.data[(i * hw + p) * c + k]!;
    for (let k = 0; k < c; k++) out[i * c + k]! /= hw;
  }
  return { data: out, n, d: c };
}

function coralLoss(a: Float64Array, b: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / (4 * d * d);
}

/**
 * The first Dense layer the features reach in `top` (features → probabilities), passing only
 * through layers that act as the identity at inference (Dropout). Anything else between (a
 * normalisation, a prototype head's centring) would break the fold, so it is an error.
 */
export function firstDense(top: tf.LayersModel): tf.layers.Layer {
  for (const l of top.layers) {
    const cls = l.getClassName();
    if (cls === 'InputLayer' || cls === 'Dropout') continue;
    if (cls === 'Dense') return l;
    throw new GraftError('E_CORAL_HEAD', `CORAL folds its feature map into the head's first Dense layer, but the features reach a ${cls} layer ("${l.name}") first.`, "Use a dense head (graft train --head dense), or method 'adabn', 'pseudo-label' or 'dann'.");
  }
  throw new GraftError('E_CORAL_HEAD', `The head of model "${top.name}" has no Dense layer to fold CORAL into.`);
}

/**
 * Align target features with the source's second-order statistics and fold the map into the
 * head's first Dense layer (in place: `top` shares its layers with the full model).
 *
 * @example
 * const { top } = splitAt(model, 'graft_head_pool');
 * coralFold(top, sourceFeatures, targetFeatures, { lambda: 1 });
 */
export function coralFold(top: tf.LayersModel, source: FeatureSet, target: FeatureSet, o: CoralOptions = {}): CoralResult {
  const lambda = o.lambda ?? 1;
  if (!(lambda > 0)) throw new GraftError('E_CORAL_LAMBDA', `CORAL's shrinkage lambda must be > 0. Received: lambda=${lambda}.`, 'E.g. 1.');
  const dense = firstDense(top);
  const s = pooled(source);
  const t = pooled(target);
  if (s.n < 2 || t.n < 2) throw new GraftError('E_CORAL_DATA', `CORAL needs at least 2 source and 2 target images. Received: ${s.n} source, ${t.n} target.`);
  const d = s.d;
  const [kernel, bias] = dense.getWeights();
  if (kernel!.shape[0] !== d) throw new GraftError('E_CORAL_HEAD', `Dense layer "${dense.name}" takes ${kernel!.shape[0]} inputs; the features have ${d}.`);
  const ms = meanCov(s.data, s.n, d);
  const mt = meanCov(t.data, t.n, d);
  const cs = regularize(ms.cov, d, lambda);
  const ct = regularize(mt.cov, d, lambda);
  const csRoot = sqrtm(cs, d).sqrt;
  const ctInv = sqrtm(ct, d).invSqrt;
  let after = new Float64Array(0);
  const [w2, b2] = tf.tidy(() => {
    const A = tf.matMul(tf.tensor2d(ctInv, [d, d]), tf.tensor2d(csRoot, [d, d]));
    const W = kernel as tf.Tensor2D;
    const W2 = tf.matMul(A, W);
    const shift = tf.sub(tf.tensor2d(Float32Array.from(ms.mean), [1, d]), tf.matMul(tf.tensor2d(Float32Array.from(mt.mean), [1, d]), A));
    const b = bias ?? tf.zeros([W.shape[1]]);
    const B2 = tf.add(b, tf.reshape(tf.matMul(shift, W), [W.shape[1]]));
    // Covariance of the mapped target, A^T Ct A, for the report.
    const ctA = tf.matMul(tf.matMul(A, tf.tensor2d(Float32Array.from(mt.cov), [d, d]), true, false), A);
    after = Float64Array.from(ctA.dataSync() as Float32Array);
    return [W2, B2];
  });
  dense.setWeights(bias ? [w2, b2] : [w2]);
  tf.dispose([w2, b2]);
  return { layer: dense.name, dims: d, sourceCount: s.n, targetCount: t.n, coralLossBefore: coralLoss(ms.cov, mt.cov, d), coralLossAfter: coralLoss(ms.cov, after, d) };
}
