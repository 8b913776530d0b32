import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import type { GraftManifest } from '../io/manifest.js';
import { saveModelDir } from '../io/model-dir.js';
import { checkModelOut } from '../io/out-target.js';
import { evaluateProbs, type Evaluation } from '../evaluate/metrics.js';
import type { FeatureSet } from '../features/feature-set.js';
import type { DatasetItem } from '../data/dataset.js';
import { adaBn, type AdaBnMode } from './adabn.js';
import { coralFold, type CoralOptions } from './coral.js';
import { pseudoLabel, type PseudoLabelOptions } from './pseudo-label.js';
import { dann, type DannOptions } from './dann.js';
import { confidenceStats, FeatureExtractor, layerTensor, loadAdaptContext, predictTop, sample, sourceItems, splitAtFeatures, unlabeledItems, type ConfidenceStats } from './common.js';

export const ADAPT_METHODS = ['adabn', 'coral', 'pseudo-label', 'dann'] as const;
export type AdaptMethod = (typeof ADAPT_METHODS)[number];

export interface AdaptOptions {
  /** Folder of unlabelled target-domain images (searched recursively). */
  target: string;
  method: AdaptMethod;
  /** Output model directory. */
  out: string;
  /** Replace Graft's own earlier model directory at `out` (never anything else). */
  force?: boolean;
  /** Labelled source images (class sub-folders). Default: graft.json's dataset.root. */
  source?: string;
  seed?: number;
  /** At most this many source / target images are used (seeded sample). Defaults 1000 / 1000. */
  maxSource?: number;
  maxTarget?: number;
  cacheDir?: string;
  /** Top-1 probability below which a target prediction counts as unsure (recorded stats). Default 0.5. */
  threshold?: number;
  adabn?: { mode?: AdaBnMode; batchSize?: number };
  coral?: CoralOptions;
  pseudoLabel?: PseudoLabelOptions;
  dann?: DannOptions;
  onEvent?: (e: { type: 'stage' | 'info'; message: string }) => void;
}

export interface AdaptResult {
  outDir: string;
  manifest: GraftManifest;
  /** What graft.json's `adaptation` array gained. */
  record: Record<string, unknown>;
  before: ConfidenceStats;
  after: ConfidenceStats;
  /** Accuracy of the adapted model on (a sample of) the labelled source images, when they were read. */
  sourceAccuracy?: number;
  seconds: number;
}

/**
 * Unsupervised domain adaptation of a trained model directory to a folder of unlabelled target
 * images; writes a new model directory (stock TF.js + ONNX, as any other) whose graft.json
 * `adaptation` array records the method, folders, counts, options and the model's confidence on
 * the target before and after.
 *
 * - `adabn`: BatchNormalization statistics re-estimated on the target (forward passes only).
 * - `coral`: target features whitened/recoloured to the source covariance, folded into the head.
 * - `pseudo-label`: self-training on confident, class-balanced target predictions.
 * - `dann`: a domain classifier behind gradient reversal, trained with a new bottleneck + head.
 *
 * @example
 * const r = await adaptModel('day-model', { target: 'photos/night', method: 'adabn', out: 'night-model' });
 * console.log(r.before.meanMaxProb, '→', r.after.meanMaxProb);
 */
