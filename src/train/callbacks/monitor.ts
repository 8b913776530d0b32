import { GraftError } from '../../errors.js';
import type { EpochLogs } from '../fit.js';

/** Epoch-log keys a callback can watch. */
export type MonitorKey = 'loss' | 'acc' | 'valLoss' | 'valAcc';
export type MonitorMode = 'min' | 'max' | 'auto';

const KEYS: readonly MonitorKey[] = ['loss', 'acc', 'valLoss', 'valAcc'];

/**
 * Tracks the best value of one epoch metric (shared by early stopping and best-only checkpoints).
 * `auto` mode maximises accuracies and minimises losses, as Keras does.
 */
export class Monitor {
  readonly key: MonitorKey;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  best: number;
  bestEpoch = -1;

  constructor(key: MonitorKey, mode: MonitorMode = 'auto', minDelta = 0) {
    if (!KEYS.includes(key)) {
      throw new GraftError('E_BAD_MONITOR', `Unknown monitor "${String(key)}".`, `Should be one of: ${KEYS.join(', ')}`);
    }
    if (!Number.isFinite(minDelta) || minDelta < 0) {
      throw new GraftError('E_BAD_MONITOR', `minDelta must be a finite number >= 0. Received: minDelta=${minDelta}.`);
    }
    this.key = key;
    this.mode = mode === 'auto' ? (key.endsWith('cc') ? 'max' : 'min') : mode;
    this.minDelta = minDelta;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** The monitored value; throws a clear error when the logs lack it (e.g. no validation set). */
  read(logs: EpochLogs): number {
    const v = logs[this.key];
    if (v === undefined) {
      const have = KEYS.filter((k) => logs[k] !== undefined);
      throw new GraftError('E_BAD_MONITOR', `Monitor "${this.key}" is not in the epoch logs.`, `Available: ${have.join(', ')}. valLoss/valAcc need a validation source.`);
    }
    return v;
  }

  getState(): { best: number; bestEpoch: number } {
    return { best: this.best, bestEpoch: this.bestEpoch };
  }

  setState(s: unknown): void {
    ({ best: this.best, bestEpoch: this.bestEpoch } = s as { best: number; bestEpoch: number });
  }

  /** Record this epoch; true when it improved on the best by more than `minDelta`. NaN never improves. */
  update(logs: EpochLogs): boolean {
    const v = this.read(logs);
    const better = this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta;
    if (better) {
      this.best = v;
      this.bestEpoch = logs.epoch;
    }
    return better;
  }
}
