import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { DEFAULTS } from '../env.js';
import { initTf } from '../engine/tfjs/backend.js';
import { loadSplits } from '../data/split.js';
import type { DatasetItem } from '../data/dataset.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { createEngine } from '../engine/index.js';
import { fit } from '../train/fit.js';
import { oneCycle } from '../train/schedules.js';
import { accuracy } from '../evaluate/metrics.js';
import { fewShotHead, headOnlyModel, predictHead } from '../heads/index.js';
import { cachedExtract } from '../features/cached.js';
import { openBackbone, backboneKind, pooledAt } from '../backbones/index.js';
import { extractFeatures, pixelExtractor } from '../features/extract.js';
import { featureSource, predictFeatures, concatRows, subsetFeatures, type FeatureSet } from '../features/feature-set.js';
import { trainClassifier } from './train.js';
import type { GraftEvent, GraftMessageEvent } from '../events.js';

export const CURVE_METHODS = ['default', 'prototype', 'knn', 'head', 'fine-tune', 'scratch', 'small-cnn'] as const;
export type CurveMethod = (typeof CURVE_METHODS)[number];
export type Budget = number | 'all';

export interface CurveOptions {
  /** Labelled pool: a class folder or manifest. Budgets are sampled from it per class. */
  train: string;
  /** Held-out test folder or manifest (same classes). */
  test: string;
  /** Manifests may list images outside their own folder. */
  allowOutside?: boolean;
  /** Labelled images per class, e.g. [1, 5, 10, 25, 'all']. */
  budgets: Budget[];
  /** Number of seeds (repeats with different samples). Default 3. */
  seeds?: number;
  /** Base seed. Default 42. */
  seed?: number;
  methods?: CurveMethod[];
  backbone?: string;
  weights?: string;
  /** Epochs of the trained Dense head (and of the head stage before fine-tuning). Default 10. */
  epochs?: number;
  /** Epochs of the fine-tuning stage. Default ceil(epochs / 2). */
  fineTuneEpochs?: number;
  /** Epochs for the from-scratch network and the small CNN. Default 30. */
  scratchEpochs?: number;
  /** Input size of the from-scratch runs (whole-network training in TF.js). Default 32. */
  scratchSize?: number;
  /**
   * Gradient steps each trained method takes at least: tiny budgets give one batch per epoch, so
   * epochs are raised to reach this (default 100; batch size 16).
   */
  minSteps?: number;
  /** Neighbours of the kNN head. Default 5. */
  k?: number;
  cacheDir?: string;
  /** Where per-run manifests and model dirs go (default: a temp folder, removed afterwards). */
  workDir?: string;
  onEvent?: (e: GraftEvent) => void;
}

export interface CurvePoint {
  method: CurveMethod;
  budget: Budget;
  /** Labelled images per class actually used (the smallest class count for 'all'). */
  labelsPerClass: number;
  seed: number;
  trainImages: number;
  accuracy: number;
  /** Wall time of this run (head computation or training + test evaluation). */
  seconds: number;
}

export interface CurveSummary {
  method: CurveMethod;
  budget: Budget;
  labelsPerClass: number;
  runs: number;
  mean: number;
  sd: number;
  seconds: number;
}

export interface CurveResult {
  classes: string[];
  testImages: number;
  poolPerClass: number[];
  backbone: { name: string; weights: string; featureSeconds: number; featureImages: number };
  options: Record<string, unknown>;
  points: CurvePoint[];
  summary: CurveSummary[];
  seconds: number;
}

/** Parse "1,5,10,25,all". */
export function parseBudgets(text: string): Budget[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const out = parts.map((p) => (p === 'all' ? 'all' : Number(p)));
  const bad = out.filter((b) => b !== 'all' && !(Number.isInteger(b) && (b as number) >= 1));
  if (parts.length === 0 || bad.length > 0) {
    throw new GraftError('E_CURVE_BUDGETS', `Labels per class must be positive integers or "all", comma-separated. Received: "${text}".`, 'E.g. --labels-per-class 1,5,10,25,all');
  }
  return out;
}

/**
 * Per-class random orders for one seed. Budgets take prefixes of the same order, so a seed's
 * subsets are nested (the 5-shot set contains the 1-shot set) and curves vary only by budget.
 */
export function sampleBudget(pool: DatasetItem[], classes: number, budget: Budget, seed: number): DatasetItem[] {
  const out: DatasetItem[] = [];
  for (let c = 0; c < classes; c++) {
    const items = pool.filter((i) => i.label === c);
    const order = new Rng(deriveSeed(seed, 'curve', c)).shuffle(items.map((_, i) => i));
    const take = budget === 'all' ? items.length : Math.min(budget, items.length);
    for (const i of order.slice(0, take)) out.push(items[i]!);
  }
  return out;
}

