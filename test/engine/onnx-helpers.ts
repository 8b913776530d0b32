// Shared by the onnx-*.test.ts files: random weights, ORT runs, comparisons.
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { exportOnnx, type ExportOptions } from '../../src/engine/onnx/export.js';
import { maxAbsDiff } from '../../src/engine/onnx/verify.js';
import { mulberry32 as rng } from '../../scripts/lib/prng.mjs';

export { rng };


/**
 * Replaces every weight with seeded random values. Random-init BatchNorm (mean 0, var 1, gamma 1,
 * beta 0) would hide layout bugs in BN; these stats make every channel differ. Kernels get LeCun
 * uniform values so deep stacks keep unit scale; `bnOnly` leaves kernels and biases as they are.
 */
export function randomizeWeights(model: tf.LayersModel, seed = 1, bnOnly = false): void {
  const r = rng(seed);
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    const vals = ws.map((w) => {
      const n = (w.shape as number[]).reduce((a: number, b: number) => a * b, 1);
      const name = w.originalName;
      const gen = (f: () => number) => tf.tensor(Float32Array.from({ length: n }, f), w.shape as number[], w.dtype as 'float32');
      if (/moving_variance|\/variance$/.test(name)) return gen(() => 0.6 + 0.8 * r());
      if (/gamma$/.test(name)) return gen(() => 0.6 + 0.8 * r());
      if (/moving_mean|beta$|\/mean$/.test(name)) return gen(() => 0.2 * (r() - 0.5));
      if (w.dtype !== 'float32' || bnOnly) return w.read().clone();
      if (/bias$/.test(name)) return gen(() => 0.2 * (r() - 0.5));
      return gen(() => (r() - 0.5) * 2 * Math.sqrt(3 / Math.max(1, n / ((w.shape as number[])[w.shape.length - 1]!))));
    });
    layer.setWeights(vals);
    vals.forEach((v) => v.dispose());
  }
}

/** Seeded input batch in [lo, hi). */
export function randomInput(shape: number[], seed = 7, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Runs ONNX bytes on one input; returns outputs in graph order. */
export async function runOnnx(bytes: Uint8Array, x: Float32Array, dims: number[], level: 'basic' | 'all' = 'all'): Promise<{ data: Float32Array; dims: number[] }[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: level });
  try {
    const res = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    return s.outputNames.map((n) => ({ data: res[n].data as Float32Array, dims: [...res[n].dims] }));
  } finally {
    await s.release();
  }
}

/** Worst abs difference between TF.js and ORT over all outputs; see {@link parityStats}. */
export async function parity(model: tf.LayersModel, opts: ExportOptions = {}, batch = 2, seed = 7): Promise<number> {
  return (await parityStats(model, opts, batch, seed)).diff;
}

/**
 * Exports `model`, runs TF.js and ORT on the same random batch and returns the worst abs
 * difference over all outputs and the largest |TF.js output| (checks shapes agree).
 */
export async function parityStats(model: tf.LayersModel, opts: ExportOptions = {}, batch = 2, seed = 7): Promise<{ diff: number; scale: number }> {
  const shape = [batch, ...(model.inputs[0].shape.slice(1) as number[])];
  const x = randomInput(shape, seed);
  const bytes = exportOnnx(model, opts);
  const got = await runOnnx(bytes, x, shape);
  const sub = opts.outputs ? tf.model({ inputs: model.inputs, outputs: opts.outputs.map((n) => model.getLayer(n).output as tf.SymbolicTensor) }) : model;
  const refs = tf.tidy(() => {
    const y = sub.predict(tf.tensor(x, shape)) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(y) ? y : [y]).map((t) => ({ data: t.dataSync() as Float32Array, dims: t.shape }));
  });
  if (refs.length !== got.length) throw new Error(`output count ${got.length} != ${refs.length}`);
  let diff = 0;
  let scale = 0;
  refs.forEach((r, i) => {
    if (JSON.stringify(r.dims) !== JSON.stringify(got[i].dims)) throw new Error(`shape ${JSON.stringify(got[i].dims)} != TF.js ${JSON.stringify(r.dims)}`);
    diff = Math.max(diff, maxAbsDiff(r.data, got[i].data));
    for (const v of r.data) scale = Math.max(scale, Math.abs(v));
  });
  return { diff, scale };
}
