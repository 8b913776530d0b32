// OWNED BY THE WEIGHTS WORK. Contract used by zoo/registry.ts:
import type * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, ZooOptions } from '../zoo/types.js';

/**
 * Load `opts.weights` (a source id, local path or URL) into `model` by layer name.
 * Returns a description of what was loaded (source, sha256 of the file(s), skipped layers).
 */
export interface LoadedWeightsInfo {
  source: string;
  sha256?: string;
  file?: string;
  skipped: string[];
}
export declare function applyWeights(model: tf.LayersModel, spec: ArchitectureSpec, opts: ZooOptions): Promise<LoadedWeightsInfo>;
