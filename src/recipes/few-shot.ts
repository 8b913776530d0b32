import type * as tf from '@tensorflow/tfjs';
import { cutModel } from '../transfer/surgery.js';
import { fewShotHead, buildHeadModel, headOnlyModel } from '../heads/index.js';
import { staticHeadEngine } from '../heads/static-engine.js';
import { splitForHead } from '../backbones/index.js';
import type { RecipeContext, RecipeResult } from './context.js';

/**
 * Few-shot heads (`--head prototype | knn`): computed from the training embeddings in one pass,
 * no gradient steps — a working model from the first few images per class.
 */
export async function fewShotRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const full = ctx.network();
  const { o, data, bb } = ctx;
  const s = splitForHead(bb, full, o.pooling);
  const train = await ctx.extract(s.extractor, data.train, s.key, 'backbone train');
  const val = await ctx.extract(s.extractor, data.val, s.key, 'backbone validation');
  ctx.say(`Computing a ${o.head} head from ${train.labels.length} training embeddings`, 'stage');
  const fh = fewShotHead(o.head as 'prototype' | 'knn', train, ctx.classes, { k: o.k });
  const model = buildHeadModel(s.pooledCut === bb.cut ? bb.base : cutModel(full, s.pooledCut), fh);
  const engine = staticHeadEngine(headOnlyModel(fh));
  const v = await engine.evaluate({ x: val.data, xShape: [val.labels.length, ...val.shape], y: val.labels });
  // No epochs, so no learning curves: the validation numbers go with the stage instead.
  ctx.stages.push({ stage: o.head, k: o.head === 'knn' ? o.k : undefined, support: train.labels.length, valLoss: v.loss, valAcc: v.correct / Math.max(1, v.count) });
  return { model, engine, evalFeatures: await ctx.testFeatures(s.extractor, s.key, 'backbone test', val), frozenUpTo: bb.cut };
}
