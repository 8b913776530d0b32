import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { DEFAULTS } from '../env.js';
import type { GraftEventHandler } from '../events.js';
import { initTf } from '../engine/tfjs/backend.js';
import { FrozenBackbone, layersModelHash } from '../engine/ort.js';
import { createModel, getModelSpec } from '../zoo/registry.js';
import type { ArchitectureSpec, PreprocessMode } from '../zoo/types.js';
import { cutModel, splitAt, resolveCut, modelGraph } from '../transfer/surgery.js';
import { HEAD_LAYER_NAMES } from '../transfer/head.js';
import type { Extractor } from '../features/extract.js';
import type { CacheKey } from '../features/cached.js';
import { isGraftModelDir, resolveGraftBackbone } from './graft-dir.js';
import { isOnnxBackbone, loadOnnxBackbone, featureInputModel, type OnnxBackboneHandle } from './onnx.js';

/** The three kinds of backbone, named as graft.json's `backbone.kind` records them. */
export type BackboneKind = 'zoo' | 'onnx' | 'graft';

export interface OpenBackboneOptions {
  /** Zoo weights: 'imagenet' | 'nsfwjs' | 'none' | a file or URL. Default 'nsfwjs'. */
  weights?: string;
  /** Where to cut: a zoo layer or block name, or an ONNX value name. A Graft model directory is cut where its head began. */
  cut?: string;
  /** ONNX backbones: the preprocessing the network expects (default 'torch'); zoo: overrides the weights' own. */
  preprocess?: PreprocessMode;
  /** Square input size; default the weights' (zoo), the graph's (ONNX) or the source model's (Graft). */
  inputSize?: number;
  cacheDir?: string;
  /** Weight-download progress, and a stage line when a frozen graph is first compiled for onnxruntime. */
  onEvent?: GraftEventHandler;
}

/** Where a backbone's weights come from, as graft.json records it. */
export interface BackboneWeights {
  source: string;
  sha256?: string;
  file?: string;
  origin?: string;
  license?: string;
}

/** An opened backbone: what every verb needs to extract features or to put a head on it. */
export interface Backbone {
  kind: BackboneKind;
  /** What the user passed (zoo name, .onnx path or model directory). */
  ref: string;
  /** Architecture (zoo, Graft model directory) or the ONNX file's name. */
  name: string;
  /** The zoo architecture underneath, when known: blocks for fine-tuning and discriminative rates. */
  spec?: ArchitectureSpec;
  inputSize: [number, number];
  preprocess: PreprocessMode;
  /** Where the features are taken (the head goes after it). */
  cut: string;
  weights: BackboneWeights;
  /**
   * TF.js: image → activations at `cut` (zoo and Graft kinds). For an ONNX backbone, an identity
   * model whose input is the ONNX graph's features, so a head can be added the same way.
   */
  base: tf.LayersModel;
  /** The user's ONNX graph (ONNX kind only): for composing the exported pipeline. */
  onnx?: OnnxBackboneHandle;
  /** The feature-cache key of activations at `cut`, or at another named point (a fine-tune cut, pooled). */
  cacheKey(at?: string): CacheKey;
  /**
   * Frozen features on onnxruntime, compiled on first use (a warm cache never compiles). `frozen`
   * is a TF.js prefix of a network built on `base` (default: `base` itself, pooled when `pooling`
   * is given). ONNX backbones run their own graph (pooled in JS when `pooling` is given).
   */
  extractor(o?: { frozen?: tf.LayersModel; pooling?: 'avg' | 'max' }): Extractor;
  /**
   * Zoo and Graft kinds: image → the pooled features at each of `cuts` (layers or blocks at or
   * below `cut`), concatenated in that order, as one TF.js model. The layer producing the
   * (concatenated) vector is named `graft_head_pool`, the name heads and adaptation look for.
   */
  pooledAt?(cuts: string[], pooling: 'avg' | 'max'): tf.LayersModel;
  dispose(): void;
}

