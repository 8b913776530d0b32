import type * as tf from '@tensorflow/tfjs';
import type { EpochLogs } from '../train/fit.js';
import { lrFind } from '../train/lr-find.js';
import { earlyStopping } from '../train/callbacks/index.js';
import { splitForHead } from '../backbones/index.js';
import { featureSource, type FeatureSet } from '../features/feature-set.js';
import { engineOptions, scheduleFor } from './policy.js';
import { freeze } from '../transfer/freeze.js';
import type { TrainingEngine } from '../train/engine.js';
import { epochsOf, type RecipeContext, type RecipeResult } from './context.js';

/** Stage 1 of every transfer recipe: the new head trains on frozen features (cached, or augmented per batch). */
export async function headStage(
  ctx: RecipeContext,
  full: tf.LayersModel,
  features?: { train: FeatureSet; val: FeatureSet },
): Promise<{ engine: TrainingEngine; epochs: EpochLogs[]; val: FeatureSet; split: ReturnType<typeof splitForHead> }> {
  const { o, data, bb } = ctx;
  const split = splitForHead(bb, full, o.pooling);
  const train = features?.train ?? (await ctx.extract(split.extractor, data.train, split.key, 'backbone train'));
  const val = features?.val ?? (await ctx.extract(split.extractor, data.val, split.key, 'backbone validation'));
  // With augmentation every epoch sees new pixels: the frozen part runs per batch on ORT.
  const trainSource = ctx.augmentedTrainSource(split.extractor) ?? featureSource(train, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  freeze(split.top, { all: false });
  // Epochs given: exactly those, at --lr. Not given (a hidden layer, augmentation or --head dense
  // asked for gradient training): a step budget from the data size, a rate found by the range
  // test on these features, and early stopping that restores the best weights.
  const budget = o.epochs === undefined ? await budgetFor(ctx, split.top, train, trainSource.size) : undefined;
  const epochs = budget?.epochs ?? epochsOf(o);
  const lr = budget?.lr ?? o.lr;
  const engine = await ctx.engine(split.top, { ...engineOptions(o, train.labels, ctx.classes), optimizer: { type: o.optimizer, lr, momentum: o.momentum, weightDecay: o.weightDecay } });
  ctx.say(`Training the head (${epochs} epochs at ${lr.toExponential(2)}${budget ? `: ${budget.why}` : ''})`, 'stage');
  const callbacks = budget && val.labels.length && o.earlyStopping === 0 ? [earlyStopping({ monitor: 'valLoss', patience: budget.patience, restoreBestWeights: true })] : [];
  const h = await ctx.fitStage('head', engine, { train: trainSource, val: val.labels.length ? featureSource(val, { batchSize: 128 }) : undefined }, { epochs, schedule: scheduleFor(o, lr), callbacks });
  await engine.syncToModel();
  ctx.recordStage('head', h.epochs, { lr, cut: bb.cut, ...(budget ? { lrFound: true, stepBudget: budget.steps, earlyStopping: val.labels.length > 0, stopReason: h.stopReason } : {}) });
  return { engine, epochs: h.epochs, val, split };
}

/**
 * How long and how fast to train a head nobody gave epochs for: at least 300 steps and 30 passes
 * over the data (at most 3,000 steps), at the rate the learning-rate finder suggests on the
 * training features (clamped to 1e-4 … 1e-1), stopping 10 epochs after the best validation loss.
 */
async function budgetFor(ctx: RecipeContext, top: tf.LayersModel, train: FeatureSet, stepsPerEpoch: number): Promise<{ epochs: number; lr: number; steps: number; patience: number; why: string }> {
  const { o } = ctx;
  const steps = Math.min(3000, Math.max(300, 30 * stepsPerEpoch));
  const epochs = Math.ceil(steps / stepsPerEpoch);
  const probe = await ctx.engine(top, engineOptions(o, train.labels, ctx.classes));
  let lr = o.lr;
  try {
    const r = await lrFind(probe, featureSource(train, { batchSize: o.batchSize, shuffle: true, seed: o.seed }), { steps: 100 });
    lr = Math.min(1e-1, Math.max(1e-4, r.suggestion));
  } catch {
    /* too few batches for a sweep: keep --lr */
  } finally {
    probe.dispose();
  }
  return { epochs, lr, steps, patience: 10, why: `${steps} steps from ${train.labels.length} images, rate from the range test, early stopping` };
}

/** Transfer with a frozen backbone: a new head on the backbone's features, nothing else trains. */
export async function headRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const full = ctx.network();
  const s = await headStage(ctx, full);
  const evalFeatures = await ctx.testFeatures(s.split.extractor, s.split.key, 'backbone test', s.val);
  return { model: full, engine: s.engine, evalFeatures, frozenUpTo: ctx.bb.cut };
}
