import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../data/rng.js';

/** Pairwise squared Euclidean distances of the rows of x (n × d), row-major n × n. */
export function sqDistances(x: Float32Array, n: number, d: number): Float32Array {
  return tf.tidy(() => {
    const t = tf.tensor2d(x, [n, d]);
    const sq = tf.sum(tf.square(t), 1, true);
    const g = tf.matMul(t, t, false, true);
    return tf.relu(tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(2, g))).dataSync() as Float32Array;
  });
}

/** Median of the off-diagonal entries (the median heuristic for the RBF bandwidth). */
export function medianOffDiagonal(dist: Float32Array, n: number): number {
  const v: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) v.push(dist[i * n + j]!);
  v.sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : 1;
}

/**
 * Unbiased MMD² (Gretton et al. 2012) from a kernel matrix over pooled samples, `group[i]` 0 or 1.
 */
export function mmdUnbiased(k: Float32Array, n: number, group: Uint8Array): number {
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  let na = 0;
  for (let i = 0; i < n; i++) if (group[i] === 0) na++;
  const nb = n - na;
  for (let i = 0; i < n; i++) {
    const gi = group[i];
    const row = i * n;
    for (let j = i + 1; j < n; j++) {
      const v = k[row + j]!;
      if (gi !== group[j]) sab += v;
      else if (gi === 0) saa += v;
      else sbb += v;
    }
  }
  // Sums over i<j: each within-group pair counts twice in the i≠j sums.
  return (2 * saa) / (na * (na - 1)) + (2 * sbb) / (nb * (nb - 1)) - (2 * sab) / (na * nb);
}

export interface MmdTest {
  mmd2: number;
  pValue: number;
  bandwidth: number;
  permutations: number;
}

/**
 * MMD² with an RBF kernel (bandwidth: median pairwise distance) and a permutation p-value:
 * (1 + #{permuted MMD² ≥ observed}) / (1 + permutations).
 *
 * @example
 * const r = mmdPermutationTest(a, na, b, nb, 1280, 200, 42); // r.pValue < 0.05: the samples differ
 */
export function mmdPermutationTest(a: Float32Array, na: number, b: Float32Array, nb: number, d: number, permutations: number, seed: number): MmdTest {
  const n = na + nb;
  const x = new Float32Array(n * d);
  x.set(a.subarray(0, na * d));
  x.set(b.subarray(0, nb * d), na * d);
  const dist = sqDistances(x, n, d);
  const med = medianOffDiagonal(dist, n);
  const sigma2 = Math.max(med, 1e-12);
  const k = new Float32Array(n * n);
  for (let i = 0; i < k.length; i++) k[i] = Math.exp(-dist[i]! / (2 * sigma2));
  const group = new Uint8Array(n);
  for (let i = na; i < n; i++) group[i] = 1;
  const observed = mmdUnbiased(k, n, group);
  const rng = new Rng(deriveSeed(seed, 'mmd-permutation'));
  const perm = Array.from(group);
  let hits = 0;
  for (let p = 0; p < permutations; p++) {
    rng.shuffle(perm);
    if (mmdUnbiased(k, n, Uint8Array.from(perm)) >= observed) hits++;
  }
  return { mmd2: observed, pValue: (1 + hits) / (1 + permutations), bandwidth: Math.sqrt(sigma2), permutations };
}

/**
 * Held-out accuracy of an L2-regularised logistic regression telling A from B: both sides
 * subsampled to the same size (chance = 0.5), split 50/50 per side, standardised with the
 * training half's statistics. Near 0.5: the two sets look alike to a linear probe.
 *
 * @example
 * domainClassifierAccuracy(a, na, b, nb, 1280, 42); // 0.98: trivially separable domains
 */
export function domainClassifierAccuracy(a: Float32Array, na: number, b: Float32Array, nb: number, d: number, seed: number, o: { iterations?: number; l2?: number } = {}): { accuracy: number; trainCount: number; testCount: number } {
  const m = Math.min(na, nb);
  const rng = new Rng(deriveSeed(seed, 'domain-classifier'));
  const pick = (count: number) => rng.shuffle(Array.from({ length: count }, (_, i) => i)).slice(0, m);
  const ia = pick(na);
  const ib = pick(nb);
  const half = Math.floor(m / 2);
  const rows = (src: Float32Array, idx: number[]) => idx.map((i) => src.subarray(i * d, (i + 1) * d));
  const train = [...rows(a, ia.slice(0, half)), ...rows(b, ib.slice(0, half))];
  const trainY = [...new Array(half).fill(0), ...new Array(half).fill(1)];
  const test = [...rows(a, ia.slice(half)), ...rows(b, ib.slice(half))];
  const testY = [...new Array(m - half).fill(0), ...new Array(m - half).fill(1)];
  if (train.length < 2 || test.length < 2) return { accuracy: 0.5, trainCount: train.length, testCount: test.length };
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (const r of train) for (let j = 0; j < d; j++) mu[j]! += r[j]!;
  for (let j = 0; j < d; j++) mu[j]! /= train.length;
  for (const r of train) for (let j = 0; j < d; j++) sd[j]! += (r[j]! - mu[j]!) ** 2;
  // Scaled so a row has norm ~1: one step size suits any dimension.
  const scale = Math.sqrt(d);
  for (let j = 0; j < d; j++) sd[j] = (Math.sqrt(sd[j]! / train.length) + 1e-6) * scale;
  const norm = (r: Float32Array) => Float64Array.from(r, (v, j) => (v - mu[j]!) / sd[j]!);
  const X = train.map(norm);
  const T = test.map(norm);
  const w = new Float64Array(d);
  let bias = 0;
  const l2 = o.l2 ?? 1e-2;
  const lr = 1;
  for (let it = 0; it < (o.iterations ?? 300); it++) {
    const gw = new Float64Array(d);
    let gb = 0;
    for (let i = 0; i < X.length; i++) {
      const x = X[i]!;
      let z = bias;
      for (let j = 0; j < d; j++) z += w[j]! * x[j]!;
      const err = 1 / (1 + Math.exp(-z)) - trainY[i]!;
      for (let j = 0; j < d; j++) gw[j]! += err * x[j]!;
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j]! -= lr * (gw[j]! / X.length + l2 * w[j]!);
    bias -= (lr * gb) / X.length;
  }
  let correct = 0;
  T.forEach((x, i) => {
    let z = bias;
    for (let j = 0; j < d; j++) z += w[j]! * x[j]!;
    if ((z > 0 ? 1 : 0) === testY[i]) correct++;
  });
  return { accuracy: correct / T.length, trainCount: X.length, testCount: T.length };
}