/** Which kind `ref` names: an .onnx file, a Graft model directory, else a zoo architecture. */
export function backboneKind(ref: string): BackboneKind {
  return isOnnxBackbone(ref) ? 'onnx' : isGraftModelDir(ref) ? 'graft' : 'zoo';
}

/**
 * The one place that opens a backbone, of any kind: a zoo architecture with its weights, a
 * user's ONNX network (frozen only), or an earlier Graft model directory (chained transfer, cut
 * where its head began). Every verb that needs features or a base for a head comes through here.
 *
 * @example
 * const bb = await openBackbone('mobilenet_v2', { weights: 'nsfwjs' });
 * const ex = bb.extractor({ pooling: 'avg' });            // 1280-d vectors on onnxruntime
 * const r = await cachedExtract(ex, items, bb.cacheKey(`${bb.cut}+avgpool`));
 * bb.dispose();
 */
export async function openBackbone(ref: string, o: OpenBackboneOptions = {}): Promise<Backbone> {
  await initTf();
  const kind = backboneKind(ref);
  const owned: { dispose(): void }[] = [];
  const compileNote = (what: string) => o.onEvent?.({ type: 'stage', message: `Compiling the frozen backbone (${what}) for onnxruntime` });

  if (kind === 'onnx') {
    const preprocess = o.preprocess ?? DEFAULTS.onnxPreprocess;
    const h = await loadOnnxBackbone(ref, { cut: o.cut, preprocess, inputSize: o.inputSize });
    owned.push(h.backbone);
    const base = featureInputModel(h.extractor.outputShape);
    owned.push(base);
    const key = (at?: string): CacheKey => cacheKeyOf('onnx', h.sha256, at ?? h.cut, preprocess, [h.extractor.inputSize[0], h.extractor.inputSize[1]]);
    return {
      kind,
      ref,
      name: path.basename(ref),
      inputSize: [h.extractor.inputSize[0], h.extractor.inputSize[1]],
      preprocess,
      cut: h.cut,
      weights: { source: path.resolve(ref), sha256: h.sha256, file: path.resolve(ref) },
      base,
      onnx: h,
      cacheKey: key,
      extractor: (e = {}) => (e.pooling ? pooledInJs(h.extractor, e.pooling) : h.extractor),
      dispose: () => owned.splice(0).forEach((d) => d.dispose()),
    };
  }

  let model: tf.LayersModel;
  let base: tf.LayersModel;
  let spec: ArchitectureSpec | undefined;
  let size: [number, number];
  let preprocess: PreprocessMode;
  let cut: string;
  let weights: BackboneWeights;
  let keyName: string;
  if (kind === 'graft') {
    if (o.cut !== undefined) {
      throw new GraftError('E_BAD_OPTIONS', `A Graft model directory is cut where its head began (graft.json backbone.cut); --cut does not apply. Received: cut=${o.cut} with backbone ${ref}.`, 'Drop --cut, or use the zoo architecture itself as --backbone to cut elsewhere.');
    }
    const g = await resolveGraftBackbone(ref);
    if (g.manifest.files.tfjsInput === 'features') {
      g.full.dispose();
      throw new GraftError('E_CHAIN_ONNX', `${ref} was trained on an ONNX backbone; its model.json is a head only and cannot serve as a backbone.`, 'Use that ONNX file itself as --backbone.');
    }
    [model, base, spec, size, preprocess, cut] = [g.full, g.model, g.spec, g.inputSize, g.preprocess, g.cut];
    weights = { source: `graft:${g.dir}`, sha256: g.weightsHash, file: g.dir };
    keyName = `graft:${g.architecture}`;
  } else {
    spec = getModelSpec(ref);
    size = o.inputSize ? [o.inputSize, o.inputSize] : [spec.defaultInputShape[0], spec.defaultInputShape[1]];
    const created = await createModel(ref, { includeTop: false, weights: o.weights ?? DEFAULTS.weights, inputShape: [size[0], size[1], 3], pooling: null }, { onEvent: o.onEvent });
    model = created.model;
    preprocess = created.pretrained?.preprocess ?? o.preprocess ?? spec.defaultPreprocess;
    cut = o.cut ?? spec.featureLayer;
    base = cutModel(model, cut, spec);
    weights = { source: o.weights ?? DEFAULTS.weights, sha256: created.weights?.sha256, file: created.weights?.file, origin: created.pretrained?.origin, license: created.pretrained?.license };
    keyName = ref;
  }
  owned.push(model);
  // Random weights have no file hash: the graph's own hash (weights included) keys the cache.
  let weightsKey: string | undefined = weights.sha256;
  const key = (at?: string): CacheKey => cacheKeyOf(keyName, (weightsKey ??= layersModelHash(base, { preprocess })), at ?? cut, preprocess, size);
  const name = kind === 'graft' ? keyName.slice('graft:'.length) : ref;
  return {
    kind,
    ref,
    name,
    spec,
    inputSize: size,
    preprocess,
    cut,
    weights,
    base,
    cacheKey: key,
    extractor: (e = {}) => {
      const frozen = e.frozen ?? (e.pooling ? withGlobalPool(base, e.pooling, 'graft_embed_pool') : base);
      return frozenExtractor(frozen, size, { preprocess, cacheDir: o.cacheDir }, () => compileNote(`${name} up to ${cut}`), (b) => owned.push(b));
    },
    pooledAt: (cuts, pooling) => {
      const graph = modelGraph(base);
      const pooledOne = (c: string, i: number) => {
        const t = resolveCut(base, c, spec, graph).tensor;
        return globalPool(t, pooling, cuts.length === 1 ? HEAD_LAYER_NAMES.pool : `graft_cut_pool_${i}`);
      };
      const parts = cuts.map(pooledOne);
      const out = parts.length === 1 ? parts[0]! : (tf.layers.concatenate({ name: HEAD_LAYER_NAMES.pool }).apply(parts) as tf.SymbolicTensor);
      return tf.model({ inputs: base.inputs, outputs: out, name: `${base.name}_pooled_at` });
    },
    dispose: () => owned.splice(0).forEach((d) => d.dispose()),
  };
}

