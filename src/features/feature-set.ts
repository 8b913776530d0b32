import type { StepBatch } from '../train/engine.js';
import type { BatchSource } from '../train/fit.js';
import { Rng, deriveSeed } from '../data/rng.js';

/**
 * Activations at the cut for a set of images, held as one contiguous Float32Array
 * (row i = image i). This is what the trainable part trains on when the backbone is frozen
 * and there is no augmentation: the backbone ran once per image.
 */
export interface FeatureSet {
  /** n × prod(shape) floats. */
  data: Float32Array;
  /** Shape of one row, e.g. [1280] or [7, 7, 320]. */
  shape: number[];
  labels: Int32Array;
  paths: string[];
}

export function rowSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function featureCount(f: FeatureSet): number {
  return f.labels.length;
}

/** Take rows `idx` of a feature set (copying). */
export function subsetFeatures(f: FeatureSet, idx: ArrayLike<number>): FeatureSet {
  const d = rowSize(f.shape);
  const data = new Float32Array(idx.length * d);
  const labels = new Int32Array(idx.length);
  const paths: string[] = [];
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    data.set(f.data.subarray(r * d, (r + 1) * d), i * d);
    labels[i] = f.labels[r]!;
    paths.push(f.paths[r]!);
  }
  return { data, shape: [...f.shape], labels, paths };
}

/**
 * A BatchSource over in-memory features. Training order is reshuffled every epoch from
 * (seed, epoch), so runs are reproducible; evaluation sources keep file order.
 *
 * @example
 * const train = featureSource(feats, { batchSize: 32, shuffle: true, seed: 42 });
 * await fit(engine, { train }, { epochs: 5 });
 */
export function featureSource(f: FeatureSet, opts: { batchSize: number; shuffle?: boolean; seed?: number }): BatchSource {
  const n = featureCount(f);
  const d = rowSize(f.shape);
  const bs = Math.max(1, opts.batchSize);
  return {
    size: Math.ceil(n / bs),
    async *batches(epoch: number): AsyncIterable<StepBatch> {
      const order = Array.from({ length: n }, (_, i) => i);
      if (opts.shuffle) new Rng(deriveSeed(opts.seed ?? 0, 'shuffle', epoch)).shuffle(order);
      for (let s = 0; s < n; s += bs) {
        const m = Math.min(bs, n - s);
        const x = new Float32Array(m * d);
        const y = new Int32Array(m);
        for (let i = 0; i < m; i++) {
          const r = order[s + i]!;
          x.set(f.data.subarray(r * d, (r + 1) * d), i * d);
          y[i] = f.labels[r]!;
        }
        yield { x, xShape: [m, ...f.shape], y };
      }
    },
  };
}

/** Probabilities for every row, in order, batch by batch through `predict`. */
export async function predictFeatures(
  predict: (x: Float32Array, shape: number[]) => Promise<Float32Array>,
  f: FeatureSet,
  batchSize = 64,
): Promise<Float32Array[]> {
  const n = featureCount(f);
  const d = rowSize(f.shape);
  const out: Float32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    out.push(await predict(f.data.subarray(s * d, (s + m) * d), [m, ...f.shape]));
  }
  return out;
}

export function concatRows(parts: Float32Array[]): Float32Array {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rows of `a` then rows of `b` (same row shape). */
export function concatFeatures(a: FeatureSet, b: FeatureSet): FeatureSet {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  const labels = new Int32Array(a.labels.length + b.labels.length);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  return { data, shape: [...a.shape], labels, paths: [...a.paths, ...b.paths] };
}
