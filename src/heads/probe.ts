import { GraftError } from '../errors.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { fitLogistic, logisticProbs, type LogisticFit } from './logistic.js';
import { argmaxRows } from '../evaluate/metrics.js';
import { cholesky, columnStats, solveUpperT, transposeTimes } from './gram.js';
import { prepare, coordinates, labelsOf, acc, meanSd, linearScores, knnProbs, prototypeProbs, prototypeScores, softmaxRows, type Split, type ProbeBlock } from './probe-scores.js';

export { KNN_K, blockRows, type ProbeBlock } from './probe-scores.js';

/**
 * Model selection for a head on frozen features, the way a careful practitioner does it: every
 * candidate feature block (a cut of the backbone, or two concatenated) and every head kind is
 * scored by stratified k-fold cross-validation on the labelled images (or on a held-out split
 * when there are many), the linear head's L2 strength chosen on the same folds; the winner is
 * refit on every labelled image.
 */


export type ProbeHead = 'linear' | 'prototype' | 'knn';

export interface ProbeScore {
  /** Candidate names ('block_13', or 'block_13+block_16' for a concatenation). */
  cuts: string[];
  head: ProbeHead;
  /** Mean validation accuracy over folds, and its sd. */
  accuracy: number;
  sd: number;
  /** The linear head's chosen inverse L2 strength (scikit-learn's C). */
  C?: number;
  /**
   * 'ensemble': one linear head per cut, each at its own C (`Cs`, in `cuts` order), whose
   * log-probabilities are averaged — the same as one Dense layer over the concatenated cuts with
   * the heads' kernels stacked and divided by their count. Unset: one head over `cuts` (one cut,
   * or a concatenation) at `C`.
   */
  combine?: 'ensemble';
  Cs?: number[];
}

export interface ProbeSelection {
  protocol: 'cv' | 'holdout' | 'none';
  /** Validation splits scored: folds × rounds under cross-validation. */
  folds: number;
  /** Rounds of k-fold cross-validation (1 for a held-out split). */
  rounds: number;
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
  /** Rounds of k-fold CV, each on its own seeded folds, averaged (default 1). */
  repeats?: number;
  /**
   * Score the ensemble of every scored cut's linear head (see ProbeScore.combine) and prefer it:
   * it is chosen unless the best candidate beats it by more than one standard error of that
   * candidate's mean over the splits. Default false.
   */
  ensemble?: boolean;
}



/** scikit-learn's usual grid, every decade from 1e-4 to 1e4 (9 values). */
export const C_GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4];

/** Stratified, seeded folds: each class's rows dealt round-robin after a shuffle. */
export function stratifiedFolds(y: Int32Array, k: number, folds: number, seed: number, round = 0): number[][] {
  const out: number[][] = Array.from({ length: folds }, () => []);
  const rng = new Rng(round === 0 ? deriveSeed(seed, 'probe-folds') : deriveSeed(seed, 'probe-folds', round));
  for (let c = 0; c < k; c++) {
    const rows = rng.shuffle([...y.keys()].filter((i) => y[i] === c));
    rows.forEach((r, j) => out[j % folds]!.push(r));
  }
  return out.map((f) => f.sort((a, b) => a - b));
}