/**
 * The cuts worth trying on a zoo architecture: the outputs of its top blocks, from the feature
 * layer down, at most 6 and never below the middle of the network (lower blocks hold edges and
 * textures, rarely the best features for a new task). Layer names for the top, block names below.
 *
 * @example
 * candidateCuts(getModelSpec('mobilenet_v2')); // ['block_12', …, 'block_16', 'out_relu']
 */
export function candidateCuts(spec: ArchitectureSpec): string[] {
  const n = Math.min(6, Math.ceil(spec.blocks.length / 2));
  return spec.blocks.slice(-n).map((b) => (spec.blockOutput(b) === spec.featureLayer ? spec.featureLayer : b));
}

/** The feature-cache label of pooled activations at `cut`. */
export const pooledAt = (cut: string, pooling: 'avg' | 'max'): string => `${cut}+${pooling}pool`;

/**
 * Put a network built on `bb.base` (backbone → head) where training needs it: the frozen part
 * runs on onnxruntime through the feature cache, the rest trains. When the head begins with
 * global pooling, the pooling runs in the frozen graph too, so the cache holds one vector per
 * image (1280 floats for MobileNetV2) instead of the whole feature map (49× less).
 *
 * @example
 * const full = addHead(bb.base, { classes: 3 });
 * const { top, extractor, key } = splitForHead(bb, full, 'avg');
 */
export function splitForHead(bb: Backbone, full: tf.LayersModel, pooling: 'avg' | 'max'): { top: tf.LayersModel; extractor: Extractor; key: CacheKey; pooledCut: string } {
  if (bb.kind === 'onnx') return { top: full, extractor: bb.extractor(), key: bb.cacheKey(), pooledCut: bb.cut };
  const { pooledCut, key } = headFeatures(bb, full, pooling);
  const split = splitAt(full, pooledCut, bb.spec);
  return { top: split.top, extractor: bb.extractor({ frozen: split.frozen }), key, pooledCut };
}

