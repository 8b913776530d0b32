import { fitLogistic, logisticProbs, predictLogistic, type LogisticFit } from './logistic.js';
import { argmaxRows } from '../evaluate/metrics.js';
import { ortLossGrad } from './logistic-ort.js';
import { cholesky, columnStats, gram, solveRight, standardise, submatrix } from './gram.js';
import { computePrototypes } from './prototype.js';
import { centerNormalize, meanRow } from './normalize.js';
import { calibrateKnnScale } from './knn.js';

// How heads/probe.ts scores a candidate on one split: the standardised rows and their Gram matrix
// shared by every fold, coordinates that keep inner products with the training rows, and each
// head kind's validation predictions.

/**
 * Model selection compares validation accuracies, which settle long before the objective does:
 * its fits stop earlier than the final refit (which runs to tol 1e-5, 1000 iterations).
 */
export const SELECT_ITER = 100;
export const SELECT_TOL = 1e-4;

/** Neighbours the kNN candidate's softmax is calibrated to (see heads/knn.ts). */
export const KNN_K = 5;

/** One candidate's pooled features for every labelled image, row-major n × dims. */
export interface ProbeBlock {
  name: string;
  data: Float32Array;
  dims: number;
}

export interface Split {
  train: number[];
  val: number[];
}

/** A candidate's standardised rows and their Gram matrix (Z·Zᵀ), shared by every fold. */
export interface Prepared {
  names: string[];
  Z: Float64Array;
  dims: number;
  G: Float64Array;
  raw: { data: Float32Array; dims: number };
}

export function prepare(b: ProbeBlock[], n: number): Prepared {
  const dims = b.reduce((s, x) => s + x.dims, 0);
  const raw = new Float32Array(n * dims);
  let off = 0;
  for (const x of b) {
    for (let i = 0; i < n; i++) raw.set(x.data.subarray(i * x.dims, (i + 1) * x.dims), i * dims + off);
    off += x.dims;
  }
  const Z = standardise(raw, n, dims, columnStats(raw, n, dims));
  return { names: b.map((x) => x.name), Z, dims, G: gram(Z, n, Z, n, dims), raw: { data: raw, dims } };
}

/**
 * Coordinates for one split that keep every inner product with the training rows: L (from
 * Z_tr·Z_trᵀ = L·Lᵀ) when there are fewer training rows than features, else the features.
 */
export function coordinates(p: Prepared, n: number, s: Split): { tr: Float64Array; val: Float64Array; d: number } {
  if (s.train.length < p.dims) {
    const L = cholesky(submatrix(p.G, n, s.train, s.train), s.train.length);
    return { tr: L, val: solveRight(submatrix(p.G, n, s.val, s.train), s.val.length, L, s.train.length), d: s.train.length };
  }
  const pick = (rows: number[]) => {
    const out = new Float64Array(rows.length * p.dims);
    rows.forEach((r, i) => out.set(p.Z.subarray(r * p.dims, (r + 1) * p.dims), i * p.dims));
    return out;
  };
  return { tr: pick(s.train), val: pick(s.val), d: p.dims };
}

export const labelsOf = (y: Int32Array, rows: number[]) => Int32Array.from(rows, (r) => y[r]!);
export const acc = (pred: Int32Array, y: Int32Array) => pred.reduce((s, v, i) => s + (v === y[i] ? 1 : 0), 0) / Math.max(1, y.length);
export const meanSd = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean: m, sd: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length - 1)) };
};

/**
 * Validation accuracy of the linear head for every C of the grid, per split (warm-started along
 * C), and with `keep`, the validation rows' log-probabilities per split and C (for the ensemble).
 */
