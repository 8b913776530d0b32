import { GraftError } from '../errors.js';
import { lineChart } from '../evaluate/report/charts.js';
import type { TrainingEngine } from './engine.js';
import { fit, type BatchSource } from './fit.js';
import { lrFinder, exponentialSweep } from './callbacks/lr-finder.js';

export interface LrFindOptions {
  /** First rate of the sweep (default 1e-7, fastai's start_lr). */
  minLr?: number;
  /** Last rate of the sweep (default 10, fastai's end_lr). */
  maxLr?: number;
  /** Number of steps (default 100); the sweep cycles through epochs of `data` as needed. */
  steps?: number;
  /** Stop once the smoothed loss exceeds this × the best smoothed loss (default 4). */
  divergeFactor?: number;
  /** Exponential smoothing factor for the loss (default 0.98, as fastai). */
  beta?: number;
  signal?: AbortSignal;
}

export interface LrFindResult {
  /** Rates actually tried, one per step, in order. */
  lrs: number[];
  /** Smoothed (debiased exponential moving average) loss at each step. */
  losses: number[];
  /** Raw batch losses. */
  rawLosses: number[];
  /** The recommended rate: fastai's `valley` (see `suggestions`). */
  suggestion: number;
  suggestions: {
    /** fastai's default: about halfway along the longest descending stretch of the smoothed loss. */
    valley: number;
    /** Rate at the steepest descent of smoothed loss vs log-rate. */
    steep: number;
    /** Rate of the minimum smoothed loss divided by 10 (the classic rule of thumb). */
    minDiv10: number;
  };
  /** True when the sweep stopped because the loss blew up (the normal ending). */
  diverged: boolean;
}

/**
 * Learning-rate range test (Smith 2015, fastai `lr_find`): train with an exponentially growing
 * rate from `minLr` to `maxLr`, record the smoothed loss, stop when it exceeds 4× the best.
 * The engine's weights are restored afterwards (also on error).
 *
 * Note: `TrainingEngine` has no handle on optimizer state, so an optimizer with slots (Adam's
 * moments, SGD momentum) keeps what the sweep accumulated. Run the finder on a fresh engine, or
 * create a new engine for the real training run, to start from clean optimizer state.
 *
 * @example
 * const r = await lrFind(engine, train, { steps: 100 });
 * fs.writeFileSync('lr-find.svg', lrFindSvg(r));
 * await fit(engine, { train, val }, { epochs: 5, schedule: oneCycle(r.suggestion) });
 */
export async function lrFind(engine: TrainingEngine, data: BatchSource, opts: LrFindOptions = {}): Promise<LrFindResult> {
  const minLr = opts.minLr ?? 1e-7;
  const maxLr = opts.maxLr ?? 10;
  const steps = opts.steps ?? 100;
  const factor = opts.divergeFactor ?? 4;
  const beta = opts.beta ?? 0.98;
  if (!(minLr > 0 && maxLr > minLr && Number.isFinite(maxLr))) {
    throw new GraftError('E_BAD_LR', `lrFind needs 0 < minLr < maxLr. Received: minLr=${minLr}, maxLr=${maxLr}.`, 'The usual range is minLr=1e-7, maxLr=10.');
  }
  if (!Number.isInteger(steps) || steps < 5) {
    throw new GraftError('E_BAD_LR', `lrFind needs steps >= 5 (an integer). Received: steps=${steps}.`, 'Use 50–200 steps.');
  }
  if (!(beta >= 0 && beta < 1) || !(factor > 1)) {
    throw new GraftError('E_BAD_LR', `lrFind needs 0 <= beta < 1 and divergeFactor > 1. Received: beta=${beta}, divergeFactor=${factor}.`);
  }
  if (!(Number.isInteger(data.size) && data.size >= 1)) {
    throw new GraftError('E_EMPTY_DATA', 'lrFind got no batches from the data source.', 'Check that the training split holds images.');
  }
  // The sweep is an ordinary fit: an exponential schedule, and a callback that records the loss
  // and stops at `steps` or when the loss blows up. The weights are restored afterwards.
  const finder = lrFinder({ steps, beta, divergeFactor: factor });
  const initial = engine.getWeights().map((w) => w.slice());
  try {
    await fit(engine, { train: data }, { epochs: Math.ceil(steps / data.size), schedule: exponentialSweep(minLr, maxLr, steps), callbacks: [finder], signal: opts.signal });
  } finally {
    engine.setWeights(initial);
  }
  const r = finder.result();
  if (r.lrs.length < 2) throw new GraftError('E_LR_FIND', `lrFind recorded only ${r.lrs.length} step(s); it needs at least 2 to suggest a rate.`);
  return { ...r, ...suggest(r.lrs, r.losses) };
}

