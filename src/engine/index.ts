import type * as tf from '@tensorflow/tfjs';
import { isGraftError } from '../errors.js';
import { createOrtEngine } from './ort-train/index.js';
import { createTfjsEngine } from './tfjs/engine.js';
import type { EngineOptions, TrainingEngine } from '../train/engine.js';

export type EngineKind = 'ort' | 'tfjs';

export interface CreateEngineOptions {
  /** Told when a model has a layer the ONNX training compiler cannot differentiate yet. */
  onFallback?: (reason: string) => void;
}

/**
 * The one place that picks a training engine for every loop (train, lr-find, curve,
 * pseudo-label): onnxruntime training graphs by default (faster; BENCHMARKS.md), TF.js on wasm
 * when asked or when a layer has no ONNX gradient yet. The engine's `name` says which ran.
 *
 * @example
 * const engine = await createEngine('ort', top, { optimizer: { type: 'adam', lr: 1e-3 } });
 * await fit(engine, { train }, { epochs: 5 });
 */
export async function createEngine(kind: EngineKind, model: tf.LayersModel, opts: EngineOptions, o: CreateEngineOptions = {}): Promise<TrainingEngine> {
  if (kind === 'ort') {
    try {
      return await createOrtEngine(model, opts);
    } catch (err) {
      if (!(isGraftError(err) && err.code === 'E_ORT_TRAIN_UNSUPPORTED')) throw err;
      o.onFallback?.(`${err.message.split('\n')[0]} Falling back to the TF.js engine.`);
    }
  }
  return createTfjsEngine(model, opts);
}

/** The label recorded in graft.json for an engine that ran ('ort' | 'tfjs-wasm'). */
export function engineLabel(e: TrainingEngine): string {
  return e.name.startsWith('ort') ? 'ort' : e.name === 'static-head' ? 'static' : 'tfjs-wasm';
}