export async function linearScores(p: Prepared, n: number, y: Int32Array, k: number, splits: Split[], grid: number[], keep = false): Promise<{ acc: number[][]; logp: Float32Array[][] }> {
  const out: number[][] = [];
  const logp: Float32Array[][] = [];
  for (const s of splits) {
    const c = coordinates(p, n, s);
    const ytr = labelsOf(y, s.train);
    const yval = labelsOf(y, s.val);
    const evaluate = await ortLossGrad(c.tr, s.train.length, c.d, ytr, k);
    let init: LogisticFit | undefined;
    const row: number[] = [];
    const lp: Float32Array[] = [];
    for (const C of grid) {
      init = await fitLogistic(c.tr, s.train.length, c.d, ytr, k, 1 / (C * s.train.length), { init, maxIter: SELECT_ITER, tol: SELECT_TOL, evaluate });
      if (keep) {
        const probs = logisticProbs(c.val, s.val.length, c.d, init, k);
        lp.push(probs.map((v) => Math.log(Math.max(v, 1e-30))));
        row.push(acc(argmaxRows(probs, k), yval));
      } else row.push(acc(predictLogistic(c.val, s.val.length, c.d, init, k), yval));
    }
    out.push(row);
    logp.push(lp);
  }
  return { acc: out, logp };
}

/** The rows `rows` of a candidate block, in that order. */
export function blockRows(b: ProbeBlock, rows: number[]): ProbeBlock {
  const data = new Float32Array(rows.length * b.dims);
  rows.forEach((r, i) => data.set(b.data.subarray(r * b.dims, (r + 1) * b.dims), i * b.dims));
  return { name: b.name, dims: b.dims, data };
}

/** The raw (unstandardised) rows `idx` of a candidate, row-major. */
function rawRows(p: Prepared, idx: number[]): Float32Array {
  const { data, dims } = p.raw;
  const out = new Float32Array(idx.length * dims);
  idx.forEach((r, i) => out.set(data.subarray(r * dims, (r + 1) * dims), i * dims));
  return out;
}

/** Soft kNN (as heads/knn.ts) class probabilities for the rows `val`, support from the rows `train`. */
export function knnProbs(p: Prepared, y: Int32Array, k: number, s: Split): Float32Array {
  const dims = p.raw.dims;
  const rows = (idx: number[]) => rawRows(p, idx);
  const tr = rows(s.train);
  const mu = meanRow(tr, dims);
  const support = centerNormalize(tr, dims, mu);
  const unit = centerNormalize(rows(s.val), dims, mu);
  const scale = calibrateKnnScale(support, dims, KNN_K);
  const m = s.train.length;
  const out = new Float32Array(s.val.length * k);
  const sims = new Float64Array(m);
  for (let i = 0; i < s.val.length; i++) {
    let max = -Infinity;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let q = 0; q < dims; q++) dot += unit[i * dims + q]! * support[j * dims + q]!;
      sims[j] = scale * dot;
      if (sims[j]! > max) max = sims[j]!;
    }
    let z = 0;
    for (let j = 0; j < m; j++) {
      const e = Math.exp(sims[j]! - max);
      z += e;
      out[i * k + y[s.train[j]!]!]! += e;
    }
    for (let c = 0; c < k; c++) out[i * k + c]! /= z;
  }
  return out;
}

/** softmax(10 · cosine to each class prototype) for the rows `val`, prototypes from the rows `train` (as the prototype head). */
export function prototypeProbs(p: Prepared, y: Int32Array, k: number, s: Split): Float32Array {
  const dims = p.raw.dims;
  const rows = (idx: number[]) => rawRows(p, idx);
  const proto = computePrototypes({ data: rows(s.train), shape: [dims], labels: labelsOf(y, s.train), paths: [] }, k);
  const unit = centerNormalize(rows(s.val), dims, proto.center);
  const out = new Float32Array(s.val.length * k);
  for (let i = 0; i < s.val.length; i++) {
    let sum = 0;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let q = 0; q < dims; q++) dot += unit[i * dims + q]! * proto.prototypes[c * dims + q]!;
      out[i * k + c] = Math.exp(10 * (dot - 1));
      sum += out[i * k + c]!;
    }
    for (let c = 0; c < k; c++) out[i * k + c]! /= sum;
  }
  return out;
}

/** Validation accuracy of the prototype (nearest class mean, cosine) head per split. */
export function prototypeScores(p: Prepared, y: Int32Array, k: number, splits: Split[]): number[] {
  return splits.map((s) => acc(argmaxRows(prototypeProbs(p, y, k, s), k), labelsOf(y, s.val)));
}


export function softmaxRows(z: Float64Array, k: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length / k; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[i * k + c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[i * k + c] = Math.exp(z[i * k + c]! - max);
    for (let c = 0; c < k; c++) out[i * k + c]! /= sum;
  }
  return out;
}
