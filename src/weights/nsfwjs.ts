import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { GraftError } from '../errors.js';
import type { LayerWeightsMap } from './by-name.js';
import { decodeTfjsWeights } from './tfjs-layers.js';

const require = createRequire(import.meta.url);

/**
 * Graft's embedded pretrained weights: the TF.js layers models shipped in the npm package
 * `nsfwjs` (MIT, © Infinite Red). Keras 2.2.4 MobileNetV2 (alpha 1.0, 224) and InceptionV3 (299),
 * ImageNet-initialised and fine-tuned by that project to 5 classes (Drawing, Hentai, Neutral,
 * Porn, Sexy) with a head `Flatten → dense_1(256, relu) → dense_2(128, relu) → dense_3(5, softmax)`
 * on a 7×7 / 8×8 AveragePooling2D. Weights are uint8-quantised (TF.js dequantises on decode).
 *
 * Preprocessing they expect (nsfwjs `NSFWJS.infer`): RGB pixels / 255 → [0, 1] (Graft's `raw01`),
 * no mean/std; images resized with `tf.image.resizeBilinear(…, alignCorners = true)` to 224 / 299.
 */
export const NSFWJS_ARCHS = ['mobilenet_v2', 'inception_v3'] as const;
export type NsfwjsArch = (typeof NSFWJS_ARCHS)[number];

export const NSFWJS_INFO = Object.freeze({
  preprocess: 'raw01' as const,
  interpolation: 'bilinear' as const,
  classNames: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const,
  inputSize: { mobilenet_v2: [224, 224], inception_v3: [299, 299] } as const,
  /** Layers of nsfwjs' own head, never part of a Graft architecture. */
  headLayers: ['flatten_1', 'dense_1', 'dropout_2', 'dense_2', 'dropout_3', 'dense_3'] as const,
  /** nsfwjs' pooled-feature layer (AveragePooling2D + Flatten = global average pooling at the native size). */
  pooledLayer: 'flatten_1',
  license: 'MIT (nsfwjs, Infinite Red)',
});

/** The raw artifacts: Keras topology, weight specs, and the concatenated (quantised) bytes. */
export interface NsfwjsArtifacts {
  arch: NsfwjsArch;
  modelTopology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** sha256 of `weightData`: Graft's hash for these weights. */
  sha256: string;
  version: string;
}

function nsfwjsRoot(): string {
  let main: string;
  try {
    main = require.resolve('nsfwjs'); // <root>/dist/cjs/index.js; package.json is not exported
  } catch {
    throw new GraftError('E_WEIGHTS_UNAVAILABLE', 'The npm package "nsfwjs" is not installed, so weights: \'nsfwjs\' cannot be loaded.', 'Install it (npm install nsfwjs) or use another weights source.');
  }
  return path.resolve(path.dirname(main), '..', '..');
}

/**
 * A shard module is a browserify bundle whose one job is `h.exports="<base64>"`. Reading the
 * string out directly avoids evaluating ~30 MB of JavaScript; fall back to require otherwise.
 */
function readShard(file: string): Buffer {
  const text = fs.readFileSync(file, 'latin1');
  const m = /exports\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(text);
  const b64: string = m ? m[1] : (require(file) as string);
  return Buffer.from(b64, 'base64');
}

const cache = new Map<NsfwjsArch, NsfwjsArtifacts>();

/**
 * Load nsfwjs' model artifacts for one architecture from `node_modules/nsfwjs/dist/models`.
 * Cached per process.
 *
 * @example
 * const art = readNsfwjsArtifacts('mobilenet_v2');
 * const ref = await tf.loadLayersModel(tf.io.fromMemory(art)); // nsfwjs' own 5-class model
 */
export function readNsfwjsArtifacts(arch: NsfwjsArch): NsfwjsArtifacts {
  const hit = cache.get(arch);
  if (hit) return hit;
  const root = nsfwjsRoot();
  const dir = path.join(root, 'dist', 'models', arch);
  const mod = require(path.join(dir, 'model.min.js')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  const buffers: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of mod.weightsManifest) {
    for (const p of group.paths) buffers.push(readShard(path.join(dir, `${p}.min.js`)));
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const art: NsfwjsArtifacts = {
    arch,
    modelTopology: mod.modelTopology,
    weightSpecs,
    weightData,
    sha256: crypto.createHash('sha256').update(all).digest('hex'),
    version,
  };
  cache.set(arch, art);
  return art;
}

/**
 * nsfwjs' weights, dequantised, by layer name.
 *
 * @example
 * const { weights, sha256 } = readNsfwjsWeights('inception_v3');
 */
export function readNsfwjsWeights(arch: NsfwjsArch): { weights: LayerWeightsMap; sha256: string; version: string } {
  const art = readNsfwjsArtifacts(arch);
  return { weights: decodeTfjsWeights(art.weightSpecs, art.weightData), sha256: art.sha256, version: art.version };
}

export function isNsfwjsArch(name: string): name is NsfwjsArch {
  return (NSFWJS_ARCHS as readonly string[]).includes(name);
}