/**
 * The three suggestions from a sweep. Like fastai, the first 10% and last 5 points are dropped
 * first (the start is noisy, the end is the blow-up) when enough points remain.
 */
export function suggest(allLrs: number[], allLosses: number[]): Pick<LrFindResult, 'suggestion' | 'suggestions'> {
  let lo = Math.floor(allLrs.length / 10);
  let hi = allLrs.length - 5;
  if (hi - lo < 3) [lo, hi] = [0, allLrs.length];
  const lrs = allLrs.slice(lo, hi);
  const losses = allLosses.map((l) => (Number.isFinite(l) ? l : Infinity)).slice(lo, hi);
  const n = losses.length;

  // valley: the longest decreasing subsequence of the loss (fastai's O(n²) version), then the point
  // about halfway along it (fastai: max_start + int(sections) + int(sections / 2), sections = len / 3).
  const lds = new Array<number>(n).fill(1);
  let maxStart = 0;
  let maxEnd = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
      if (lds[maxEnd] < lds[i]) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd];
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  const vIdx = Math.min(n - 1, Math.max(0, maxStart + Math.floor(sections) + Math.floor(sections / 2)));

  // steep: most negative d(loss)/d(log lr).
  let sIdx = 0;
  let sBest = Infinity;
  for (let i = 1; i < n; i++) {
    const g = (losses[i] - losses[i - 1]) / (Math.log(lrs[i]) - Math.log(lrs[i - 1]));
    if (g < sBest) [sBest, sIdx] = [g, i];
  }
  let mIdx = 0;
  for (let i = 1; i < n; i++) if (losses[i] < losses[mIdx]) mIdx = i;
  const valley = lrs[vIdx];
  return { suggestion: valley, suggestions: { valley, steep: lrs[sIdx], minDiv10: lrs[mIdx] / 10 } };
}

/**
 * A small standalone SVG of smoothed loss vs learning rate (log scale) with the suggestion
 * marked, for the CLI to write beside a run.
 *
 * @example
 * fs.writeFileSync('lr-find.svg', lrFindSvg(await lrFind(engine, train)));
 */
export function lrFindSvg(r: LrFindResult, opts: { width?: number; height?: number } = {}): string {
  const points = r.lrs.map((x, i) => ({ x, y: r.losses[i] }));
  const finite = r.losses.filter(Number.isFinite);
  const min = Math.min(...finite);
  // Clip the blow-up at the end so the interesting part of the curve stays readable.
  const first = finite[0] ?? min;
  const yMax = Math.min(Math.max(...finite), Math.max(first, min) + (Math.max(first, min) - min) * 0.6 + 1e-6);
  const at = r.lrs.indexOf(r.suggestion);
  return lineChart([{ name: 'smoothed loss', color: '#2563eb', points }], {
    title: 'Learning-rate finder',
    xLabel: 'learning rate (log scale)',
    yLabel: 'loss',
    xLog: true,
    yMin: min - (yMax - min) * 0.05,
    yMax,
    width: opts.width ?? 520,
    height: opts.height ?? 320,
    standalone: true,
    markers: at >= 0 ? [{ x: r.suggestion, y: r.losses[at], label: `valley ${r.suggestion.toExponential(1)}` }] : [],
  });
}
