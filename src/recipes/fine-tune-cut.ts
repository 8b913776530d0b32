import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { featureSource } from '../features/feature-set.js';
import { shareFineTuneCut } from '../features/shared-cut.js';
import { addHead, HEAD_LAYER_NAMES } from '../transfer/head.js';
import { cutModel } from '../transfer/surgery.js';
import { freeze } from '../transfer/freeze.js';
import { earlyStopping } from '../train/callbacks/index.js';
import { engineOptions, scheduleFor, discriminativeGroups } from './policy.js';
import type { RecipeContext, RecipeResult } from './context.js';

/** Blocks the default recipe's fine-tune trial unfreezes: the chosen cut's block and the one below. */
export const AUTO_FINE_TUNE_BLOCKS = 2;

/**
 * Labelled images from which the default recipe tries fine-tuning (and keeps it only when it wins
 * on the held-out split). Below this the held-out split is too small to tell a real gain from
 * luck, and the frozen head is within noise of fine-tuning anyway (BENCHMARKS.md).
 */
export const AUTO_FINE_TUNE_MIN = 1000;

/** Most epochs of the trial; early stopping on the held-out loss usually ends it sooner. */
const AUTO_FINE_TUNE_EPOCHS = 10;

/**
 * Fine-tuning that starts from the chosen cut (LP-FT: Kumar et al. 2022, "Fine-Tuning can Distort
 * Pretrained Features"): the backbone is cut where the head reads, the head starts as the solved
 * linear probe (`init`, standardisation folded in, fit on the training split), and the top
 * `blocks` blocks up to the cut train with discriminative rates on activations cached at the
 * block below them, early-stopped on the held-out split. Returns the recipe result and its best
 * held-out accuracy, which the caller compares with the frozen head's on the same split.
 *
 * @example
 * const ft = await fineTuneAtCut(ctx, 'block_14', 2, probeHead);
 * if (ft.valAccuracy > frozenAccuracy) return ft.result;
 */
export async function fineTuneAtCut(ctx: RecipeContext, cut: string, blocks: number, init: { kernel: Float32Array; bias: Float32Array }): Promise<{ valAccuracy: number; epochs: number; keep(): Promise<RecipeResult>; reject(): void }> {
  const { o, data, bb } = ctx;
  const spec = bb.spec;
  if (bb.kind !== 'zoo' || !spec) throw new GraftError('E_FINE_TUNE_BLOCKS', `Cannot fine-tune blocks of ${bb.ref}: its blocks are unknown.`, 'Use a zoo backbone (graft models).');
  const cutBlock = cut === spec.featureLayer ? spec.blockOf(spec.featureLayer)! : cut;
  const at = spec.blocks.indexOf(cutBlock);
  if (at - blocks < 0) throw new GraftError('E_FINE_TUNE_BLOCKS', `${cut} has ${at} blocks below it; cannot unfreeze ${blocks}.`, 'Unfreeze fewer blocks.');
  const ftCut = spec.blockOutput(spec.blocks[at - blocks]!);
  const trained = spec.blocks.slice(at - blocks + 1, at + 1);
  const k = ctx.classes;
  const base = cut === spec.featureLayer ? bb.base : cutModel(bb.base, cut, spec);
  const full = addHead(base, { classes: k, pooling: o.pooling });
  const dense = full.getLayer(HEAD_LAYER_NAMES.predictions);
  const dims = init.kernel.length / k;
  tf.tidy(() => dense.setWeights([tf.tensor2d(init.kernel, [dims, k]), tf.tensor1d(init.bias)]));
  const shared = await shareFineTuneCut(full, spec, ftCut, HEAD_LAYER_NAMES.pool, data, bb.cacheKey(ftCut), { preprocess: bb.preprocess, size: bb.inputSize, cacheDir: o.cacheDir, onEvent: ctx.onEvent });
  // The shared cut's frozen part stays open until the caller keeps (test rows) or rejects the trial.
  try {
    // Skipped files were reported by the frozen head's extraction already.
    ctx.backboneRuns += shared.computed;
    const { train, val } = shared.cut;
    freeze(shared.top, { all: false });
    // The trained blocks are the backbone's own layers (shared with every other model built on
    // it): their weights are kept aside and put back when the caller rejects the trial.
    const before = shared.top.layers.filter((l) => !l.name.startsWith('graft_head_')).map((l) => ({ l, w: l.getWeights().map((t) => t.clone()) }));
    const groups = discriminativeGroups(shared.top, spec, trained, o.lrDecay);
    const lr = o.lr * o.fineTuneLrFactor;
    const epochs = o.fineTuneEpochs ?? AUTO_FINE_TUNE_EPOCHS;
    ctx.say(`Fine-tuning ${trained.join(', ')} from the chosen cut ${cut} (head starts as the solved probe; up to ${epochs} epochs at ${lr.toExponential(1)}, early-stopped on the ${val.labels.length} held-out images)`, 'stage');
    const engine = await ctx.engine(shared.top, { ...engineOptions(o, train.labels, k, groups), optimizer: { type: o.optimizer, lr, momentum: o.momentum, weightDecay: o.weightDecay } });
    const stop = earlyStopping({ monitor: 'valLoss', patience: 3, restoreBestWeights: true });
    const h = await ctx.fitStage('fine-tune', engine, { train: featureSource(train, { batchSize: o.batchSize, shuffle: true, seed: o.seed + 1 }), val: featureSource(val, { batchSize: 64 }) }, { epochs, schedule: scheduleFor(o, lr), callbacks: [stop] });
    // The weights kept are the lowest held-out loss's (restore-best); its accuracy is the one to compare.
    const best = h.epochs.reduce((a, b) => ((b.valLoss ?? Infinity) < (a.valLoss ?? Infinity) ? b : a), h.epochs[0]!);
    const valAccuracy = best?.valAcc ?? NaN;
    ctx.recordStage('fine-tune', h.epochs, { lr, cut: ftCut, from: cut, blocks: trained, init: 'solved linear probe', bestEpoch: best ? best.epoch + 1 : 0, valAccuracy, groups: groups.map((g) => ({ name: g.name, lrMultiplier: g.lrMultiplier })) });
    const release = () => before.forEach((b) => b.w.forEach((t) => t.dispose()));
    return {
      valAccuracy,
      epochs: h.epochs.length,
      keep: async () => {
        await engine.syncToModel();
        release();
        // The test set only for the network that is kept (its rows at the fine-tune cut).
        const evalFeatures = await ctx.testFeatures(shared.extractor, shared.key, 'backbone test (fine-tune cut)', val);
        shared.dispose();
        return { model: full, engine, evalFeatures, frozenUpTo: ftCut, cut, head: { kind: 'dense', hidden: [], dropout: 0 } };
      },
      reject: () => {
        shared.dispose();
        engine.dispose();
        for (const b of before) b.l.setWeights(b.w);
        release();
      },
    };
  } catch (e) {
    shared.dispose();
    throw e;
  }
}