function splitsFor(y: Int32Array, k: number, minCount: number, o: SelectOptions): { splits: Split[]; protocol: ProbeSelection['protocol']; note: string; rounds: number } {
  const n = y.length;
  if (o.holdout) {
    const val = new Set(o.holdout);
    return { rounds: 1, splits: [{ train: [...y.keys()].filter((i) => !val.has(i)), val: o.holdout }], protocol: 'holdout', note: `${n} labelled images: every candidate scored on a held-out ${o.holdout.length}, the winner refit on all ${n}` };
  }
  if (minCount >= 2) {
    const folds = Math.min(5, minCount);
    const repeats = Math.max(1, o.repeats ?? 1);
    const splits: Split[] = [];
    for (let r = 0; r < repeats; r++) {
      const f = stratifiedFolds(y, k, folds, o.seed, r);
      splits.push(...f.map((val, i) => ({ train: f.flatMap((x, j) => (j === i ? [] : x)), val })));
    }
    const how = repeats > 1 ? `${repeats} rounds of ${folds}-fold stratified cross-validation` : `${folds}-fold stratified cross-validation`;
    return { rounds: repeats, splits, protocol: 'cv', note: `${n} labelled images: every candidate scored by ${how}, the winner refit on all ${n}` };
  }
  return { rounds: 0, splits: [], protocol: 'none', note: 'one labelled image in some class: nothing to validate on, so the default candidate and the prototype head are used' };
}

/**
 * Held-out class probabilities of the chosen configuration for every validated row: out of fold
 * under cross-validation, the held-out rows under a split. Rows never held out are absent
 * (`rows` lists the ones present, in order).
 */
