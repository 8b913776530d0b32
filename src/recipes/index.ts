import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { BackboneKind } from '../backbones/index.js';
import { fineTuning } from './policy.js';
import type { ResolvedTrainOptions } from '../options.js';
import type { RecipeContext, RecipeResult } from './context.js';
import { headRecipe } from './head.js';
import { fineTuneRecipe } from './fine-tune.js';
import { scratchRecipe } from './scratch.js';
import { fewShotRecipe } from './few-shot.js';
import { probeRecipe } from './probe.js';

export { RecipeContext, type RecipeResult } from './context.js';
export { headRecipe, headStage } from './head.js';
export { fineTuneRecipe } from './fine-tune.js';
export { scratchRecipe } from './scratch.js';
export { fewShotRecipe } from './few-shot.js';
export { probeRecipe } from './probe.js';

export type RecipeName = 'probe' | 'head' | 'fine-tune' | 'scratch' | 'few-shot';
export type Recipe = (ctx: RecipeContext) => Promise<RecipeResult>;

export const RECIPES: Record<RecipeName, Recipe> = { probe: probeRecipe, head: headRecipe, 'fine-tune': fineTuneRecipe, scratch: scratchRecipe, 'few-shot': fewShotRecipe };

/**
 * Which recipe the options ask for, refusing combinations that cannot run (before any work).
 *
 * @example
 * pickRecipe(parseTrainOptions({ data, out, fineTuneBlocks: 2 }), 'zoo'); // 'fine-tune'
 */
export function pickRecipe(o: ResolvedTrainOptions, kind: BackboneKind): RecipeName {
  const scratch = o.weights === 'none' && kind === 'zoo';
  const fewShot = o.head === 'prototype' || o.head === 'knn';
  const fineTune = fineTuning(o.fineTuneBlocks);
  // Gradient training of the head only when asked for: epochs, hidden layers, augmentation or
  // an explicit dense head. Otherwise the head is solved exactly and the cut and head chosen.
  const gradient = o.head === 'dense' || o.epochs !== undefined || o.hidden.length > 0 || o.augment;
  if (o.head === 'linear' && (fineTune || gradient || scratch)) {
    throw new GraftError('E_BAD_OPTIONS', `A linear head is solved exactly on frozen features; it cannot be combined with ${fineTune ? '--fine-tune-blocks' : scratch ? '--weights none' : o.augment ? '--augment' : o.hidden.length ? '--hidden' : '--epochs'}.`, 'Use --head dense for gradient training, or drop that option.');
  }
  if (fewShot && (scratch || fineTune || o.augment)) {
    throw new GraftError('E_HEAD_FEW_SHOT', `A ${o.head} head is computed from frozen features in one pass; it cannot be combined with ${scratch ? '--weights none' : fineTune ? '--fine-tune-blocks' : '--augment'}.`, 'Use --head dense for gradient training.');
  }
  if (kind === 'onnx' && fineTune) {
    throw new GraftError('E_ONNX_FROZEN_ONLY', `An ONNX backbone is frozen only: onnxruntime-node cannot train it. Received: fineTuneBlocks=${o.fineTuneBlocks} with backbone ${o.backbone}.`, 'Drop --fine-tune-blocks, or use a zoo backbone (graft models) to fine-tune.');
  }
  return scratch ? 'scratch' : fewShot ? 'few-shot' : fineTune ? 'fine-tune' : gradient ? 'head' : 'probe';
}
