import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { initTf } from '../engine/tfjs/backend.js';
import { FrozenBackbone, layersModelHash } from '../engine/ort.js';
import { cacheKeyOf, frozenExtractor } from '../backbones/index.js';
import type { Extractor } from '../features/extract.js';
import type { CacheKey } from '../features/cached.js';
import type { GraftManifest } from '../io/manifest.js';
import { loadModelDir } from '../io/model-dir.js';
import { expandInputs } from '../data/inputs.js';
import { cachedExtract } from '../features/cached.js';
import type { FeatureSet } from '../features/feature-set.js';
import type { DatasetItem } from '../data/dataset.js';
import { findSplitFolders, loadDataset, alignClasses } from '../data/dataset.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { splitAt, modelGraph, type Split } from '../transfer/surgery.js';
import { HEAD_LAYER_NAMES } from '../transfer/head.js';
import { getModelSpec, listModels } from '../zoo/registry.js';
import type { ArchitectureSpec } from '../zoo/types.js';

/** A loaded model directory, split where adaptation works on it. */
export interface AdaptContext {
  dir: string;
  model: tf.LayersModel;
  manifest: GraftManifest;
  spec?: ArchitectureSpec;
  /**
   * Layer whose output the head-side methods work on: the head's pooling layer when the head
   * pools (pooled vectors are what the head's first Dense sees), else graft.json's cut.
   */
  featureLayer: string;
}

/**
 * Load a model directory for adaptation.
 *
 * @example
 * const ctx = await loadAdaptContext('my-model');
 * ctx.featureLayer; // 'graft_head_pool'
 */
export async function loadAdaptContext(modelDir: string): Promise<AdaptContext> {
  await initTf();
  const { model, manifest } = await loadModelDir(modelDir);
  if (manifest.files.tfjsInput === 'features') {
    model.dispose();
    throw new GraftError('E_ADAPT_ONNX_BACKBONE', `${modelDir} was trained on an ONNX backbone: its model.json is the head only, and onnxruntime cannot update the frozen graph's statistics.`, 'Adapt a model trained on a zoo backbone, or train on a zoo backbone (graft models) to adapt.');
  }
  const names = new Set(model.layers.map((l) => l.name));
  const zoo = listModels().map((m) => m.name);
  const spec = zoo.includes(manifest.backbone.name) ? getModelSpec(manifest.backbone.name) : undefined;
  const featureLayer = names.has(HEAD_LAYER_NAMES.pool) ? HEAD_LAYER_NAMES.pool : manifest.backbone.cut;
  return { dir: path.resolve(modelDir), model, manifest, spec, featureLayer };
}

/** Split the context's model at its feature layer (frozen part → features; top → probabilities). */
export function splitAtFeatures(ctx: AdaptContext): Split {
  return splitAt(ctx.model, ctx.featureLayer, ctx.spec);
}

/** The symbolic output of `layer` in `model`'s own graph (safe after splitAt added nodes). */
export function layerTensor(model: tf.LayersModel, layer: string): tf.SymbolicTensor {
  const t = modelGraph(model).tensorsByLayer.get(layer);
  if (!t || t.length !== 1) throw new GraftError('E_ADAPT_LAYER', `Layer "${layer}" is not a single tensor of model "${model.name}".`);
  return t[0]!;
}

/**
 * Unlabelled images of a folder (recursively), as items with label -1 — sorted, so runs repeat.
 * An empty or missing folder is an error.
 */
export function unlabeledItems(folder: string, what = 'target'): DatasetItem[] {
  const { images, missing } = expandInputs([folder]);
  if (missing.length > 0 || images.length === 0) {
    throw new GraftError('E_ADAPT_NO_IMAGES', `The ${what} folder must hold images (searched recursively). Received: ${folder} (${missing.length ? 'not found' : 'no images'}).`, 'Pass a folder of unlabelled images of the new domain.');
  }
  return images.map((p) => ({ path: path.resolve(p), label: 0 }));
}

/**
 * The labelled source images: `source` if given, else graft.json's dataset.root (its train/ split
 * when it has one), re-labelled by the model's classes.
 */
