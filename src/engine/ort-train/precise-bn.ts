import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { env } from '../../env.js';
import type { BatchSource } from '../../train/fit.js';
import { Rng } from '../../data/rng.js';
import { compileBatchStats } from './compile.js';
import { toGraphLayout } from './layout.js';

/**
 * Precise BatchNorm on onnxruntime: the same result as `recomputeBatchNormStats`
 * (train/precise-bn.ts; every trainable BN layer's moving mean and variance set to the average
 * of its per-batch statistics over `data`, each batch normalised by its own statistics as in
 * training), from one forward-only graph that outputs every layer's batch statistics, instead of
 * TF.js training-mode passes on wasm. Dropout masks are drawn from `seed` as in training.
 *
 * Throws GraftError 'E_ORT_TRAIN_UNSUPPORTED' for a layer the compiler cannot handle: use the
 * TF.js version then. Returns the number of batches averaged.
 *
 * @example
 * await recomputeBatchNormStatsOrt(model, trainSource); // then evaluate in inference mode
 */
export async function recomputeBatchNormStatsOrt(model: tf.LayersModel, data: BatchSource, opts: { seed?: number; threads?: number; maxBatches?: number } = {}): Promise<number> {
  const g = compileBatchStats(model, { optimizer: { type: 'sgd', lr: 0 }, trainBatchNormStats: true });
  if (g.stats.length === 0) return 0;
  const session = await ort.InferenceSession.create(g.bytes, { intraOpNumThreads: opts.threads ?? env.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of g.params) feeds[p.key] = new ort.Tensor('float32', toGraphLayout(p.variable.read().dataSync() as Float32Array, p.tfShape, p.layout), p.shape);
    const sums = g.stats.map((s) => new Float64Array(s.param.shape.reduce((a, b) => a * b, 1)));
    const rng = new Rng(opts.seed ?? 0);
    let k = 0;
    for await (const b of data.batches(0)) {
      const n = b.xShape[0]!;
      const run: Record<string, ort.Tensor> = { ...feeds, x: new ort.Tensor('float32', b.x, b.xShape) };
      for (const m of g.masks) {
        const dims = m.shape.map((d) => (d < 0 ? n : d));
        const mask = new Float32Array(dims.reduce((a, c) => a * c, 1));
        for (let i = 0; i < mask.length; i++) mask[i] = rng.next() >= m.rate ? 1 / (1 - m.rate) : 0;
        run[m.name] = new ort.Tensor('float32', mask, dims);
      }
      const out = await session.run(run);
      g.stats.forEach((s, i) => {
        const v = out[s.out]!.data as Float32Array;
        const acc = sums[i]!;
        for (let j = 0; j < acc.length; j++) acc[j]! += v[j]!;
      });
      k++;
      if (opts.maxBatches && k >= opts.maxBatches) break;
    }
    if (k === 0) return 0;
    tf.tidy(() => {
      g.stats.forEach((s, i) => s.param.variable.write(tf.tensor(Float32Array.from(sums[i]!, (v) => v / k), s.param.tfShape)));
    });
    return k;
  } finally {
    await session.release();
  }
}