/**
 * Where the head of `full` reads its features (its pooling layer when it pools, else the cut)
 * and the feature-cache key of those features.
 */
export function headFeatures(bb: Backbone, full: tf.LayersModel, pooling: 'avg' | 'max'): { pooledCut: string; key: CacheKey } {
  const pooled = full.layers.some((l) => l.name === HEAD_LAYER_NAMES.pool);
  return { pooledCut: pooled ? HEAD_LAYER_NAMES.pool : bb.cut, key: bb.cacheKey(pooled ? pooledAt(bb.cut, pooling) : bb.cut) };
}

/** Global average (or max) pooling of a 4-D tensor, in a layer named `name`; other ranks pass through. */
function globalPool(t: tf.SymbolicTensor, pooling: 'avg' | 'max', name: string): tf.SymbolicTensor {
  if (t.shape.length !== 4) return t;
  const layer = pooling === 'max' ? tf.layers.globalMaxPooling2d({ name }) : tf.layers.globalAveragePooling2d({ name });
  return layer.apply(t) as tf.SymbolicTensor;
}

/** `base` followed by global pooling of its output (a 2-D output is returned as it is). */
export function withGlobalPool(base: tf.LayersModel, pooling: 'avg' | 'max', name: string): tf.LayersModel {
  const out = base.outputs[0]!;
  if (out.shape.length !== 4) return base;
  return tf.model({ inputs: base.inputs, outputs: globalPool(out, pooling, name), name: `${base.name}_pooled` });
}

/**
 * The one spelling of a feature-cache key: what determines the activations (the backbone's name,
 * a hash of its weights, where they are taken, preprocessing, input size). Stable across
 * processes, unlike auto-generated layer names.
 */
export function cacheKeyOf(name: string, weightsHash: string, at: string, preprocess: PreprocessMode, size: readonly [number, number]): CacheKey {
  return { backbone: `${name}@graft-exporter`, weights: weightsHash, cut: at, preprocess, size };
}

/**
 * An Extractor for a frozen TF.js network, compiled for onnxruntime on its first `run`: with a
 * warm feature cache the graph is never exported or loaded. `own` receives the compiled
 * backbone for disposal.
 *
 * @example
 * const ex = frozenExtractor(split.frozen, [224, 224], { preprocess: 'tf' }, () => say('Compiling'), (b) => owned.push(b));
 */
export function frozenExtractor(frozen: tf.LayersModel, size: [number, number], opts: { preprocess: PreprocessMode; cacheDir?: string }, onCompile: () => void, own: (b: FrozenBackbone) => void): Extractor {
  let bb: Promise<FrozenBackbone> | undefined;
  const compiled = (): Promise<FrozenBackbone> =>
    (bb ??= (async () => {
      onCompile();
      const b = await FrozenBackbone.fromLayersModel(frozen, opts);
      own(b);
      return b;
    })());
  return { inputSize: size, outputShape: frozen.outputs[0]!.shape.slice(1) as number[], run: async (x, n) => (await compiled()).run(x, n) };
}

/** Global pooling of an NHWC feature map in JS (ONNX backbones cut at a feature map). */
function pooledInJs(ex: Extractor, mode: 'avg' | 'max'): Extractor {
  if (ex.outputShape.length !== 3) return ex;
  const [h, w, c] = ex.outputShape as [number, number, number];
  return {
    inputSize: ex.inputSize,
    outputShape: [c],
    async run(x, n) {
      const data = await ex.run(x, n);
      const out = new Float32Array(n * c).fill(mode === 'max' ? -Infinity : 0);
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < h * w; p++) {
          for (let k = 0; k < c; k++) {
            const v = data[(i * h * w + p) * c + k]!;
            if (mode === 'max') out[i * c + k] = Math.max(out[i * c + k]!, v);
            else out[i * c + k]! += v / (h * w);
          }
        }
      }
      return out;
    },
  };
}