function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

export function summarise(points: CurvePoint[]): CurveSummary[] {
  const groups = new Map<string, CurvePoint[]>();
  for (const p of points) {
    const k = `${p.method}|${p.budget}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(p);
  }
  return [...groups.values()].map((g) => {
    const { mean, sd } = meanSd(g.map((p) => p.accuracy));
    return { method: g[0]!.method, budget: g[0]!.budget, labelsPerClass: g[0]!.labelsPerClass, runs: g.length, mean, sd, seconds: g.reduce((a, p) => a + p.seconds, 0) / g.length };
  });
}

function writeManifest(file: string, items: DatasetItem[], classes: string[]): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  fs.writeFileSync(file, ['path,label', ...items.map((i) => `${q(i.path)},${q(classes[i.label]!)}`)].join('\n') + '\n');
  return file;
}

/**
 * A small CNN for the from-scratch baseline: three 3×3 conv blocks (16, 32, 64 filters, ReLU,
 * max-pool after the first two), global average pooling, Dense(classes, softmax). ~25k weights.
 *
 * @example
 * const m = smallCnn(32, 10); // input [32, 32, 3]
 */
export function smallCnn(size: number, classes: number, seed = 42): tf.LayersModel {
  const init = (i: number) => tf.initializers.heNormal({ seed: seed + i });
  return tf.sequential({
    name: 'small_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [size, size, 3], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'conv1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'conv2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(3), name: 'conv3' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }), name: 'predictions' }),
    ],
  });
}

/**
 * Train `model` on feature (or pixel) rows with Adam under one-cycle for at least `minSteps`
 * steps, on the default engine, and return its accuracy on `test`.
 */
async function trainAndScore(model: tf.LayersModel, train: FeatureSet, test: FeatureSet, classes: number, o: { lr: number; epochs: number; minSteps: number; seed: number }): Promise<number> {
  const engine = await createEngine('ort', model, { optimizer: { type: 'adam', lr: o.lr }, seed: o.seed });
  try {
    const bs = 16;
    const ep = Math.max(o.epochs, Math.ceil(o.minSteps / Math.ceil(train.labels.length / bs)));
    await fit(engine, { train: featureSource(train, { batchSize: bs, shuffle: true, seed: o.seed }) }, { epochs: ep, schedule: oneCycle(o.lr) });
    const probs = concatRows(await predictFeatures((x, s) => engine.predict(x, s), test));
    return accuracy(probs, test.labels, classes);
  } finally {
    engine.dispose();
    model.dispose();
  }
}

/** Dropout(0.2) → Dense(classes, softmax) on pooled embeddings, as trainClassifier's head. */
function denseHead(dims: readonly number[], classes: number, seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dropout({ inputShape: [...dims], rate: 0.2, name: 'graft_head_dropout' }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'graft_head_predictions' }),
    ],
  });
}

/**
 * Learning curves — does transfer need less data? For each labels-per-class budget and seed, a
 * seeded per-class sample of the pool trains each method, which is scored on the same test set:
 * - `prototype` / `knn`: few-shot heads on frozen-backbone embeddings (no gradient steps),
 * - `head`: frozen backbone + trained Dense head (`trainClassifier`),
 * - `fine-tune`: the same, then the top block unfrozen (`fineTuneBlocks: 1`),
 * - `scratch`: the same architecture from random weights at `scratchSize` (`weights: 'none'`),
 * - `small-cnn`: a 3-conv CNN from scratch on pixels.
 * The backbone runs once per image (feature cache, shared with `graft train`); its time is
 * reported separately. Validation for `trainClassifier` runs is one held-out pool image per class
 * (monitored only; nothing selects on it), so it does not count toward the budget.
 *
 * @example
 * const r = await learningCurve({ train: 'fm/train', test: 'fm/test', budgets: [1, 5, 10], seeds: 3 });
 * r.summary.filter((s) => s.method === 'prototype').map((s) => s.mean);
 */
export async function learningCurve(o: CurveOptions): Promise<CurveResult> {
  const t0 = Date.now();
  await initTf();
  const say = (message: string, type: GraftMessageEvent['type'] = 'info') => o.onEvent?.({ type, message });
  const seeds = o.seeds ?? 3;
  const baseSeed = o.seed ?? 42;
  const methods = o.methods ?? [...CURVE_METHODS];
  const unknown = methods.filter((m) => !(CURVE_METHODS as readonly string[]).includes(m));
  if (unknown.length) throw new GraftError('E_CURVE_METHOD', `Unknown curve method(s): ${unknown.join(', ')}.`, `Should be any of: ${CURVE_METHODS.join(', ')}.`);
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new GraftError('E_CURVE_SEEDS', `--seeds must be a positive integer. Received: ${seeds}.`);
  const backbone = o.backbone ?? DEFAULTS.backbone;
  const weights = o.weights ?? DEFAULTS.weights;
  const epochs = o.epochs ?? 10;
  const scratchEpochs = o.scratchEpochs ?? 30;
  const scratchSize = o.scratchSize ?? 32;
  const minSteps = o.minSteps ?? 100;
  const splits = await loadSplits(o.train, { test: o.test, valSplit: 0, seed: baseSeed, checkDuplicates: false, allowOutside: o.allowOutside });
  const classes = splits.train.classes;
  const pool = splits.train.items;
  const test = splits.test!.items;
  const poolPerClass = classes.map((_, c) => pool.filter((i) => i.label === c).length);
  const work = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'graft-curve-'));
  fs.mkdirSync(work, { recursive: true });
  const testManifest = writeManifest(path.join(work, 'test.csv'), test, classes);
  const points: CurvePoint[] = [];
  const record = (p: CurvePoint) => {
    points.push(p);
    say(`${p.method} @ ${p.budget}/class seed ${p.seed}: accuracy ${(p.accuracy * 100).toFixed(1)}% in ${p.seconds.toFixed(1)} s`);
  };
  let featureSeconds = 0;
  let featureImages = 0;

  // Frozen-backbone embeddings of the pool and the test set, once (cache key as trainClassifier's).
  let poolF: FeatureSet | undefined;
  let testF: FeatureSet | undefined;
  // A Graft model directory or an ONNX file serves as a frozen feature extractor here: the
  // methods that rebuild the architecture (fine-tune, scratch) need a zoo backbone.
  const kind = backboneKind(backbone);
  const chained = kind !== 'zoo';
  if (chained) {
    const skip = methods.filter((m) => m === 'fine-tune' || m === 'scratch');
    if (skip.length) say(`Backbone ${backbone} is ${kind === 'graft' ? 'a Graft model directory' : 'an ONNX file'}: ${skip.join(', ')} need a zoo architecture and are skipped; 'head' trains in-process on the cached embeddings`, 'warning');
  }
  const runMethods = chained ? methods.filter((m) => m !== 'fine-tune' && m !== 'scratch') : methods;
  if (runMethods.includes('prototype') || runMethods.includes('knn') || (chained && runMethods.includes('head'))) {
    const tf0 = Date.now();
    // Pooled as trainClassifier's default head pools, under the same cache key: shared with `graft train`.
    const bb = await openBackbone(backbone, { weights: kind === 'zoo' ? weights : undefined, cacheDir: o.cacheDir, onEvent: o.onEvent });
    try {
      const ex = bb.extractor({ pooling: 'avg' });
      const key = bb.cacheKey(pooledAt(bb.cut, 'avg'));
      const a = await cachedExtract(ex, pool, key, { cacheDir: o.cacheDir, label: 'backbone pool', onEvent: o.onEvent });
      const b = await cachedExtract(ex, test, key, { cacheDir: o.cacheDir, label: 'backbone test', onEvent: o.onEvent });
      [poolF, testF] = [a.features, b.features];
      featureImages = a.computed + b.computed;
    } finally {
      bb.dispose();
    }
    featureSeconds = (Date.now() - tf0) / 1000;
    say(`Backbone embeddings: ${pool.length + test.length} images (${featureImages} computed, rest cached) in ${featureSeconds.toFixed(1)} s`);
  }

  // Pixels for the small CNN, decoded once at the scratch size.
  let poolPx: FeatureSet | undefined;
  let testPx: FeatureSet | undefined;
  if (runMethods.includes('small-cnn')) {
    const ex = pixelExtractor([scratchSize, scratchSize], 'raw01');
    poolPx = (await extractFeatures(ex, pool, { label: 'decode pool' })).features;
    testPx = (await extractFeatures(ex, test, { label: 'decode test' })).features;
  }
  const rowsOf = (f: FeatureSet, items: DatasetItem[]) => {
    const idx = new Map(f.paths.map((p, i) => [p, i]));
    return items.map((i) => idx.get(i.path)).filter((i): i is number => i !== undefined);
  };

  try {
    for (let s = 0; s < seeds; s++) {
      const seed = deriveSeed(baseSeed, 'curve-seed', s);
      // One pool image per class outside the largest budget: a monitored-only validation set.
      const largest = sampleBudget(pool, classes.length, o.budgets.includes('all') ? 'all' : Math.max(...(o.budgets as number[])), seed);
      const used = new Set(largest.map((i) => i.path));
      const val = classes.map((_, c) => pool.find((i) => i.label === c && !used.has(i.path)) ?? test.find((i) => i.label === c)).filter((i): i is DatasetItem => !!i);
      const valManifest = writeManifest(path.join(work, `val-${s}.csv`), val, classes);
      for (const budget of o.budgets) {
        const items = sampleBudget(pool, classes.length, budget, seed);
        const lpc = Math.min(...classes.map((_, c) => items.filter((i) => i.label === c).length));
        const base = { budget, labelsPerClass: lpc, seed: s, trainImages: items.length };
        for (const m of runMethods) {
          const t1 = Date.now();
          if (m === 'prototype' || m === 'knn') {
            const sub = subsetFeatures(poolF!, rowsOf(poolF!, items));
            const head = fewShotHead(m, sub, classes.length, { k: o.k ?? 5 });
            const model = headOnlyModel(head);
            const acc = accuracy(predictHead(model, testF!), testF!.labels, classes.length);
            model.dispose();
            record({ ...base, method: m, accuracy: acc, seconds: (Date.now() - t1) / 1000 });
          } else if (m === 'head' && chained) {
            const sub = subsetFeatures(poolF!, rowsOf(poolF!, items));
            const acc = await trainAndScore(denseHead(sub.shape, classes.length, seed), sub, testF!, classes.length, { lr: 1e-3, epochs, minSteps, seed });
            record({ ...base, method: m, accuracy: acc, seconds: (Date.now() - t1) / 1000 });
          } else if (m === 'default') {
            // Exactly `graft train` with no tuning flag (it cross-validates on the budget itself,
            // so it gets no separate validation images).
            const data = writeManifest(path.join(work, `train-${s}-${budget}.csv`), items, classes);
            const r = await trainClassifier({ data, test: testManifest, allowOutside: true, out: path.join(work, 'model-default'), force: true, backbone, weights: chained ? undefined : weights, seed, report: false, onnx: false, quiet: true, cacheDir: o.cacheDir });
            record({ ...base, method: m, accuracy: r.evaluation.accuracy, seconds: r.seconds });
          } else if (m === 'small-cnn') {
            const sub = subsetFeatures(poolPx!, rowsOf(poolPx!, items));
            const acc = await trainAndScore(smallCnn(sub.shape[0]!, classes.length, seed), sub, testPx!, classes.length, { lr: 3e-3, epochs: scratchEpochs, minSteps, seed });
            record({ ...base, method: m, accuracy: acc, seconds: (Date.now() - t1) / 1000 });
          } else {
            const ep = (e: number) => Math.max(e, Math.ceil(minSteps / Math.ceil(items.length / 16)));
            const data = writeManifest(path.join(work, `train-${s}-${budget}.csv`), items, classes);
            const r = await trainClassifier({
              data,
              val: valManifest,
              test: testManifest,
              // The curve's own manifests, in its work folder, list the user's already-read images.
              allowOutside: true,
              out: path.join(work, `model-${m}`),
              force: true, // the curve's own scratch folder, rewritten per run
              backbone,
              weights: m === 'scratch' ? 'none' : weights,
              epochs: ep(m === 'scratch' ? scratchEpochs : epochs),
              fineTuneBlocks: m === 'fine-tune' ? 1 : 0,
              fineTuneEpochs: m === 'fine-tune' ? ep(o.fineTuneEpochs ?? Math.max(1, Math.ceil(epochs / 2))) : undefined,
              inputSize: m === 'scratch' ? scratchSize : undefined,
              batchSize: 16,
              seed,
              report: false,
              onnx: false,
              quiet: true,
              cacheDir: o.cacheDir,
            });
            record({ ...base, method: m, accuracy: r.evaluation.accuracy, seconds: r.seconds });
          }
        }
      }
    }
  } finally {
    if (!o.workDir) fs.rmSync(work, { recursive: true, force: true });
  }
  return {
    classes,
    testImages: test.length,
    poolPerClass,
    backbone: { name: backbone, weights, featureSeconds, featureImages },
    options: { budgets: o.budgets, seeds, seed: baseSeed, methods, epochs, fineTuneEpochs: o.fineTuneEpochs, scratchEpochs, scratchSize, minSteps, k: o.k ?? 5 },
    points,
    summary: summarise(points),
    seconds: (Date.now() - t0) / 1000,
  };
}