export async function heldOutProbs(blocks: ProbeBlock[], y: Int32Array, k: number, chosen: ProbeScore, o: SelectOptions): Promise<{ rows: number[]; probs: Float32Array } | undefined> {
  const counts = new Array(k).fill(0);
  for (const l of y) counts[l]++;
  // One round of folds: every row held out once.
  const { splits } = splitsFor(y, k, Math.min(...counts), { ...o, repeats: 1 });
  if (!splits.length) return undefined;
  const members = chosen.combine === 'ensemble' ? chosen.cuts.map((c, i) => ({ cuts: [c], C: chosen.Cs![i]! })) : [{ cuts: chosen.cuts, C: chosen.C }];
  const preps = members.map((m) => prepare(blocks.filter((b) => m.cuts.includes(b.name)), y.length));
  const rows: number[] = [];
  const parts: Float32Array[] = [];
  for (const s of splits) {
    let probs: Float32Array;
    if (chosen.head === 'linear') {
      const logp = new Float64Array(s.val.length * k);
      for (let m = 0; m < members.length; m++) {
        const c = coordinates(preps[m]!, y.length, s);
        const fit = await fitLogistic(c.tr, s.train.length, c.d, labelsOf(y, s.train), k, 1 / (members[m]!.C! * s.train.length), { maxIter: 1000 });
        logisticProbs(c.val, s.val.length, c.d, fit, k).forEach((v, j) => (logp[j]! += Math.log(Math.max(v, 1e-30)) / members.length));
      }
      probs = softmaxRows(logp, k);
    } else probs = chosen.head === 'knn' ? knnProbs(preps[0]!, y, k, s) : prototypeProbs(preps[0]!, y, k, s);
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
  const { splits, protocol, note, rounds } = splitsFor(y, k, minCount, o);
  const scores: ProbeScore[] = [];
  // Per single cut, its linear head's validation log-probabilities per split at its chosen C (for the ensemble).
  const kept = new Map<string, { C: number; logp: Float32Array[] }>();
  const score = async (cands: ProbeBlock[]): Promise<ProbeScore[]> => {
    if (!splits.length) return [];
    const p = prepare(cands, n);
    const out: ProbeScore[] = [];
    const cuts = cands.map((c) => c.name);
    if (heads.includes('linear')) {
      const keep = (o.ensemble ?? false) && cands.length === 1;
      const per = await linearScores(p, n, y, k, splits, grid, keep);
      // Best C by mean accuracy; ties go to the stronger regularisation (earlier in the grid).
      let best = { mean: -1, sd: 0, C: grid[0]!, j: 0 };
      grid.forEach((C, j) => {
        const ms = meanSd(per.acc.map((r) => r[j]!));
        if (ms.mean > best.mean + 1e-9) best = { ...ms, C, j };
      });
      if (keep) kept.set(cuts[0]!, { C: best.C, logp: per.logp.map((r) => r[best.j]!) });
      out.push({ cuts, head: 'linear', accuracy: best.mean, sd: best.sd, C: best.C });
    }
    if (heads.includes('prototype')) {
      const ms = meanSd(prototypeScores(p, y, k, splits));
      out.push({ cuts, head: 'prototype', accuracy: ms.mean, sd: ms.sd });
    }
    if (heads.includes('knn')) {
      const ms = meanSd(splits.map((s) => acc(argmaxRows(knnProbs(p, y, k, s), k), labelsOf(y, s.val))));
      out.push({ cuts, head: 'knn', accuracy: ms.mean, sd: ms.sd });
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
  if (kept.size > 1 && !late()) {
    // Every scored cut's linear head, log-probabilities averaged: scored on the same splits from
    // the heads already fit there, so it costs no new fits.
    const members = blocks.map((b) => b.name).filter((c) => kept.has(c));
    const per = splits.map((sp, i) => {
      const avg = new Float32Array(sp.val.length * k);
      for (const c of members) kept.get(c)!.logp[i]!.forEach((v, j) => (avg[j]! += v));
      return acc(argmaxRows(avg, k), labelsOf(y, sp.val));
    });
    const ms = meanSd(per);
    scores.push({ cuts: members, head: 'linear', combine: 'ensemble', Cs: members.map((c) => kept.get(c)!.C), accuracy: ms.mean, sd: ms.sd });
  }
  const best: ProbeScore = scores.length ? bestOf(scores) : { cuts: [blocks[0]!.name], head: 'prototype' as const, accuracy: NaN, sd: NaN };
  // Picking the best of many noisy scores favours lucky ones; averaging every cut is the robust
  // choice, kept unless something is clearly (by more than one standard error) better.
  const ens = scores.find((x) => x.combine === 'ensemble');
  const chosen = ens && ens.accuracy >= best.accuracy - standardError(best, splits) ? ens : best;
  return { protocol, folds: splits.length, rounds, scores, chosen, note: note + cut };
}

/**
 * Standard error of a candidate's mean validation accuracy: the sd over splits / √splits under
 * cross-validation; on a single held-out split, the binomial √(p(1−p)/n).
 */
export function standardError(s: ProbeScore, splits: { val: number[] }[]): number {
  if (splits.length > 1) return s.sd / Math.sqrt(splits.length);
  const n = splits[0]?.val.length ?? 0;
  return n ? Math.sqrt(Math.max(0, s.accuracy * (1 - s.accuracy)) / n) : 0;
}

/**
 * The chosen linear head refit on every labelled row, as one Dense layer over the chosen cuts'
 * concatenated features (in `blocks` order): one head at C, or for an ensemble one head per cut
 * at its own C with the kernels stacked and kernels and biases divided by the member count.
 */
export async function fitChosenLinear(blocks: ProbeBlock[], y: Int32Array, k: number, chosen: ProbeScore): Promise<{ kernel: Float32Array; bias: Float32Array; dims: number; iterations: number; converged: boolean }> {
  const picked = blocks.filter((b) => chosen.cuts.includes(b.name));
  if (chosen.combine !== 'ensemble') return fitLinearHead(picked, y, k, chosen.C!);
  const heads = [];
  for (const b of picked) heads.push(await fitLinearHead([b], y, k, chosen.Cs![chosen.cuts.indexOf(b.name)]!));
  const dims = heads.reduce((a, h) => a + h.dims, 0);
  const kernel = new Float32Array(dims * k);
  const bias = new Float32Array(k);
  let row = 0;
  for (const h of heads) {
    for (let i = 0; i < h.kernel.length; i++) kernel[row * k + i] = h.kernel[i]! / heads.length;
    for (let c = 0; c < k; c++) bias[c]! += h.bias[c]! / heads.length;
    row += h.dims;
  }
  return { kernel, bias, dims, iterations: Math.max(...heads.map((h) => h.iterations)), converged: heads.every((h) => h.converged) };
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
