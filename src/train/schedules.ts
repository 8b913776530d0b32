import { GraftError } from '../errors.js';

/**
 * A learning-rate schedule: the rate for optimisation step `step` (0-based, counted across
 * epochs) out of `totalSteps`. `fit` calls it once per batch and hands the result to
 * `engine.trainStep(batch, lr)`.
 *
 * Progress runs from 0 at step 0 to 1 at the last step (`totalSteps - 1`), so the last step uses
 * the schedule's final value exactly; steps past the end are clamped to the end.
 */
export type Schedule = (step: number, totalSteps: number) => number;

function checkLr(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new GraftError('E_BAD_LR', `${name} must be a finite number > 0. Received: ${name}=${value}.`, 'Typical values are 1e-4 … 1e-2.');
  }
}

function checkFraction(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new GraftError('E_BAD_SCHEDULE', `${name} must be in [0, 1). Received: ${name}=${value}.`);
  }
}

/** Fraction of training done at `step`: 0 at the first step, 1 at the last, clamped. */
export function progress(step: number, totalSteps: number): number {
  if (totalSteps <= 1) return 0;
  return Math.min(1, Math.max(0, step / (totalSteps - 1)));
}

/** Cosine interpolation from `start` (pct = 0) to `end` (pct = 1): fastai's `SchedCos`. */
function cosInterp(start: number, end: number, pct: number): number {
  return end + ((start - end) * (1 + Math.cos(Math.PI * pct))) / 2;
}

/**
 * The same rate at every step.
 *
 * @example
 * const s = constant(1e-3);
 * s(0, 100); // 0.001
 */
export function constant(lr: number): Schedule {
  checkLr('lr', lr);
  return () => lr;
}

export interface CosineOptions {
  /** Rate reached at the last step (default 0). */
  minLr?: number;
  /** Linear warm-up from ~0 to `maxLr` over this many steps (default 0). */
  warmupSteps?: number;
  /** Warm-up as a fraction of all steps instead (e.g. 0.05); ignored when `warmupSteps` is set. */
  warmupPct?: number;
}

/**
 * Cosine annealing from `maxLr` to `minLr`, optionally after a linear warm-up.
 * During warm-up step `i` (0-based) gets `maxLr * (i + 1) / warmupSteps`, so the first step is
 * never at rate 0 and the last warm-up step is at `maxLr`; annealing starts from there.
 *
 * @example
 * const s = cosine(1e-3, { warmupSteps: 10 });
 * s(0, 110);   // 1e-4   (warm-up)
 * s(9, 110);   // 1e-3   (peak)
 * s(109, 110); // 0      (end)
 */
export function cosine(maxLr: number, opts: CosineOptions = {}): Schedule {
  checkLr('maxLr', maxLr);
  const minLr = opts.minLr ?? 0;
  if (!Number.isFinite(minLr) || minLr < 0 || minLr > maxLr) {
    throw new GraftError('E_BAD_SCHEDULE', `minLr must be in [0, maxLr]. Received: minLr=${minLr}, maxLr=${maxLr}.`);
  }
  if (opts.warmupPct !== undefined) checkFraction('warmupPct', opts.warmupPct);
  if (opts.warmupSteps !== undefined && !(Number.isInteger(opts.warmupSteps) && opts.warmupSteps >= 0)) {
    throw new GraftError('E_BAD_SCHEDULE', `warmupSteps must be an integer >= 0. Received: warmupSteps=${opts.warmupSteps}.`);
  }
  return (step, totalSteps) => {
    const warm = opts.warmupSteps ?? Math.round((opts.warmupPct ?? 0) * totalSteps);
    if (warm > 0 && step < warm) return (maxLr * (step + 1)) / warm;
    // The peak is the last warm-up step; anneal over the steps after it.
    const start = warm > 0 ? warm - 1 : 0;
    return cosInterp(maxLr, minLr, progress(step - start, totalSteps - start));
  };
}

export interface OneCycleOptions {
  /** Fraction of steps spent rising to `maxLr` (fastai default 0.25). */
  pctStart?: number;
  /** Starting rate is `maxLr / divFactor` (fastai `div`, default 25). */
  divFactor?: number;
  /** Final rate is `maxLr / finalDivFactor` (fastai `div_final`, default 1e5). */
  finalDivFactor?: number;
}

/**
 * fastai's one-cycle policy (`fit_one_cycle`): the rate rises from `maxLr / divFactor` to
 * `maxLr` over the first `pctStart` of training, then anneals to `maxLr / finalDivFactor`.
 * Both phases follow a half cosine, as in fastai (`combined_cos`).
 *
 * @example
 * const s = oneCycle(1e-3);          // pctStart 0.25, div 25, div_final 1e5
 * s(0, 101);   // 4e-5
 * s(25, 101);  // 1e-3
 * s(100, 101); // 1e-8
 */
export function oneCycle(maxLr: number, opts: OneCycleOptions = {}): Schedule {
  checkLr('maxLr', maxLr);
  const pctStart = opts.pctStart ?? 0.25;
  const div = opts.divFactor ?? 25;
  const divFinal = opts.finalDivFactor ?? 1e5;
  checkFraction('pctStart', pctStart);
  for (const [name, v] of [['divFactor', div], ['finalDivFactor', divFinal]] as const) {
    if (!Number.isFinite(v) || v < 1) throw new GraftError('E_BAD_SCHEDULE', `${name} must be >= 1. Received: ${name}=${v}.`);
  }
  const startLr = maxLr / div;
  const endLr = maxLr / divFinal;
  return (step, totalSteps) => {
    const p = progress(step, totalSteps);
    if (pctStart > 0 && p < pctStart) return cosInterp(startLr, maxLr, p / pctStart);
    return cosInterp(maxLr, endLr, pctStart >= 1 ? 1 : (p - pctStart) / (1 - pctStart));
  };
}