export function sourceItems(manifest: GraftManifest, source?: string): { root: string; items: DatasetItem[] } {
  const root = source ?? manifest.dataset.root;
  if (!fs.existsSync(root)) {
    throw new GraftError('E_ADAPT_NO_SOURCE', `The source images are needed and were not found at ${root}${source ? '' : " (graft.json's dataset.root)"}.`, 'Pass --source <folder> with the labelled training images (one sub-folder per class).');
  }
  const split = findSplitFolders(root);
  const ds = alignClasses(loadDataset(split?.train ?? root, { minClasses: 1 }), manifest.classes, 'source');
  return { root: split?.train ?? root, items: ds.items };
}

/** At most `n` items, a seeded random subset in original order (keeps adaptation time bounded). */
export function sample<T>(items: T[], n: number | undefined, seed: number, purpose: string): T[] {
  if (n === undefined || items.length <= n) return items;
  const idx = new Rng(deriveSeed(seed, purpose)).shuffle(items.map((_, i) => i)).slice(0, n).sort((a, b) => a - b);
  return idx.map((i) => items[i]!);
}

/**
 * Activations of `frozen` (part of a loaded, possibly adapted, model: image → features) on
 * onnxruntime, through the feature cache. The key hashes the weights in memory, so an adapted
 * model never reads the features of the model it came from.
 */
export class FeatureExtractor {
  private constructor(
    private ex: Extractor,
    private key: CacheKey,
    private owned: FrozenBackbone[],
    private cacheDir?: string,
  ) {}

  static async create(frozen: tf.LayersModel, manifest: GraftManifest, cut: string, cacheDir?: string): Promise<FeatureExtractor> {
    const size = [manifest.inputSize[0], manifest.inputSize[1]] as [number, number];
    const owned: FrozenBackbone[] = [];
    const ex = frozenExtractor(frozen, size, { preprocess: manifest.preprocess, cacheDir }, () => {}, (b) => owned.push(b));
    const key = cacheKeyOf(`graft:${manifest.backbone.name}`, layersModelHash(frozen, { preprocess: manifest.preprocess }), cut, manifest.preprocess, size);
    return new FeatureExtractor(ex, key, owned, cacheDir);
  }

  get outputShape(): number[] {
    return [...this.ex.outputShape];
  }

  /** Features of `items`, in order; unreadable files are skipped and listed. */
  async extract(items: DatasetItem[], label: string): Promise<{ features: FeatureSet; skipped: { path: string; reason: string }[] }> {
    const r = await cachedExtract(this.ex, items, this.key, { cacheDir: this.cacheDir, label });
    return { features: r.features, skipped: r.skipped };
  }

  dispose(): void {
    for (const b of this.owned.splice(0)) b.dispose();
  }
}

/** Class probabilities of `top` (features → probabilities) for every row, inference mode. */
export function predictTop(top: tf.LayersModel, f: FeatureSet, batchSize = 256): Float32Array {
  const d = f.shape.reduce((a, b) => a * b, 1);
  const n = f.labels.length;
  const parts: Float32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const out = tf.tidy(() => (top.predict(tf.tensor(f.data.subarray(s * d, (s + m) * d), [m, ...f.shape])) as tf.Tensor).dataSync() as Float32Array);
    parts.push(out.slice());
  }
  const k = parts.length ? parts[0]!.length / Math.min(batchSize, n) : 0;
  const all = new Float32Array(n * k);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

/** Mean top-1 probability, and the fraction of rows whose top-1 probability is below `threshold`. */
export interface ConfidenceStats {
  count: number;
  meanMaxProb: number;
  fractionBelow: number;
  threshold: number;
}

export function confidenceStats(probs: Float32Array, k: number, threshold = 0.5): ConfidenceStats {
  const n = probs.length / k;
  let sum = 0;
  let below = 0;
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < k; j++) m = Math.max(m, probs[i * k + j]!);
    sum += m;
    if (m < threshold) below++;
  }
  return { count: n, meanMaxProb: n ? sum / n : 0, fractionBelow: n ? below / n : 0, threshold };
}
