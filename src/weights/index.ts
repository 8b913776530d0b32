import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec, ZooOptions } from '../zoo/types.js';
import { loadWeightsInOrder, type LoadByNameResult } from './by-name.js';
import { fetchWeights, hashFile, weightsCacheDir, type DownloadProgressEvent } from './cache.js';
import { archKey, imagenetWeightFile } from './imagenet.js';
import { loadKerasWeightsByName, readKerasH5 } from './keras-h5.js';
import { NSFWJS_ARCHS, isNsfwjsArch, readNsfwjsWeights } from './nsfwjs.js';
import { loadTfjsWeightsByName } from './tfjs-layers.js';

export type { WeightEntry, LayerWeightsMap, LoadByNameOptions, LoadByNameResult } from './by-name.js';
export { loadWeightsByName, loadWeightsInOrder } from './by-name.js';
export { readKerasH5, writeKerasH5, saveModelAsKerasH5, loadKerasWeightsByName } from './keras-h5.js';
export { fetchWeights, hashFile, weightsCacheDir, kerasModelsDir, type WeightFile, type DownloadProgressEvent } from './cache.js';
export { IMAGENET_WEIGHTS, imagenetWeightFile } from './imagenet.js';
export { readNsfwjsArtifacts, readNsfwjsWeights, NSFWJS_ARCHS, NSFWJS_INFO } from './nsfwjs.js';
export { readTfjsWeights, loadTfjsWeightsByName } from './tfjs-layers.js';

/**
 * What `applyWeights` loaded: the source (`imagenet`, `nsfwjs@4.3.0`, a path or URL), the
 * sha256 of the weight bytes (the file; for nsfwjs and model.json the concatenated shards),
 * the local file, and the model layers left as initialised (with `skipMismatch`, or a new head).
 */
export interface LoadedWeightsInfo {
  source: string;
  sha256?: string;
  file?: string;
  skipped: string[];
  /** Layers of the file that no model layer took (e.g. nsfwjs' 5-class head, dropped). */
  dropped?: string[];
  /** Number of model layers whose weights were set. */
  loadedLayers?: number;
}

const VALID_FORMS = "'imagenet', 'nsfwjs', 'none' (or null), a local path ending in .h5 or .json (a TF.js model.json), or an http(s):// URL of a .h5 file or model.json";

export interface ApplyWeightsExtras {
  onProgress?: (e: DownloadProgressEvent) => void;
}

function info(source: string, r: LoadByNameResult, extra: { sha256?: string; file?: string }): LoadedWeightsInfo {
  return { source, ...extra, skipped: r.skipped, dropped: r.unused, loadedLayers: r.loaded.length };
}

/** Graft's own classifier layer: Keras' `predictions` (the name the ImageNet config records). */
function classifierOf(spec: ArchitectureSpec): string {
  return spec.pretrained?.imagenet?.classifier ?? 'predictions';
}

async function loadImagenet(model: tf.LayersModel, spec: ArchitectureSpec, opts: ZooOptions, x: ApplyWeightsExtras): Promise<LoadedWeightsInfo> {
  const includeTop = opts.includeTop ?? true;
  if (includeTop && opts.classes !== undefined && opts.classes !== 1000) {
    throw new GraftError(
      'E_WEIGHTS_CLASSES',
      `If using weights: 'imagenet' with includeTop: true, classes should be 1000. Received: classes=${opts.classes}.`,
      'Use includeTop: false (and add your own head), or classes: 1000.',
    );
  }
  const wf = imagenetWeightFile(spec.name, { includeTop, inputShape: opts.inputShape });
  const file = await fetchWeights(wf, { onProgress: x.onProgress });
  const weights = await readKerasH5(file);
  let r: LoadByNameResult;
  try {
    r = loadKerasWeightsByName(model, weights, { skipMismatch: opts.skipMismatch });
  } catch (byName) {
    // Keras loads these files in layer order, not by name; some names drifted since they were
    // saved (MobileNetV2's `Logits` is `predictions` today). Same rule here, by-name error if not.
    try {
      r = loadWeightsInOrder(model, weights);
    } catch {
      throw byName;
    }
  }
  return info('imagenet', r, { file, sha256: await hashFile(file, 'sha256') });
}

