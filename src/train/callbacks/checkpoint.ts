import { GraftError } from '../../errors.js';
import type { TrainingEngine } from '../engine.js';
import type { Callback, EpochLogs, FitContext } from '../fit.js';
import { Monitor, type MonitorKey, type MonitorMode } from './monitor.js';

export interface CheckpointInfo {
  epoch: number;
  logs: EpochLogs;
  engine: TrainingEngine;
  /** True when this epoch is the best so far (only tracked with `saveBestOnly`). */
  best: boolean;
}

/**
 * Saves one checkpoint. It MUST write atomically (temporary file + fsync + rename, e.g. with
 * `atomicWriteFile` from ./atomic.js): a run killed mid-save must leave the previous checkpoint
 * intact. Call `engine.syncToModel()` first if you serialise the TF.js model rather than
 * `engine.getWeights()`.
 */
export type CheckpointSaver = (info: CheckpointInfo) => Promise<void>;

export interface CheckpointOptions {
  /** Save every N epochs (default 1). The last epoch is always saved. */
  every?: number;
  /** Save only when `monitor` improves. */
  saveBestOnly?: boolean;
  monitor?: MonitorKey;
  mode?: MonitorMode;
}

/**
 * Call `save` at the end of every epoch (or every N, or only on improvement). Training waits for
 * the save, so a checkpoint on disk always matches a finished epoch.
 *
 * @example
 * checkpoint(async ({ epoch, engine }) => {
 *   await engine.syncToModel();
 *   await atomicWriteFile(`ckpt/epoch.json`, JSON.stringify({ epoch }));
 * }, { saveBestOnly: true, monitor: 'valLoss' });
 */
export function checkpoint(save: CheckpointSaver, opts: CheckpointOptions = {}): Callback {
  const every = opts.every ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new GraftError('E_BAD_CALLBACK', `every must be an integer >= 1. Received: every=${every}.`);
  }
  if (typeof save !== 'function') {
    throw new GraftError('E_BAD_CALLBACK', `checkpoint needs an async save function. Received: ${typeof save}.`);
  }
  const newMonitor = () => new Monitor(opts.monitor ?? 'valLoss', opts.mode);
  let monitor = newMonitor();
  return {
    onTrainBegin() {
      monitor = newMonitor();
    },
    getState: () => monitor.getState(),
    setState: (st: unknown) => monitor.setState(st),
    async onEpochEnd(logs: EpochLogs, ctx: FitContext) {
      if (opts.saveBestOnly) {
        if (monitor.update(logs)) await save({ epoch: logs.epoch, logs, engine: ctx.engine, best: true });
        return;
      }
      const last = logs.epoch === ctx.epochs - 1 || ctx.stopTraining;
      if ((logs.epoch + 1) % every === 0 || last) await save({ epoch: logs.epoch, logs, engine: ctx.engine, best: false });
    },
  };
}
