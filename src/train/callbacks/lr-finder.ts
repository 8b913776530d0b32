import type { Callback } from '../fit.js';
import type { Schedule } from '../schedules.js';

export interface LrFinderOptions {
  /** Stop after this many steps. */
  steps: number;
  /** Exponential smoothing of the loss (fastai: 0.98). */
  beta: number;
  /** Stop once the smoothed loss exceeds this × the best one (fastai: 4). */
  divergeFactor: number;
}

export interface LrFinderRecord {
  lrs: number[];
  /** Debiased exponential moving average of the batch loss. */
  losses: number[];
  rawLosses: number[];
  /** True when the sweep stopped because the loss blew up (the normal ending). */
  diverged: boolean;
}

/**
 * The learning-rate finder as a callback on `fit` (fastai's LRFinder): records each step's rate
 * and smoothed loss, and stops training at `steps` or when the loss diverges. Pair it with an
 * exponential schedule (`exponentialSweep`); `lrFind` does both and restores the weights.
 *
 * @example
 * const finder = lrFinder({ steps: 100, beta: 0.98, divergeFactor: 4 });
 * await fit(engine, { train }, { epochs: 10, schedule: exponentialSweep(1e-7, 10, 100), callbacks: [finder] });
 * finder.result().losses;
 */
export function lrFinder(o: LrFinderOptions): Callback & { result(): LrFinderRecord } {
  const rec: LrFinderRecord = { lrs: [], losses: [], rawLosses: [], diverged: false };
  let avg = 0;
  let best = Infinity;
  return {
    onBatchEnd(logs, ctx) {
      const i = rec.lrs.length;
      avg = o.beta * avg + (1 - o.beta) * logs.loss;
      const smooth = avg / (1 - o.beta ** (i + 1));
      rec.lrs.push(logs.lr);
      rec.rawLosses.push(logs.loss);
      rec.losses.push(smooth);
      if (smooth < best) best = smooth;
      if (!Number.isFinite(smooth) || (i > 0 && smooth > o.divergeFactor * best)) {
        rec.diverged = true;
        ctx.stop('loss diverged');
      } else if (rec.lrs.length >= o.steps) ctx.stop('sweep complete');
    },
    result: () => rec,
  };
}

/**
 * The finder's schedule: the rate grows exponentially from `minLr` at step 0 to `maxLr` at
 * step `steps - 1` (and stays there).
 */
export function exponentialSweep(minLr: number, maxLr: number, steps: number): Schedule {
  return (step) => minLr * (maxLr / minLr) ** (Math.min(step, steps - 1) / (steps - 1));
}
