/**
 * Checkpoint savers must write atomically: a run killed mid-save must leave the previous
 * checkpoint readable, never a torn file. `atomicWriteFile` writes a temporary file in the same
 * folder, fsyncs it and renames it over the target (rename within one folder is atomic on POSIX).
 * It is Graft's one implementation (src/io/atomic.ts), re-exported here beside the callbacks that
 * need it.
 *
 * @example
 * checkpoint(async ({ epoch, engine }) => {
 *   const bytes = serialise(engine.getWeights());
 *   await atomicWriteFile(`runs/ckpt/epoch-${epoch}.bin`, bytes);
 * });
 */
export { atomicWrite as atomicWriteFile, atomicWriteSync as atomicWriteFileSync } from '../../io/atomic.js';