function loadNsfwjs(model: tf.LayersModel, spec: ArchitectureSpec, opts: ZooOptions): LoadedWeightsInfo {
  const arch = archKey(spec.name);
  if (!isNsfwjsArch(arch)) {
    throw new GraftError(
      'E_WEIGHTS_SOURCE',
      `weights: 'nsfwjs' exists only for ${NSFWJS_ARCHS.join(' and ')}. Received architecture "${spec.name}".`,
      `Use one of: ${NSFWJS_ARCHS.join(', ')}; or weights: 'imagenet' / 'none' for "${spec.name}".`,
    );
  }
  const { weights, sha256, version } = readNsfwjsWeights(arch);
  // nsfwjs' head (Flatten → 256 → 128 → 5) is never part of a Graft architecture: dropped and
  // reported. With includeTop, Graft's own classifier stays as initialised.
  const keep = (opts.includeTop ?? true) ? [classifierOf(spec)] : [];
  const r = loadKerasWeightsByName(model, weights, { skipMismatch: opts.skipMismatch, allowExtra: true, keep });
  return info(`nsfwjs@${version}`, r, { sha256 });
}

async function loadLocal(model: tf.LayersModel, file: string, opts: ZooOptions): Promise<LoadedWeightsInfo> {
  if (!fs.existsSync(file)) {
    throw new GraftError('E_WEIGHTS_NOT_FOUND', `No weights file at ${file}.`, `weights should be ${VALID_FORMS}.`);
  }
  if (file.endsWith('.json')) {
    const r = loadTfjsWeightsByName(model, file, { skipMismatch: opts.skipMismatch });
    return info(file, r, { file, sha256: r.sha256 });
  }
  const r = loadKerasWeightsByName(model, await readKerasH5(file), { skipMismatch: opts.skipMismatch });
  return info(file, r, { file, sha256: await hashFile(file, 'sha256') });
}

/** URL → a stable cache name: `url-<sha256(url)[:12]>-<basename>`; a model.json gets a folder. */
async function loadUrl(model: tf.LayersModel, url: string, opts: ZooOptions, x: ApplyWeightsExtras): Promise<LoadedWeightsInfo> {
  const u = new URL(url);
  const base = path.posix.basename(u.pathname) || 'weights';
  const tag = `url-${crypto.createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
  if (base.endsWith('.json')) {
    const dir = path.join(weightsCacheDir(), tag);
    const json = await fetchWeights({ fileName: base, url, hash: null }, { cacheDir: dir, onProgress: x.onProgress });
    const manifest = JSON.parse(fs.readFileSync(json, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
    for (const g of manifest.weightsManifest ?? []) {
      for (const p of g.paths) {
        const rel = path.posix.normalize(p);
        if (rel.startsWith('..') || path.posix.isAbsolute(rel)) {
          throw new GraftError('E_WEIGHTS_FORMAT', `model.json at ${url} names a shard outside its folder: "${p}".`, 'Shard paths must be relative to model.json.');
        }
        await fetchWeights({ fileName: rel, url: new URL(p, url).href, hash: null }, { cacheDir: dir, onProgress: x.onProgress });
      }
    }
    const r = loadTfjsWeightsByName(model, json, { skipMismatch: opts.skipMismatch });
    return info(url, r, { file: json, sha256: r.sha256 });
  }
  if (!base.endsWith('.h5')) {
    throw new GraftError('E_WEIGHTS_SOURCE', `A weights URL must end in .h5 or .json. Received: ${url}`, `weights should be ${VALID_FORMS}.`);
  }
  const file = await fetchWeights({ fileName: `${tag}-${base}`, url, hash: null }, { onProgress: x.onProgress });
  const r = loadKerasWeightsByName(model, await readKerasH5(file), { skipMismatch: opts.skipMismatch });
  return info(url, r, { file, sha256: await hashFile(file, 'sha256') });
}

/**
 * Load `opts.weights` (a source id, local path or URL) into `model` by layer name.
 * Returns a description of what was loaded (source, sha256 of the file(s), skipped layers).
 *
 * @example
 * const model = spec.build({ includeTop: false, pooling: 'avg' });
 * const info = await applyWeights(model, spec, { includeTop: false, weights: 'nsfwjs' });
 * // { source: 'nsfwjs@4.3.0', sha256: '…', skipped: [], dropped: ['dense_1', 'dense_2', 'dense_3'] }
 */
export async function applyWeights(model: tf.LayersModel, spec: ArchitectureSpec, opts: ZooOptions, extras: ApplyWeightsExtras = {}): Promise<LoadedWeightsInfo> {
  const w = opts.weights;
  if (w === undefined || w === null || w === 'none') return { source: 'none', skipped: [] };
  if (w === 'imagenet') return loadImagenet(model, spec, opts, extras);
  if (w === 'nsfwjs') return loadNsfwjs(model, spec, opts);
  if (/^https?:\/\//i.test(w)) return loadUrl(model, w, opts, extras);
  if (w.endsWith('.h5') || w.endsWith('.json')) return loadLocal(model, path.resolve(w), opts);
  throw new GraftError('E_WEIGHTS_SOURCE', `Unknown weights "${w}".`, `weights should be ${VALID_FORMS}.`);
}
