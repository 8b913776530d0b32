/** Argument parsers shared by the CLI commands' flags. */
import { GraftError } from '../errors.js';

/**
 * Commander parser for a numeric flag: the number, or GraftError 'E_BAD_NUMBER' for text that is
 * not a finite number (so `--seed abc` stops with a clear error instead of passing NaN on).
 *
 * @example
 * cmd.option('--seed <n>', 'random seed', num, 42);
 */
export const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new GraftError('E_BAD_NUMBER', `Expected a number. Received: ${JSON.stringify(v)}.`);
  return n;
};
