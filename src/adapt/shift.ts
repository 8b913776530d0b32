import { GraftError } from '../errors.js';
import { DEFAULTS } from '../env.js';
import { initTf } from '../engine/tfjs/backend.js';
import { isGraftModelDir } from '../backbones/graft-dir.js';
import { cachedExtract } from '../features/cached.js';
import { openBackbone, backboneKind, pooledAt } from '../backbones/index.js';
import type { PreprocessMode } from '../zoo/types.js';
import type { FeatureSet } from '../features/feature-set.js';
import { listModels } from '../zoo/registry.js';
import { confidenceStats, FeatureExtractor, loadAdaptContext, predictTop, sample, splitAtFeatures, unlabeledItems, type ConfidenceStats } from './common.js';
import { pooled } from './coral.js';
import { domainClassifierAccuracy, mmdPermutationTest } from './stats.js';

export interface ShiftOptions {
  /** Permutations of the MMD test. Default 200. */
  permutations?: number;
  seed?: number;
  /** Significance level of the MMD test. Default 0.05. */
  alpha?: number;
  /** Held-out domain-classifier accuracy from which the folders count as separable. Default 0.6. */
  separable?: number;
  /** Top-1 probability below which a prediction counts as unsure (confidence drift). Default 0.5. */
  threshold?: number;
  /** At most this many images per folder (seeded sample). Default 500. */
  maxImages?: number;
  /** Weights of a zoo backbone (ignored for a model directory). Default 'nsfwjs'. */
  weights?: string;
  /** Preprocessing of an ONNX backbone (default 'torch'). */
  preprocess?: PreprocessMode;
  inputSize?: number;
  cacheDir?: string;
}

export type ShiftVerdict = 'no detectable shift' | 'shift: adapt before deploying';

export interface ShiftReport {
  embedder: string;
  counts: { a: number; b: number };
  dims: number;
  mmd: number;
  pValue: number;
  bandwidth: number;
  permutations: number;
  domainClassifierAccuracy: number;
  confidenceDrift?: { a: ConfidenceStats; b: ConfidenceStats; meanDrop: number };
  verdict: ShiftVerdict;
  /** The rule the verdict follows, with this run's numbers. */
  rule: string;
  skipped: { path: string; reason: string }[];
}

/**
 * Is folder B distributed like folder A? Embeds both (a model directory's own features, or a zoo
 * backbone's pooled features, on onnxruntime) and reports:
 * - MMD² (RBF kernel, median-heuristic bandwidth, unbiased) with a permutation p-value,
 * - a domain classifier's held-out accuracy (logistic regression, balanced, 50/50 split),
 * - with a model directory, the confidence drift: mean top-1 probability on A and on B, and the
 *   fraction below `threshold`,
 * and a verdict: "shift: adapt before deploying" when p < alpha AND the classifier separates the
 * folders (accuracy ≥ `separable`); a significant but inseparable difference is not worth adapting.
 *
 * @example
 * const r = await shiftReport('my-model', 'photos/day', 'photos/night');
 * console.log(r.verdict, r.pValue, r.domainClassifierAccuracy);
 */
export async function shiftReport(modelOrBackbone: string, folderA: string, folderB: string, o: ShiftOptions = {}): Promise<ShiftReport> {
  await initTf();
  const seed = o.seed ?? 42;
  const max = o.maxImages ?? 500;
  const itemsA = sample(unlabeledItems(folderA, 'first'), max, seed, 'shift-a');
  const itemsB = sample(unlabeledItems(folderB, 'second'), max, seed, 'shift-b');
  let fa: FeatureSet;
  let fb: FeatureSet;
  let drift: ShiftReport['confidenceDrift'];
  const skipped: ShiftReport['skipped'] = [];
  if (isGraftModelDir(modelOrBackbone)) {
    const ctx = await loadAdaptContext(modelOrBackbone);
    const split = splitAtFeatures(ctx);
    const ex = await FeatureExtractor.create(split.frozen, ctx.manifest, ctx.featureLayer, o.cacheDir);
    try {
      const ra = await ex.extract(itemsA, 'embed A');
      const rb = await ex.extract(itemsB, 'embed B');
      fa = ra.features;
      fb = rb.features;
      skipped.push(...ra.skipped, ...rb.skipped);
    } finally {
      ex.dispose();
    }
    const k = ctx.manifest.classes.length;
    const ca = confidenceStats(predictTop(split.top, fa), k, o.threshold ?? 0.5);
    const cb = confidenceStats(predictTop(split.top, fb), k, o.threshold ?? 0.5);
    drift = { a: ca, b: cb, meanDrop: ca.meanMaxProb - cb.meanMaxProb };
    ctx.model.dispose();
  } else {
    const names = listModels().map((m) => m.name);
    if (backboneKind(modelOrBackbone) === 'zoo' && !names.includes(modelOrBackbone)) {
      throw new GraftError('E_SHIFT_EMBEDDER', `The first argument must be a Graft model directory, a zoo backbone or a .onnx file. Received: ${modelOrBackbone}.`, `Zoo backbones: ${names.join(', ')}.`);
    }
    // A zoo or ONNX backbone: its pooled features at its feature layer (or the graph's output).
    const bb = await openBackbone(modelOrBackbone, { weights: backboneKind(modelOrBackbone) === 'zoo' ? (o.weights ?? DEFAULTS.weights) : undefined, preprocess: o.preprocess, inputSize: o.inputSize, cacheDir: o.cacheDir });
    try {
      const ex = bb.extractor({ pooling: 'avg' });
      const key = bb.cacheKey(pooledAt(bb.cut, 'avg'));
      const ra = await cachedExtract(ex, itemsA, key, { cacheDir: o.cacheDir, label: 'embed A' });
      const rb = await cachedExtract(ex, itemsB, key, { cacheDir: o.cacheDir, label: 'embed B' });
      fa = ra.features;
      fb = rb.features;
      skipped.push(...ra.skipped, ...rb.skipped);
    } finally {
      bb.dispose();
    }
  }
  const a = pooled(fa);
  const b = pooled(fb);
  if (a.n < 4 || b.n < 4) throw new GraftError('E_SHIFT_SMALL', `A shift test needs at least 4 readable images per folder. Received: ${a.n} and ${b.n}.`, 'Add images (50+ per folder gives a useful test).');
  const permutations = o.permutations ?? 200;
  const mmd = mmdPermutationTest(a.data, a.n, b.data, b.n, a.d, permutations, seed);
  const dc = domainClassifierAccuracy(a.data, a.n, b.data, b.n, a.d, seed);
  const alpha = o.alpha ?? 0.05;
  const sep = o.separable ?? 0.6;
  const shifted = mmd.pValue < alpha && dc.accuracy >= sep;
  const rule = `shift when the MMD permutation p-value < ${alpha} AND the held-out domain classifier accuracy >= ${sep}; here p = ${mmd.pValue.toFixed(4)}, accuracy = ${dc.accuracy.toFixed(3)}`;
  return {
    embedder: modelOrBackbone,
    counts: { a: a.n, b: b.n },
    dims: a.d,
    mmd: mmd.mmd2,
    pValue: mmd.pValue,
    bandwidth: mmd.bandwidth,
    permutations,
    domainClassifierAccuracy: dc.accuracy,
    confidenceDrift: drift,
    verdict: shifted ? 'shift: adapt before deploying' : 'no detectable shift',
    rule,
    skipped,
  };
}
