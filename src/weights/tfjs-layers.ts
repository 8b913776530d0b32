import * as tf from '@tensorflow/tfjs';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import { readModelArtifacts } from '../io/tfjs-files.js';
import { loadWeightsByName, type LayerWeightsMap, type LoadByNameOptions, type LoadByNameResult } from './by-name.js';

/**
 * Decode TF.js weight specs + bytes (float32, or uint8/uint16/float16-quantised: TF.js' own
 * `decodeWeights` dequantises) into plain arrays grouped by layer. A TF.js weight is named
 * `<layer>/<weight>`; the layer is everything before the last `/`.
 *
 * @example
 * const w = decodeTfjsWeights(artifacts.weightSpecs!, artifacts.weightData as ArrayBuffer);
 */
export function decodeTfjsWeights(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): LayerWeightsMap {
  const tensors = tf.io.decodeWeights(data, specs);
  const out: LayerWeightsMap = new Map();
  try {
    for (const spec of specs) {
      const t = tensors[spec.name];
      const cut = spec.name.lastIndexOf('/');
      const layer = cut > 0 ? spec.name.slice(0, cut) : spec.name;
      if (!out.has(layer)) out.set(layer, []);
      out.get(layer)!.push({ name: spec.name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) });
    }
  } finally {
    Object.values(tensors).forEach((t) => t.dispose());
  }
  return out;
}

export interface TfjsWeightsFile {
  weights: LayerWeightsMap;
  /** sha256 of the concatenated weight bytes (all shards, manifest order). */
  sha256: string;
}

/**
 * Read the weights of a TF.js layers model (`model.json` + shards) from disk.
 *
 * @example
 * const { weights, sha256 } = readTfjsWeights('exported/model.json');
 */
export function readTfjsWeights(modelJsonPath: string): TfjsWeightsFile {
  const art = readModelArtifacts(modelJsonPath);
  if (!art.weightSpecs || !art.weightData) {
    throw new GraftError('E_WEIGHTS_FORMAT', `${modelJsonPath} has no weightsManifest.`, 'Point at a TF.js layers model.json saved with its weights.');
  }
  const data = art.weightData as ArrayBuffer;
  const sha256 = crypto.createHash('sha256').update(new Uint8Array(data)).digest('hex');
  return { weights: decodeTfjsWeights(art.weightSpecs, data), sha256 };
}

/**
 * Load weights by layer name from a local TF.js `model.json` into `model`.
 *
 * @example
 * const r = loadTfjsWeightsByName(model, 'other/model.json', { skipMismatch: true });
 */
export function loadTfjsWeightsByName(model: tf.LayersModel, modelJsonPath: string, opts: LoadByNameOptions = {}): LoadByNameResult & { sha256: string } {
  const { weights, sha256 } = readTfjsWeights(modelJsonPath);
  return { ...loadWeightsByName(model, weights, opts), sha256 };
}
