import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec } from '../zoo/types.js';
import type { EngineOptions, ParamGroup } from '../train/engine.js';
import { constant, cosine, oneCycle, type Schedule } from '../train/schedules.js';
import type { ResolvedTrainOptions } from '../options.js';

// The pieces of the training recipe that are policy, not plumbing: class weights, schedules, the
// fine-tune cut and discriminative learning rates, engine options. Freezing goes through
// transfer/freeze.ts alone.

export function classWeights(labels: ArrayLike<number>, k: number): number[] {
  const counts = new Array(k).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]++;
  const n = labels.length;
  return counts.map((c) => (c > 0 ? n / (k * c) : 0));
}

export function scheduleFor(o: ResolvedTrainOptions, lr: number): Schedule {
  if (o.schedule === 'constant') return constant(lr);
  if (o.schedule === 'cosine') return cosine(lr);
  return oneCycle(lr);
}

/** Whether the options ask for a fine-tune stage. */
export function fineTuning(n: number | 'all'): boolean {
  return n === 'all' || n > 0;
}

/**
 * The fine-tune recipe's cut: the output of the block just below the top `n` blocks; with
 * `'all'`, no cut (`null`): every block and the stem below the first block train.
 */
export function fineTuneCut(spec: ArchitectureSpec, n: number | 'all'): { cut: string | null; blocks: string[] } {
  const blocks = [...spec.blocks];
  if (n === 'all') return { cut: null, blocks };
  if (n >= blocks.length) {
    throw new GraftError('E_FINE_TUNE_BLOCKS', `${spec.name} has ${blocks.length} named blocks; cannot unfreeze ${n}. Received: fineTuneBlocks=${n}.`, `Use 1..${blocks.length - 1}, or 'all' to fine-tune the whole network (--fine-tune-blocks all).`);
  }
  const unfrozen = blocks.slice(blocks.length - n);
  return { cut: spec.blockOutput(blocks[blocks.length - n - 1]!), blocks: unfrozen };
}

/** Unfrozen blocks beyond which the per-block decay is spread out rather than compounded. */
const DECAY_SPAN = 5;

/**
 * Discriminative learning rates (fastai): the head trains at the full rate, each block below it
 * at `decay` times the block above. With more than 5 blocks unfrozen the steps shrink so the
 * lowest block still gets decay⁵ of the head's rate, not decay¹⁸ (MobileNetV2, 'all'); layers
 * below the first block (the stem) share the lowest block's rate when `stem` is set.
 *
 * @example
 * discriminativeGroups(top, spec, ['block_16', 'top'], 0.5); // top ×0.5, block_16 ×0.25
 */
export function discriminativeGroups(top: tf.LayersModel, spec: ArchitectureSpec, blocks: string[], decay: number, stem = false): ParamGroup[] {
  const groups: ParamGroup[] = [];
  const byBlock = new Map<string, string[]>();
  const stemLayers: string[] = [];
  for (const l of top.layers) {
    if (l.getClassName() === 'InputLayer') continue;
    const b = spec.blockOf(l.name);
    if (b && blocks.includes(b)) {
      if (!byBlock.has(b)) byBlock.set(b, []);
      byBlock.get(b)!.push(l.name);
    } else if (!b && stem && l.weights.length > 0 && !l.name.startsWith('graft_head_')) stemLayers.push(l.name);
  }
  const ordered = [...blocks].reverse();
  const step = ordered.length > DECAY_SPAN ? DECAY_SPAN / ordered.length : 1;
  const rate = (i: number) => Math.pow(decay, (i + 1) * step);
  ordered.forEach((b, i) => {
    const layers = byBlock.get(b);
    if (layers && layers.length) groups.push({ name: b, layers, lrMultiplier: rate(i) });
  });
  if (stemLayers.length) groups.push({ name: 'stem', layers: stemLayers, lrMultiplier: rate(ordered.length - 1) });
  return groups;
}

export function engineOptions(o: ResolvedTrainOptions, labels: Int32Array, classes: number, groups?: ParamGroup[]): EngineOptions {
  return {
    optimizer: { type: o.optimizer, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay },
    groups,
    labelSmoothing: o.labelSmoothing,
    classWeights: o.classWeights === 'balanced' ? classWeights(labels, classes) : undefined,
    microBatch: o.microBatch,
    trainBatchNormStats: o.trainBnStats,
    seed: o.seed,
  };
}
