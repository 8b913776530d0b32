import { GraftError } from '../../errors.js';
import { HOOK_NAMES, type Callback } from '../fit.js';

/**
 * Build a callback from plain functions, checking the hook names: a typo such as `onEpochEnds`
 * would otherwise be silently ignored.
 *
 * @example
 * const cb = callbackFromFns({ onEpochEnd: (logs) => console.log(logs.epoch, logs.valAcc) });
 */
export function callbackFromFns(fns: Callback): Callback {
  for (const [key, value] of Object.entries(fns)) {
    if (!(HOOK_NAMES as readonly string[]).includes(key)) {
      throw new GraftError('E_BAD_CALLBACK', `Unknown callback hook "${key}".`, `Should be one of: ${HOOK_NAMES.join(', ')}`);
    }
    if (typeof value !== 'function') {
      throw new GraftError('E_BAD_CALLBACK', `Callback hook "${key}" must be a function. Received: ${typeof value}.`);
    }
  }
  return { ...fns };
}
