import { GraftError } from '../errors.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { fitLogistic, logisticProbs, predictLogistic, type LogisticFit } from './logistic.js';
import { argmaxRows } from '../evaluate/metrics.js';
import { ortLossGrad } from './logistic-ort.js';
import { cholesky, columnStats, gram, solveRight, solveUpperT, standardise, submatrix, transposeTimes } from './gram.js';
import { computePrototypes } from './prototype.js';
import { centerNormalize } from './normalize.js';

/**
 * Model selection for a head on frozen features, the way a careful practitioner does it: every
 * candidate feature block (a cut of the backbone, or two concatenated) and every head kind is
 * scored by stratified k-fold cross-validation on the labelled images (or on a held-out split
 * when there are many), the linear head's L2 strength chosen on the same folds; the winner is
 * refit on every labelled image.
 */

/** One candidate's pooled features for every labelled image, row-major n × dims. */
export interface ProbeBlock {
  name: string;
  data: Float32Array;
  dims: number;
}

export type ProbeHead = 'linear' | 'prototype';

export interface ProbeScore {
  /** Candidate names ('block_13', or 'block_13+block_16' for a concatenation). */
  cuts: string[];
  head: ProbeHead;
  /** Mean validation accuracy over folds, and its sd. */
  accuracy: number;
  sd: number;
  /** The linear head's chosen inverse L2 strength (scikit-learn's C). */
  C?: number;
}

export interface ProbeSelection {
  protocol: 'cv' | 'holdout' | 'none';
  folds: number;
  /** Every candidate's best score per head kind. */
  scores: ProbeScore[];
  chosen: ProbeScore;
  /** Why the protocol is what it is (few labels, many labels). */
  note: string;
}

export interface SelectOptions {
  seed: number;
  /** The C values tried, ascending (warm starts go from strong to weak regularisation). */
  cGrid?: number[];
  /** Rows kept for validation instead of k-fold CV (large data); indices into the labelled rows. */
  holdout?: number[];
  heads?: ProbeHead[];
  /** Also score the best two candidates concatenated. Default true. */
  concat?: boolean;
  /** Stop scoring new candidates after this time (ms since the epoch); at least one is scored. */
  deadline?: number;
}

/**
 * Model selection compares validation accuracies, which settle long before the objective does:
 * its fits stop earlier than the final refit (which runs to tol 1e-5, 1000 iterations).
 */
const SELECT_ITER = 100;
const SELECT_TOL = 1e-4;

/** scikit-learn's usual grid, every decade from 1e-4 to 1e4 (9 values). */
export const C_GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4];

/** Stratified, seeded folds: each class's rows dealt round-robin after a shuffle. */
export function stratifiedFolds(y: Int32Array, k: number, folds: number, seed: number): number[][] {
  const out: number[][] = Array.from({ length: folds }, () => []);
  const rng = new Rng(deriveSeed(seed, 'probe-folds'));
  for (let c = 0; c < k; c++) {
    const rows = rng.shuffle([...y.keys()].filter((i) => y[i] === c));
    rows.forEach((r, j) => out[j % folds]!.push(r));
  }
  return out.map((f) => f.sort((a, b) => a - b));
}

interface Split {
  train: number[];
  val: number[];
}

/** A candidate's standardised rows and their Gram matrix (Z·Zᵀ), shared by every fold. */
interface Prepared {
  names: string[];
  Z: Float64Array;
  dims: number;
  G: Float64Array;
  raw: { data: Float32Array; dims: number };
}

function prepare(b: ProbeBlock[], n: number): Prepared {
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
function coordinates(p: Prepared, n: number, s: Split): { tr: Float64Array; val: Float64Array; d: number } {
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

const labelsOf = (y: Int32Array, rows: number[]) => Int32Array.from(rows, (r) => y[r]!);
const acc = (pred: Int32Array, y: Int32Array) => pred.reduce((s, v, i) => s + (v === y[i] ? 1 : 0), 0) / Math.max(1, y.length);
const meanSd = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean: m, sd: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length - 1)) };
};

/** Validation accuracy of the linear head for every C of the grid, per split (warm-started along C). */
async function linearScores(p: Prepared, n: number, y: Int32Array, k: number, splits: Split[], grid: number[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const s of splits) {
    const c = coordinates(p, n, s);
    const ytr = labelsOf(y, s.train);
    const yval = labelsOf(y, s.val);
    const evaluate = await ortLossGrad(c.tr, s.train.length, c.d, ytr, k);
    let init: LogisticFit | undefined;
    const row: number[] = [];
    for (const C of grid) {
      init = await fitLogistic(c.tr, s.train.length, c.d, ytr, k, 1 / (C * s.train.length), { init, maxIter: SELECT_ITER, tol: SELECT_TOL, evaluate });
      row.push(acc(predictLogistic(c.val, s.val.length, c.d, init, k), yval));
    }
    out.push(row);
  }
  return out;
}

