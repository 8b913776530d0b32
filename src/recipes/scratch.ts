import { recomputeBatchNormStats } from '../train/precise-bn.js';
import { recomputeBatchNormStatsOrt } from '../engine/ort-train/precise-bn.js';
import { isGraftError } from '../errors.js';
import { pixelExtractor } from '../features/extract.js';
import { featureSource } from '../features/feature-set.js';
import { engineOptions, scheduleFor } from './policy.js';
import { epochsOf, type RecipeContext, type RecipeResult } from './context.js';
import type * as tf from '@tensorflow/tfjs';

/**
 * From scratch (`weights: 'none'`): the whole network trains on decoded pixels from random
 * initialisation — the baseline that shows what transfer buys. Nothing is frozen.
 */
export async function scratchRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const full = ctx.network(true);
  const { o, data, bb } = ctx;
  ctx.say(`Training the whole network from random initialisation at ${bb.inputSize[0]}x${bb.inputSize[1]}`, 'stage');
  const ex = pixelExtractor(bb.inputSize, bb.preprocess);
  const train = await ctx.extract(ex, data.train, undefined, 'decode train');
  const val = await ctx.extract(ex, data.val, undefined, 'decode validation');
  // From random weights BatchNorm must normalise with batch statistics (there is nothing
  // pretrained to keep in inference mode).
  const engine = await ctx.engine(full, { ...engineOptions(o, train.labels, ctx.classes), trainBatchNormStats: true });
  const h = await ctx.fitStage('scratch', engine, { train: featureSource(train, { batchSize: o.batchSize, shuffle: true, seed: o.seed }), val: val.labels.length ? featureSource(val, { batchSize: 64 }) : undefined }, { epochs: epochsOf(o), schedule: scheduleFor(o, o.lr) });
  // Batch statistics → precise moving statistics before any inference-mode evaluation.
  await engine.syncToModel();
  const statsSource = featureSource(train, { batchSize: Math.max(16, o.batchSize), shuffle: true, seed: o.seed });
  const t0 = performance.now();
  let preciseBn = 'onnxruntime';
  try {
    await recomputeBatchNormStatsOrt(full, statsSource, { seed: o.seed });
  } catch (e) {
    if (!(isGraftError(e) && e.code === 'E_ORT_TRAIN_UNSUPPORTED')) throw e;
    preciseBn = 'tfjs';
    await recomputeBatchNormStats(full, statsSource);
  }
  engine.setWeights(full.weights.map((w) => w.read().dataSync() as Float32Array));
  ctx.recordStage('scratch', h.epochs, { lr: o.lr, preciseBatchNorm: { engine: preciseBn, seconds: Math.round(performance.now() - t0) / 1000 } });
  return { model: full, engine, evalFeatures: await ctx.testFeatures(ex, undefined, 'decode test', val), frozenUpTo: null };
}
