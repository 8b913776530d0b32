import { GraftError } from '../errors.js';
import type * as tf from '@tensorflow/tfjs';
import { pixelExtractor, type Extractor } from '../features/extract.js';
import { featureSource, type FeatureSet } from '../features/feature-set.js';
import { shareFineTuneCut } from '../features/shared-cut.js';
import { engineOptions, scheduleFor, fineTuneCut, discriminativeGroups } from './policy.js';
import { freeze } from '../transfer/freeze.js';
import { headFeatures } from '../backbones/index.js';
import type { CacheKey } from '../features/cached.js';
import { headStage } from './head.js';
import { epochsOf, type RecipeContext, type RecipeResult } from './context.js';

/**
 * The fastai recipe: the head first on frozen features, then the top N blocks (or, with 'all',
 * the whole network on pixels) unfrozen at a lower rate with discriminative rates per block. The
 * backbone runs once, to the fine-tune cut; the head stage's features come from there.
 */
export async function fineTuneRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const full = ctx.network();
  const { o, data, bb } = ctx;
  const spec = bb.spec;
  if (!spec) {
    throw new GraftError('E_FINE_TUNE_BLOCKS', `Cannot fine-tune blocks of ${bb.ref}: its architecture "${bb.name}" is not in the zoo, so its blocks are unknown.`, 'Drop --fine-tune-blocks.');
  }
  const ft = fineTuneCut(spec, o.fineTuneBlocks);
  const { pooledCut, key: headKey } = headFeatures(bb, full, o.pooling);
  const shared = ft.cut ? await shareFineTuneCut(full, spec, ft.cut, pooledCut, data, { ...headKey, cut: ft.cut }, { preprocess: bb.preprocess, size: bb.inputSize, cacheDir: o.cacheDir, onEvent: ctx.onEvent }) : undefined;
  try {
    if (shared) {
      ctx.backboneRuns += shared.computed;
      ctx.skipped.push(...shared.skipped);
    }
    const h = await headStage(ctx, full, shared?.head);
    // The test set is evaluated once, after the last stage, at its cut.
    h.engine.dispose();
    let top: tf.LayersModel;
    let ex: Extractor;
    let key: CacheKey | undefined;
    let train: FeatureSet;
    let val: FeatureSet;
    if (!shared) {
      // The whole network trains: its input is the decoded, preprocessed pixels (not cached on
      // disk: 224×224×3 floats an image), and nothing runs frozen.
      ctx.say(`Fine-tuning the whole network (${ft.blocks.length} blocks and the stem) at ${bb.inputSize[0]}x${bb.inputSize[1]}`, 'stage');
      [top, ex] = [full, pixelExtractor(bb.inputSize, bb.preprocess)];
      [train, val] = [await ctx.extract(ex, data.train, undefined, 'decode train'), await ctx.extract(ex, data.val, undefined, 'decode validation')];
    } else {
      ctx.say(`Fine-tuning the top ${ft.blocks.length} block(s) (${ft.blocks.join(', ')}) from ${ft.cut}`, 'stage');
      [top, ex, key, train, val] = [shared.top, shared.extractor, shared.key, shared.cut.train, shared.cut.val];
    }
    // Everything in `top` trains (the frozen part below the fine-tune cut is not in it).
    freeze(top, { all: false });
    const groups = discriminativeGroups(top, spec, ft.blocks, o.lrDecay, ft.cut === null);
    const lr = o.lr * o.fineTuneLrFactor;
    const epochs = o.fineTuneEpochs ?? Math.max(1, Math.ceil(epochsOf(o) / 2));
    const engine = await ctx.engine(top, { ...engineOptions(o, train.labels, ctx.classes, groups), optimizer: { type: o.optimizer, lr, momentum: o.momentum, weightDecay: o.weightDecay } });
    const r = await ctx.fitStage('fine-tune', engine, { train: featureSource(train, { batchSize: o.batchSize, shuffle: true, seed: o.seed + 1 }), val: val.labels.length ? featureSource(val, { batchSize: 64 }) : undefined }, { epochs, schedule: scheduleFor(o, lr) });
    await engine.syncToModel();
    ctx.recordStage('fine-tune', r.epochs, { lr, cut: ft.cut, blocks: ft.blocks, groups: groups.map((g) => ({ name: g.name, lrMultiplier: g.lrMultiplier })) });
    const evalFeatures = await ctx.testFeatures(ex, key, ft.cut === null ? 'decode test' : 'backbone test (fine-tune cut)', val);
    return { model: full, engine, evalFeatures, frozenUpTo: ft.cut };
  } finally {
    shared?.dispose();
  }
}