/** softmax(10 · cosine to each class prototype) for the rows `val`, prototypes from the rows `train` (as the prototype head). */
function prototypeProbs(p: Prepared, y: Int32Array, k: number, s: Split): Float32Array {
  const { data, dims } = p.raw;
  const rows = (idx: number[]) => {
    const out = new Float32Array(idx.length * dims);
    idx.forEach((r, i) => out.set(data.subarray(r * dims, (r + 1) * dims), i * dims));
    return out;
  };
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
function prototypeScores(p: Prepared, y: Int32Array, k: number, splits: Split[]): number[] {
  return splits.map((s) => acc(argmaxRows(prototypeProbs(p, y, k, s), k), labelsOf(y, s.val)));
}

function splitsFor(y: Int32Array, k: number, minCount: number, o: SelectOptions): { splits: Split[]; protocol: ProbeSelection['protocol']; note: string } {
  const n = y.length;
  if (o.holdout) {
    const val = new Set(o.holdout);
    return { splits: [{ train: [...y.keys()].filter((i) => !val.has(i)), val: o.holdout }], protocol: 'holdout', note: `${n} labelled images: every candidate scored on a held-out ${o.holdout.length}, the winner refit on all ${n}` };
  }
  if (minCount >= 2) {
    const folds = Math.min(5, minCount);
    const f = stratifiedFolds(y, k, folds, o.seed);
    return { splits: f.map((val, i) => ({ train: f.flatMap((x, j) => (j === i ? [] : x)), val })), protocol: 'cv', note: `${n} labelled images: every candidate scored by ${folds}-fold stratified cross-validation, the winner refit on all ${n}` };
  }
  return { splits: [], protocol: 'none', note: 'one labelled image in some class: nothing to validate on, so the default candidate and the prototype head are used' };
}

/**
 * Held-out class probabilities of the chosen configuration for every validated row: out of fold
 * under cross-validation, the held-out rows under a split. Rows never held out are absent
 * (`rows` lists the ones present, in order).
 */
export async function heldOutProbs(blocks: ProbeBlock[], y: Int32Array, k: number, chosen: ProbeScore, o: SelectOptions): Promise<{ rows: number[]; probs: Float32Array } | undefined> {
  const counts = new Array(k).fill(0);
  for (const l of y) counts[l]++;
  const { splits } = splitsFor(y, k, Math.min(...counts), o);
  if (!splits.length) return undefined;
  const p = prepare(blocks.filter((b) => chosen.cuts.includes(b.name)), y.length);
  const rows: number[] = [];
  const parts: Float32Array[] = [];
  for (const s of splits) {
    let probs: Float32Array;
    if (chosen.head === 'linear') {
      const c = coordinates(p, y.length, s);
      const fit = await fitLogistic(c.tr, s.train.length, c.d, labelsOf(y, s.train), k, 1 / (chosen.C! * s.train.length), { maxIter: 1000 });
      probs = logisticProbs(c.val, s.val.length, c.d, fit, k);
    } else probs = prototypeProbs(p, y, k, s);
    rows.push(...s.val);
    parts.push(probs);
  }
  const probs = new Float32Array(rows.length * k);
  let off = 0;
  for (const q of parts) {
    probs.set(q, off);
    off += q.length;
  }
  return { rows, probs };
}

/**
 * Score every candidate (and the best two concatenated) with every head kind; pick the best.
 *
 * @example
 * const sel = selectProbe(blocks, labels, 10, { seed: 42 });
 * sel.chosen; // { cuts: ['block_13'], head: 'linear', accuracy: 0.84, sd: 0.03, C: 0.1 }
 */
export async function selectProbe(blocks: ProbeBlock[], y: Int32Array, k: number, o: SelectOptions): Promise<ProbeSelection> {
  const n = y.length;
  if (!blocks.length) throw new GraftError('E_HEAD_NO_DATA', 'selectProbe needs at least one candidate feature block.');
  const counts = new Array(k).fill(0);
  for (const l of y) counts[l]++;
  const minCount = Math.min(...counts);
  if (minCount < 1) throw new GraftError('E_HEAD_EMPTY_CLASS', 'Every class needs at least one labelled image.', 'Add an image of every class.');
  const grid = o.cGrid ?? C_GRID;
  const heads = o.heads ?? ['linear', 'prototype'];
  const { splits, protocol, note } = splitsFor(y, k, minCount, o);
  const scores: ProbeScore[] = [];
  const score = async (cands: ProbeBlock[]): Promise<ProbeScore[]> => {
    if (!splits.length) return [];
    const p = prepare(cands, n);
    const out: ProbeScore[] = [];
    const cuts = cands.map((c) => c.name);
    if (heads.includes('linear')) {
      const per = await linearScores(p, n, y, k, splits, grid);
      // Best C by mean accuracy; ties go to the stronger regularisation (earlier in the grid).
      let best = { mean: -1, sd: 0, C: grid[0]! };
      grid.forEach((C, j) => {
        const ms = meanSd(per.map((r) => r[j]!));
        if (ms.mean > best.mean + 1e-9) best = { ...ms, C };
      });
      out.push({ cuts, head: 'linear', accuracy: best.mean, sd: best.sd, C: best.C });
    }
    if (heads.includes('prototype')) {
      const ms = meanSd(prototypeScores(p, y, k, splits));
      out.push({ cuts, head: 'prototype', accuracy: ms.mean, sd: ms.sd });
    }
    return out;
  };
  const late = () => o.deadline !== undefined && Date.now() > o.deadline;
  // Past the deadline the search keeps what it has: the candidates scored so far (at least one;
  // the last candidate, the backbone's own cut, goes first then, as the one a user would pick).
  const order = o.deadline !== undefined ? [blocks.at(-1)!, ...blocks.slice(0, -1)] : blocks;
  let scored = 0;
  for (const b of order) {
    if (scored > 0 && late()) break;
    scores.push(...(await score([b])));
    scored++;
  }
  // Scores in the candidates' own order whatever order they were scored in, so ties break alike.
  scores.sort((a, b) => blocks.findIndex((x) => x.name === a.cuts[0]) - blocks.findIndex((x) => x.name === b.cuts[0]));
  const cut = scored < blocks.length ? `; time budget reached after ${scored} of ${blocks.length} candidate cuts` : '';
  const bestOf = (list: ProbeScore[]) => list.reduce((a, b) => (b.accuracy > a.accuracy + 1e-9 ? b : a));
  if ((o.concat ?? true) && scored > 1 && splits.length && !late()) {
    // The two best single candidates (by their best head), concatenated.
    const byCut = blocks.filter((b) => scores.some((x) => x.cuts[0] === b.name)).map((b) => ({ b, s: bestOf(scores.filter((x) => x.cuts[0] === b.name)) })).sort((a, b) => b.s.accuracy - a.s.accuracy);
    const pair = [byCut[0]!.b, byCut[1]!.b].sort((a, b) => blocks.indexOf(a) - blocks.indexOf(b));
    scores.push(...(await score(pair)));
  }
  const chosen = scores.length ? bestOf(scores) : { cuts: [blocks[0]!.name], head: 'prototype' as const, accuracy: NaN, sd: NaN };
  return { protocol, folds: splits.length, scores, chosen, note: note + cut };
}

/**
 * The linear head refit on every labelled row at strength C, with the standardisation folded in:
 * softmax(x·kernel + bias) on the raw (unstandardised) features, as a stock Dense layer computes it.
 */
export async function fitLinearHead(blocks: ProbeBlock[], y: Int32Array, k: number, C: number): Promise<{ kernel: Float32Array; bias: Float32Array; dims: number; iterations: number; converged: boolean }> {
  const n = y.length;
  const p = prepare(blocks, n);
  const stats = columnStats(p.raw.data, n, p.dims);
  let W: Float64Array;
  let fit: LogisticFit;
  if (n < p.dims) {
    // Solve in L's coordinates, then map back: W = Zᵀ·L⁻ᵀ·W̃ (the rows' span holds the solution).
    const L = cholesky(p.G, n);
    fit = await fitLogistic(L, n, n, y, k, 1 / (C * n), { maxIter: 1000 });
    W = transposeTimes(p.Z, n, p.dims, solveUpperT(L, n, fit.W, k), k);
  } else {
    fit = await fitLogistic(p.Z, n, p.dims, y, k, 1 / (C * n), { maxIter: 1000 });
    W = fit.W;
  }
  // softmax(((x − μ)/σ)·W + b) = softmax(x·(W/σ) + (b − Σ_j μ_j/σ_j·W_j)).
  const kernel = new Float32Array(p.dims * k);
  const bias = Float32Array.from(fit.b);
  for (let j = 0; j < p.dims; j++) {
    for (let c = 0; c < k; c++) {
      const w = W[j * k + c]! / stats.std[j]!;
      kernel[j * k + c] = w;
      bias[c]! -= stats.mean[j]! * w;
    }
  }
  return { kernel, bias, dims: p.dims, iterations: fit.iterations, converged: fit.converged };
}
