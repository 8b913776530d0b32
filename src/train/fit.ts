import { GraftError } from '../errors.js';
import type { StepBatch, TrainingEngine } from './engine.js';
import { constant, type Schedule } from './schedules.js';

/**
 * A re-iterable source of batches. `batches(epoch)` is called once per epoch (the epoch lets a
 * source reshuffle or re-augment deterministically); `size` is the number of batches per epoch,
 * used for the step count that schedules and progress bars need.
 */
export interface BatchSource {
  batches(epoch: number): AsyncIterable<StepBatch>;
  size: number;
}

export interface BatchLogs {
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  /** 0-based optimisation step across epochs (the schedule's `step`). */
  step: number;
  loss: number;
  acc: number;
  lr: number;
  /** Samples in the batch. */
  size: number;
}

export interface EpochLogs {
  epoch: number;
  /** Sample-weighted mean training loss over the epoch. */
  loss: number;
  acc: number;
  valLoss?: number;
  valAcc?: number;
  /** Rate of the epoch's last step. */
  lr: number;
  seconds: number;
}

export interface History {
  epochs: EpochLogs[];
  /** Why training ended before `epochs`: a callback's reason, or 'aborted' (signal). */
  stopReason?: string;
  aborted?: boolean;
}

/**
 * Shared state every hook receives. A callback stops training the Keras way, by setting
 * `ctx.stopTraining = true` (or calling `ctx.stop(reason)`): the current batch finishes, the
 * epoch is validated and closed (`onEpochEnd` runs), then `onTrainEnd` runs.
 */
export interface FitContext {
  readonly engine: TrainingEngine;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly history: History;
  /** Steps completed so far. */
  step: number;
  stopTraining: boolean;
  stop(reason?: string): void;
}

/**
 * Where a fit stood after an epoch and all its callbacks: with the engine's `getState()`, enough
 * to continue the run exactly where it was (`FitOptions.resume`).
 */
export interface FitResume {
  /** The next epoch to run (== epochs when the run had finished). */
  epoch: number;
  /** Steps completed. */
  step: number;
  history: EpochLogs[];
  /** True when a callback had stopped training (early stopping). */
  stopped: boolean;
  stopReason?: string;
  /** Each callback's `getState()`, by position in `callbacks` (undefined for stateless ones). */
  callbacks: unknown[];
}

/** Keras hook names; every hook is optional and may be async (fit awaits it). */
export interface Callback {
  /** State a resumed run needs (JSON values and Float32Arrays); stateless callbacks omit it. */
  getState?(): unknown;
  /** Put back a `getState()` value; called after `onTrainBegin` of a resumed fit. */
  setState?(state: unknown): void;
  onTrainBegin?(ctx: FitContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: FitContext): void | Promise<void>;
  onBatchBegin?(batch: number, ctx: FitContext): void | Promise<void>;
  onBatchEnd?(logs: BatchLogs, ctx: FitContext): void | Promise<void>;
  onEpochEnd?(logs: EpochLogs, ctx: FitContext): void | Promise<void>;
  onTrainEnd?(history: History, ctx: FitContext): void | Promise<void>;
}

