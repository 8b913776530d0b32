import type { GraftEventHandler } from '../events.js';
/**
 * The model registry: the only place that lists Graft's architectures (timm style). CLI, docs and
 * tests enumerate `listModels()`; registering a spec enrols it in all of them.
 */
import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { ensureTf } from '../engine/tfjs/backend.js';
import type { LoadedWeightsInfo } from '../weights/index.js';
import { efficientnetB0Spec } from './efficientnet.js';
import { inceptionV3Spec } from './inception-v3.js';
import { mobilenetV2Spec } from './mobilenet-v2.js';
import { resnet101Spec, resnet152Spec, resnet50Spec } from './resnet.js';
import type { ArchitectureSpec, PretrainedConfig, ZooOptions } from './types.js';
import { vgg16Spec, vgg19Spec } from './vgg.js';

const REGISTRY = new Map<string, ArchitectureSpec>();

/**
 * Adds an architecture to the zoo. A name can be registered once.
 *
 * @example
 * registerModel({ ...mobilenetV2Spec, name: 'my_mobilenet' });
 */
export function registerModel(spec: ArchitectureSpec): void {
  if (REGISTRY.has(spec.name)) {
    throw new GraftError('E_DUPLICATE_MODEL', `A model named "${spec.name}" is already registered.`, 'Register it under another name.');
  }
  REGISTRY.set(spec.name, spec);
}

/** Every registered architecture, in registration order. @example listModels().map((s) => s.name) */
export function listModels(): ArchitectureSpec[] {
  return [...REGISTRY.values()];
}

/**
 * The spec of one architecture; an unknown name throws `E_UNKNOWN_MODEL` listing the valid ones.
 *
 * @example
 * getModelSpec('resnet50').blockOutput('conv4'); // 'conv4_block6_out'
 */
export function getModelSpec(name: string): ArchitectureSpec {
  const spec = REGISTRY.get(name);
  if (!spec) {
    throw new GraftError('E_UNKNOWN_MODEL', `Unknown model "${name}".`, `Should be one of: ${[...REGISTRY.keys()].join(', ')}`);
  }
  return spec;
}

/**
 * Builds an architecture with random weights (Keras initialisers), synchronously.
 *
 * @example
 * const m = buildModel('mobilenet_v2', { includeTop: false, inputShape: [96, 96, 3], pooling: 'avg' });
 */
export function buildModel(name: string, opts: ZooOptions = {}): tf.LayersModel {
  return getModelSpec(name).build(opts);
}

export interface CreatedModel {
  model: tf.LayersModel;
  spec: ArchitectureSpec;
  /** What was loaded (null for random weights). */
  weights: LoadedWeightsInfo | null;
  /** The config of the named weight source (null for random weights, files and URLs). */
  pretrained: PretrainedConfig | null;
}

/** A weights value that names a source ('imagenet', 'nsfwjs') rather than a file or URL. */
const isSourceId = (w: string) => /^[a-z][a-z0-9_-]*$/i.test(w) && !/\.(h5|hdf5|json|keras|onnx)$/i.test(w);

/**
 * Builds an architecture and, when `opts.weights` is given (not 'none' / null), loads those
 * weights into it by layer name.
 *
 * @example
 * const { model, pretrained } = await createModel('mobilenet_v2', { weights: 'nsfwjs', includeTop: false });
 * pretrained?.preprocess; // 'raw01'
 */
export async function createModel(name: string, opts: ZooOptions = {}, extras: { onEvent?: GraftEventHandler } = {}): Promise<CreatedModel> {
  const spec = getModelSpec(name);
  const w = opts.weights ?? null;
  const random = w === null || w === 'none';
  if (!random && isSourceId(w) && !(w in spec.pretrained)) {
    throw new GraftError(
      'E_UNKNOWN_WEIGHTS',
      `${name} has no pretrained weights "${w}".`,
      `Should be one of: ${[...Object.keys(spec.pretrained), 'none'].join(', ')}, or a local .h5 / model.json path or an https:// URL.`,
    );
  }
  // A backend must be ready before layers are built (the README's first example relies on it).
  await ensureTf();
  const model = spec.build(opts);
  if (random) return { model, spec, weights: null, pretrained: null };
  try {
    // Imported on demand: the weight loaders (h5wasm, caches) are only needed when loading.
    const { applyWeights } = await import('../weights/index.js');
    const info = await applyWeights(model, spec, opts, { onProgress: extras.onEvent });
    return { model, spec, weights: info, pretrained: spec.pretrained[w] ?? null };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

for (const spec of [vgg16Spec, vgg19Spec, resnet50Spec, resnet101Spec, resnet152Spec, inceptionV3Spec, mobilenetV2Spec, efficientnetB0Spec]) {
  registerModel(spec);
}
