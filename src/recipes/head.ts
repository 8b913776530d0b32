import type * as tf from '@tensorflow/tfjs';
import { fit, type EpochLogs } from '../train/fit.js';
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
  const engine = await ctx.engine(split.top, engineOptions(o, train.labels, ctx.classes));
  ctx.say(`Training the head (${epochsOf(o)} epochs)`, 'stage');
  const h = await fit(engine, { train: trainSource, val: val.labels.length ? featureSource(val, { batchSize: 128 }) : undefined }, { epochs: epochsOf(o), schedule: scheduleFor(o, o.lr), callbacks: ctx.callbacks('head', full) });
  await engine.syncToModel();
  ctx.recordStage('head', h.epochs, { lr: o.lr, cut: bb.cut });
  return { engine, epochs: h.epochs, val, split };
}

/** Transfer with a frozen backbone: a new head on the backbone's features, nothing else trains. */
export async function headRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const full = ctx.network();
  const s = await headStage(ctx, full);
  const evalFeatures = await ctx.testFeatures(s.split.extractor, s.split.key, 'backbone test', s.val);
  return { model: full, engine: s.engine, evalFeatures, frozenUpTo: ctx.bb.cut };
}
