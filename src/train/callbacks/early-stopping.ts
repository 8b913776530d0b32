import { GraftError } from '../../errors.js';
import type { Callback, EpochLogs, FitContext } from '../fit.js';
import { Monitor, type MonitorKey, type MonitorMode } from './monitor.js';

export interface EarlyStoppingOptions {
  /** Metric to watch (default 'valLoss'). */
  monitor?: MonitorKey;
  mode?: MonitorMode;
  /**
   * Epochs without improvement after which training stops (Keras semantics and default 0:
   * 0 and 1 both stop at the first epoch that does not improve).
   */
  patience?: number;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /**
   * Keep a copy of the weights of the best epoch and put them back when training ends. Unlike
   * Keras, which restores only when it actually stops early, this also restores when training
   * runs out of epochs after the best one: the model you get is always the best one seen.
   */
  restoreBestWeights?: boolean;
}

export interface EarlyStoppingCallback extends Callback {
  /** Epoch at which training was stopped, or -1. */
  readonly stoppedEpoch: number;
  readonly bestEpoch: number;
  readonly best: number;
  /** True when best weights were put back at the end. */
  readonly restored: boolean;
}

/**
 * Stop when `monitor` has not improved for `patience` epochs.
 *
 * @example
 * const es = earlyStopping({ monitor: 'valAcc', patience: 3, restoreBestWeights: true });
 * await fit(engine, { train, val }, { epochs: 50, callbacks: [es] });
 * console.log(es.bestEpoch, es.best);
 */
export function earlyStopping(opts: EarlyStoppingOptions = {}): EarlyStoppingCallback {
  const patience = opts.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) {
    throw new GraftError('E_BAD_CALLBACK', `patience must be an integer >= 0. Received: patience=${patience}.`);
  }
  let monitor = new Monitor(opts.monitor ?? 'valLoss', opts.mode, opts.minDelta ?? 0);
  let wait = 0;
  let bestWeights: Float32Array[] | undefined;
  let lastEpoch = -1;
  const state = {
    stoppedEpoch: -1,
    restored: false,
    get bestEpoch() {
      return monitor.bestEpoch;
    },
    get best() {
      return monitor.best;
    },
    onTrainBegin() {
      monitor = new Monitor(monitor.key, monitor.mode, monitor.minDelta);
      wait = 0;
      bestWeights = undefined;
      state.stoppedEpoch = -1;
      state.restored = false;
    },
    onEpochEnd(logs: EpochLogs, ctx: FitContext) {
      lastEpoch = logs.epoch;
      if (monitor.update(logs)) {
        wait = 0;
        // Copy: an engine may hand out views of buffers it later reuses.
        if (opts.restoreBestWeights) bestWeights = ctx.engine.getWeights().map((w) => w.slice());
        return;
      }
      wait++;
      if (wait >= patience) {
        state.stoppedEpoch = logs.epoch;
        ctx.stop(`early stopping: ${monitor.key} did not improve for ${wait} epoch(s) (best ${monitor.best.toPrecision(4)} at epoch ${monitor.bestEpoch + 1})`);
      }
    },
    getState() {
      return { monitor: monitor.getState(), wait, bestWeights, lastEpoch, stoppedEpoch: state.stoppedEpoch };
    },
    setState(st: unknown) {
      const v = st as { monitor: unknown; wait: number; bestWeights?: Float32Array[]; lastEpoch: number; stoppedEpoch: number };
      monitor.setState(v.monitor);
      [wait, bestWeights, lastEpoch, state.stoppedEpoch] = [v.wait, v.bestWeights, v.lastEpoch, v.stoppedEpoch];
    },
    onTrainEnd(_h: unknown, ctx: FitContext) {
      if (bestWeights && monitor.bestEpoch !== lastEpoch) {
        ctx.engine.setWeights(bestWeights);
        state.restored = true;
      }
      bestWeights = undefined;
    },
  };
  return state;
}
