import { GraftError } from '../errors.js';
import { Rng } from '../data/rng.js';
import type { StepBatch } from './engine.js';

/**
 * Rows in a batch, after checking that `x` fills `xShape` and there is one label per row. Shared
 * by every training engine so they reject bad batches with the same error.
 */
export function checkBatch(b: StepBatch): number {
  const n = b.xShape[0];
  const size = b.xShape.reduce((a, c) => a * c, 1);
  if (!Number.isInteger(n) || n <= 0 || b.x.length !== size) {
    throw new GraftError('E_BATCH_SHAPE', `Batch x has ${b.x.length} values but xShape [${b.xShape.join(', ')}] needs ${size} (and at least one row).`);
  }
  if (b.y.length !== n) throw new GraftError('E_BATCH_SHAPE', `Batch has ${n} rows but ${b.y.length} labels.`);
  return n;
}

/** A seeded generator for dropout (Graft's one PRNG, data/rng.ts); unseeded → random. Its state travels in checkpoints. */
export function dropoutStream(seed?: number): Rng {
  return new Rng(seed ?? Math.floor(Math.random() * 2 ** 32));
}