export async function adaptModel(modelDir: string, o: AdaptOptions): Promise<AdaptResult> {
  const t0 = Date.now();
  if (!(ADAPT_METHODS as readonly string[]).includes(o.method)) {
    throw new GraftError('E_ADAPT_METHOD', `Unknown adaptation method. Received: method=${JSON.stringify(o.method)}.`, `Should be one of: ${ADAPT_METHODS.join(', ')}.`);
  }
  if (path.resolve(o.out) === path.resolve(modelDir)) {
    throw new GraftError('E_ADAPT_OUT', `The adapted model must go to a new directory; --out equals the source model (${modelDir}).`, 'Pass another --out folder.');
  }
  const protect = [modelDir, o.target, o.source];
  checkModelOut(o.out, { force: o.force, protect });
  const say = (message: string, type: 'stage' | 'info' = 'info') => o.onEvent?.({ type, message });
  const seed = o.seed ?? 42;
  const ctx = await loadAdaptContext(modelDir);
  const m = ctx.manifest;
  const k = m.classes.length;
  const threshold = o.threshold ?? 0.5;
  const target = sample(unlabeledItems(o.target), o.maxTarget ?? 1000, seed, 'adapt-target');
  const needSource = o.method !== 'adabn' || o.adabn?.mode !== 'replace';
  const src = needSource || o.source ? sourceItems(m, o.source) : undefined;
  const source: DatasetItem[] | undefined = src ? sample(src.items, o.maxSource ?? 1000, seed, 'adapt-source') : undefined;
  say(`${o.method}: ${target.length} target images${source ? `, ${source.length} source images` : ''}`, 'stage');

  let split = splitAtFeatures(ctx);
  const disposers: (() => void)[] = [() => ctx.model.dispose()];
  try {
    const ex = await FeatureExtractor.create(split.frozen, m, ctx.featureLayer, o.cacheDir);
    disposers.push(() => ex.dispose());
    const tgt = await ex.extract(target, 'target features');
    if (tgt.features.labels.length === 0) throw new GraftError('E_ADAPT_NO_IMAGES', `No target image in ${o.target} could be decoded.`, tgt.skipped.slice(0, 3).map((s) => `${s.path}: ${s.reason}`).join('; '));
    const before = confidenceStats(predictTop(split.top, tgt.features), k, threshold);
    const srcF: FeatureSet | undefined = source && o.method !== 'adabn' ? (await ex.extract(source, 'source features')).features : undefined;

    let model = ctx.model;
    let details: Record<string, unknown>;
    let options: Record<string, unknown>;
    let afterTop = split.top;
    let afterTarget = tgt.features;
    let afterSource = srcF;
    let head = m.head;
    if (o.method === 'adabn') {
      options = { mode: o.adabn?.mode ?? (source ? 'anchored' : 'replace'), batchSize: o.adabn?.batchSize ?? 32 };
      const r = await adaBn(split.frozen, target, { mode: options.mode as AdaBnMode, batchSize: options.batchSize as number, inputSize: m.inputSize, preprocess: m.preprocess, source });
      details = { bnLayers: r.layers, targetImages: r.targetImages, sourceImages: r.sourceImages, sourceStatsEngine: r.sourceEngine ?? null };
      // The backbone changed: its features (hence the cache key) are new.
      const ex2 = await FeatureExtractor.create(split.frozen, m, ctx.featureLayer, o.cacheDir);
      disposers.push(() => ex2.dispose());
      afterTarget = (await ex2.extract(target, 'adapted target features')).features;
      if (source) afterSource = (await ex2.extract(source, 'adapted source features')).features;
    } else if (o.method === 'coral') {
      options = { lambda: o.coral?.lambda ?? 1 };
      const r = coralFold(split.top, srcF!, tgt.features, o.coral);
      details = { ...r };
    } else if (o.method === 'pseudo-label') {
      const p = o.pseudoLabel ?? {};
      options = { threshold: p.threshold ?? 0.8, perClass: p.perClass ?? null, rounds: p.rounds ?? 3, epochs: p.epochs ?? 5, lr: p.lr ?? 1e-3, batchSize: p.batchSize ?? 32 };
      const rounds = await pseudoLabel(split.top, srcF!, tgt.features, { ...p, seed: p.seed ?? seed });
      details = { rounds };
    } else {
      const d = o.dann ?? {};
      options = { bottleneck: d.bottleneck ?? 256, domainHidden: d.domainHidden ?? 64, domainWeight: d.domainWeight ?? 1, epochs: d.epochs ?? 20, lr: d.lr ?? 1e-3, batchSize: d.batchSize ?? 32 };
      const feats = layerTensor(ctx.model, ctx.featureLayer);
      const r = await dann(feats, srcF!, tgt.features, k, { ...d, seed: d.seed ?? seed });
      model = tf.model({ inputs: ctx.model.inputs, outputs: r.output, name: `${ctx.model.name}_dann` });
      details = { ...r.result };
      const inp = tf.input({ shape: tgt.features.shape });
      afterTop = tf.model({ inputs: inp, outputs: model.getLayer(HEAD).apply(model.getLayer(BOTTLENECK).apply(inp)) as tf.SymbolicTensor });
      head = { ...m.head, hidden: [options.bottleneck as number], dropout: 0 };
    }
    const after = confidenceStats(predictTop(afterTop, afterTarget), k, threshold);
    let evaluation: Evaluation | undefined;
    if (afterSource) evaluation = evaluateProbs(predictTop(afterTop, afterSource), afterSource.labels, k, { worst: 12 });

    const record: Record<string, unknown> = {
      method: o.method,
      createdAt: new Date().toISOString(),
      from: ctx.dir,
      target: path.resolve(o.target),
      source: src?.root ?? null,
      counts: { target: tgt.features.labels.length, source: afterSource?.labels.length ?? 0, targetSkipped: tgt.skipped.length },
      seed,
      options,
      details,
      confidence: { before, after },
      sourceAccuracyAfter: evaluation?.accuracy ?? null,
      seconds: (Date.now() - t0) / 1000,
    };
    const manifest: GraftManifest = {
      ...m,
      createdAt: new Date().toISOString(),
      head,
      metrics: evaluation ? { split: 'source sample (after adaptation)', accuracy: evaluation.accuracy, macroF1: evaluation.macro.f1, loss: evaluation.loss, count: evaluation.n, beforeAdaptation: m.metrics } : { ...m.metrics, note: 'measured before adaptation' },
      adaptation: [...m.adaptation, record],
    };
    say(`Writing ${o.out}`, 'stage');
    const fmt = (c: ConfidenceStats) => `${c.meanMaxProb.toFixed(3)} (below ${c.threshold}: ${(c.fractionBelow * 100).toFixed(1)}%)`;
    await saveModelDir(o.out, {
      model,
      manifest,
      force: o.force,
      protect: [...protect, src?.root],
      evaluation,
      evalPaths: afterSource?.paths,
      writeOnnx: true,
      writeReport: evaluation !== undefined,
      notes: [
        {
          title: `Domain adaptation: ${o.method}`,
          text: `Adapted from ${ctx.dir} to the unlabelled images in ${path.resolve(o.target)}. The evaluation below is on labelled source images; the target has no labels, so its confidence is shown instead.`,
          items: [
            ['target images', String(tgt.features.labels.length)],
            ['source images', String(afterSource?.labels.length ?? 0)],
            ['options', JSON.stringify(options)],
            ['target mean top-1 probability before', fmt(before)],
            ['target mean top-1 probability after', fmt(after)],
          ],
        },
      ],
    });
    return { outDir: path.resolve(o.out), manifest, record, before, after, sourceAccuracy: evaluation?.accuracy, seconds: (Date.now() - t0) / 1000 };
  } finally {
    for (const d of disposers.reverse()) d();
    split = undefined as never;
  }
}

const HEAD = 'graft_head_predictions';
const BOTTLENECK = 'graft_adapt_dann_bottleneck';
