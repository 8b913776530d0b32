import type * as tf from '@tensorflow/tfjs';
import { FrozenBackbone } from '../engine/ort.js';
import { splitAt } from '../transfer/surgery.js';
import type { ArchitectureSpec } from '../zoo/types.js';
import type { DatasetItem } from '../data/dataset.js';
import type { Extractor } from './extract.js';
import { cachedExtract, type CachedExtractOptions, type CacheKey } from './cached.js';
import { rowSize, type FeatureSet } from './feature-set.js';

/** Features of the fine-tune recipe's two stages from one backbone pass. */
export interface SharedCut {
  /** The trainable part of stage 2 (input: activations at the fine-tune cut). */
  top: tf.LayersModel;
  /** Images → activations at the fine-tune cut (the frozen part of stage 2). */
  extractor: Extractor;
  key: CacheKey;
  cut: { train: FeatureSet; val: FeatureSet };
  /** Stage 1's (head) features, computed from `cut` through the blocks between the two cuts. */
  head: { train: FeatureSet; val: FeatureSet };
  /** Images that went through the backbone (cache misses). */
  computed: number;
  skipped: { path: string; reason: string }[];
  dispose(): void;
}

/**
 * The fine-tune recipe trains a head on features at the head cut, then the top blocks on
 * activations at the (lower) fine-tune cut. Instead of running the backbone to each cut, this
 * runs it once to the fine-tune cut (cached on disk as before) and computes the head cut's
 * features from those activations with the few frozen blocks in between, compiled for
 * onnxruntime like any frozen part: the second backbone pass over every image is gone.
 *
 * @example
 * const s = await shareFineTuneCut(full, spec, 'block_15_add', 'graft_head_pool', items, key, opts);
 * // s.head.train: pooled features for the head stage; s.cut.train: block_15 activations
 */
export async function shareFineTuneCut(
  full: tf.LayersModel,
  spec: ArchitectureSpec,
  fineTuneCut: string,
  headCut: string,
  data: { train: DatasetItem[]; val: DatasetItem[] },
  key: CacheKey,
  opts: { preprocess: CacheKey['preprocess']; size: [number, number]; cacheDir?: string; onEvent?: CachedExtractOptions['onEvent'] },
): Promise<SharedCut> {
  const lower = splitAt(full, fineTuneCut, spec);
  const between = splitAt(lower.top, headCut, spec);
  const bb = await FrozenBackbone.fromLayersModel(lower.frozen, { preprocess: opts.preprocess, cacheDir: opts.cacheDir });
  const mid = await FrozenBackbone.fromLayersModel(between.frozen, { cacheDir: opts.cacheDir });
  try {
    const extractor: Extractor = { inputSize: opts.size, outputShape: bb.outputShape, run: (x, n) => bb.run(x, n) };
    const t = await cachedExtract(extractor, data.train, key, { cacheDir: opts.cacheDir, label: 'backbone train (fine-tune cut)', onEvent: opts.onEvent });
    const v = await cachedExtract(extractor, data.val, key, { cacheDir: opts.cacheDir, label: 'backbone validation (fine-tune cut)', onEvent: opts.onEvent });
    const head = { train: await through(mid, t.features), val: await through(mid, v.features) };
    mid.dispose();
    return { top: lower.top, extractor, key, cut: { train: t.features, val: v.features }, head, computed: t.computed + v.computed, skipped: [...t.skipped, ...v.skipped], dispose: () => bb.dispose() };
  } catch (e) {
    mid.dispose();
    bb.dispose();
    throw e;
  }
}

/** Runs a frozen part over every row of a feature set, in batches of 64. */
async function through(part: FrozenBackbone, f: FeatureSet): Promise<FeatureSet> {
  const n = f.labels.length;
  const inSize = rowSize(f.shape);
  const outSize = rowSize(part.outputShape);
  const data = new Float32Array(n * outSize);
  for (let i = 0; i < n; i += 64) {
    const m = Math.min(64, n - i);
    data.set((await part.run(f.data.subarray(i * inSize, (i + m) * inSize), m)).subarray(0, m * outSize), i * outSize);
  }
  return { data, shape: part.outputShape.slice(), labels: f.labels, paths: f.paths };
}