export const HOOK_NAMES = ['onTrainBegin', 'onEpochBegin', 'onBatchBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;

export interface FitOptions {
  epochs: number;
  /** Per-step learning rate; defaults to `constant(lr)`. */
  schedule?: Schedule;
  /** Rate for the default constant schedule (default 1e-3). Ignored when `schedule` is given. */
  lr?: number;
  callbacks?: Callback[];
  /** Abort: training stops at the next batch boundary; the partial epoch is not logged. */
  signal?: AbortSignal;
  /** Epoch to start at (Keras `initialEpoch`), for resuming from a checkpoint. */
  initialEpoch?: number;
  /**
   * Continue a run from its {@link FitResume} (the engine's state must be put back by the
   * caller): history, step, callback states and a stop decision are restored.
   */
  resume?: FitResume;
  /** Called after every epoch once all callbacks ran, with what `resume` needs to continue from there. */
  save?(resume: FitResume): Promise<void>;
}

/**
 * Train `engine` for `opts.epochs` epochs. The loop only runs steps and emits events; progress
 * bars, early stopping, checkpoints and logs are callbacks.
 *
 * @example
 * const history = await fit(engine, { train, val }, {
 *   epochs: 10,
 *   schedule: oneCycle(1e-3),
 *   callbacks: [progressBar(), earlyStopping({ monitor: 'valLoss', patience: 2, restoreBestWeights: true })],
 * });
 * console.log(history.epochs.at(-1)?.valAcc);
 */
export async function fit(engine: TrainingEngine, data: { train: BatchSource; val?: BatchSource }, opts: FitOptions): Promise<History> {
  const { epochs, resume } = opts;
  const initialEpoch = resume?.epoch ?? opts.initialEpoch ?? 0;
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new GraftError('E_BAD_EPOCHS', `epochs must be an integer >= 1. Received: epochs=${epochs}.`);
  }
  if (resume && (resume.epoch > epochs || resume.callbacks.length !== (opts.callbacks ?? []).length)) {
    throw new GraftError('E_RESUME_MISMATCH', `The checkpoint does not fit this run: it stopped at epoch ${resume.epoch} with ${resume.callbacks.length} callback(s); this run has ${epochs} epochs and ${(opts.callbacks ?? []).length} callback(s).`, 'Resume with the options that started the run, or start over.');
  }
  if (!resume && (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs)) {
    throw new GraftError('E_BAD_EPOCHS', `initialEpoch must be an integer in [0, epochs). Received: initialEpoch=${initialEpoch}, epochs=${epochs}.`);
  }
  const stepsPerEpoch = data.train.size;
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) {
    throw new GraftError('E_EMPTY_DATA', `The training source must have size >= 1 batch. Received: size=${stepsPerEpoch}.`, 'Check that the training split holds images.');
  }
  const schedule = opts.schedule ?? constant(opts.lr ?? 1e-3);
  const callbacks = opts.callbacks ?? [];
  const totalSteps = epochs * stepsPerEpoch;
  const history: History = { epochs: [] };
  const ctx: FitContext = {
    engine,
    epochs,
    stepsPerEpoch,
    totalSteps,
    history,
    step: initialEpoch * stepsPerEpoch,
    stopTraining: false,
    stop(reason) {
      ctx.stopTraining = true;
      if (reason && !history.stopReason) history.stopReason = reason;
    },
  };
  const emit = async <K extends (typeof HOOK_NAMES)[number]>(hook: K, ...args: Parameters<NonNullable<Callback[K]>>) => {
    for (const cb of callbacks) {
      const fn = cb[hook] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (fn) await fn.apply(cb, args);
    }
  };
  const aborted = () => opts.signal?.aborted === true;

  await emit('onTrainBegin', ctx);
  if (resume) {
    history.epochs.push(...resume.history);
    ctx.step = resume.step;
    callbacks.forEach((cb, i) => resume.callbacks[i] != null && cb.setState?.(resume.callbacks[i]));
    if (resume.stopped) ctx.stop(resume.stopReason);
  }
  for (let epoch = initialEpoch; epoch < epochs && !ctx.stopTraining && !aborted(); epoch++) {
    await emit('onEpochBegin', epoch, ctx);
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    let lr = NaN;
    let batch = 0;
    for await (const b of data.train.batches(epoch)) {
      if (aborted()) break;
      await emit('onBatchBegin', batch, ctx);
      // Sources may yield more batches than `size` claims; clamp so schedules stay in range.
      lr = schedule(Math.min(ctx.step, totalSteps - 1), totalSteps);
      const r = await engine.trainStep(b, lr);
      lossSum += r.loss * r.count;
      correct += r.correct;
      count += r.count;
      await emit('onBatchEnd', { epoch, batch, step: ctx.step, loss: r.loss, acc: r.count ? r.correct / r.count : NaN, lr, size: r.count }, ctx);
      ctx.step++;
      batch++;
      if (ctx.stopTraining) break;
    }
    if (aborted()) break;
    if (count === 0) {
      throw new GraftError('E_EMPTY_DATA', `Epoch ${epoch} yielded no training samples (size says ${stepsPerEpoch} batches).`, 'Check the training source.');
    }
    const logs: EpochLogs = { epoch, loss: lossSum / count, acc: correct / count, lr, seconds: 0 };
    if (data.val) Object.assign(logs, await validate(engine, data.val, epoch, opts.signal));
    if (aborted()) break;
    logs.seconds = (performance.now() - t0) / 1000;
    history.epochs.push(logs);
    await emit('onEpochEnd', logs, ctx);
    await opts.save?.({ epoch: epoch + 1, step: ctx.step, history: [...history.epochs], stopped: ctx.stopTraining, stopReason: history.stopReason, callbacks: callbacks.map((cb) => cb.getState?.()) });
  }
  if (aborted()) {
    history.aborted = true;
    history.stopReason ??= 'aborted';
  }
  await emit('onTrainEnd', history, ctx);
  return history;
}

/** Sample-weighted loss and accuracy over a whole source, without updating weights. */
export async function validate(engine: TrainingEngine, source: BatchSource, epoch = 0, signal?: AbortSignal): Promise<{ valLoss: number; valAcc: number }> {
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  for await (const b of source.batches(epoch)) {
    if (signal?.aborted) break;
    const r = await engine.evaluate(b);
    lossSum += r.loss * r.count;
    correct += r.correct;
    count += r.count;
  }
  return { valLoss: count ? lossSum / count : NaN, valAcc: count ? correct / count : NaN };
}
