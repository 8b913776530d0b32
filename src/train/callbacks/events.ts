import type { GraftEventHandler } from '../../events.js';
import type { Callback } from '../fit.js';
import { metrics } from './progress.js';

/**
 * Training progress as Graft events (events.ts), so the terminal bar, a `--log` file and a
 * library callback see the same thing: a 'progress' event per batch (task 'train'), an 'info'
 * line per epoch (label 'epoch') and why training stopped early, if it did.
 *
 * @example
 * await fit(engine, { train, val }, { epochs: 5, callbacks: [fitEvents('head', (e) => console.log(e))] });
 */
export function fitEvents(stage: string, onEvent: GraftEventHandler): Callback {
  return {
    onBatchEnd(l, ctx) {
      onEvent({ type: 'progress', task: 'train', label: `${stage} epoch ${l.epoch + 1}/${ctx.epochs}`, loaded: l.batch + 1, total: ctx.stepsPerEpoch, unit: ' batches' });
    },
    onEpochEnd(l, ctx) {
      onEvent({ type: 'info', label: 'epoch', message: `${stage} epoch ${l.epoch + 1}/${ctx.epochs}  ${l.seconds.toFixed(1)}s  ${metrics(l)}` });
    },
    onTrainEnd(h) {
      if (h.stopReason) onEvent({ type: 'info', message: `${stage}: stopped early (${h.stopReason})` });
    },
  };
}
