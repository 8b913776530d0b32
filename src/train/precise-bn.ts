import * as tf from '@tensorflow/tfjs';
import type { BatchSource } from './fit.js';

interface BnLike {
  momentum: number;
  trainable: boolean;
  getClassName(): string;
}

/**
 * "Precise BatchNorm" (as PyTorch's `torch.optim.swa_utils.update_bn` and Detectron2's
 * `update_bn_stats`): after training with batch statistics, replace every trainable
 * BatchNormalization layer's moving mean/variance by their average over the training data.
 *
 * Why: a short run (few hundred steps) leaves exponential moving averages far from the statistics
 * the weights were trained with, so inference-mode accuracy can sit at chance while training-mode
 * accuracy is high. Forward passes in training mode with momentum (k-1)/k on the k-th batch make
 * the moving values the exact cumulative mean of the per-batch statistics.
 *
 * @example
 * await recomputeBatchNormStats(model, trainSource); // then evaluate in inference mode
 */
export async function recomputeBatchNormStats(model: tf.LayersModel, data: BatchSource, opts: { maxBatches?: number } = {}): Promise<number> {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization' && l.trainable) as unknown as BnLike[];
  if (bns.length === 0) return 0;
  const saved = bns.map((l) => l.momentum);
  let k = 0;
  try {
    for await (const b of data.batches(0)) {
      k++;
      for (const l of bns) l.momentum = (k - 1) / k;
      tf.tidy(() => {
        const x = tf.tensor(b.x, b.xShape);
        model.apply(x, { training: true });
      });
      if (opts.maxBatches && k >= opts.maxBatches) break;
    }
  } finally {
    bns.forEach((l, i) => (l.momentum = saved[i]!));
  }
  return k;
}
