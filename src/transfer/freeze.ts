import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec } from '../zoo/types.js';
import { modelGraph, resolveCut, type ModelGraph } from './surgery.js';

/**
 * Freezing: one recursive switch over a model's layers, nested models included.
 *
 * Traps (the Keras transfer-learning guide's, plus one that is TF.js' own):
 * 1. Re-compile after changing `trainable`. TF.js' `compile()` snapshots the trainable weights
 *    (`collectedTrainableWeights`) and `fit` only ever updates that list. Freezing after compile
 *    happens to work (the optimizer skips variables whose flag is now off), but layers UNfrozen
 *    after compile are silently left untouched until the model is compiled again (tested).
 * 2. Frozen BatchNormalization must run in inference mode. Keras does this for a BN layer with
 *    `trainable = false`; TF.js does not: under `fit`/`training: true` such a layer still
 *    normalises with batch statistics and overwrites its moving mean/variance, which wrecks
 *    pretrained statistics with small fine-tuning batches. `freeze()` therefore installs
 *    `setBatchNormInference(model, true)` unless `keepTrainingFrozenBnStats` is set.
 * 3. Setting `trainable` on a TF.js container (`base.trainable = false`) flags the weights of its
 *    direct children only, not the children's own `trainable` flags, nor grand-children of nested
 *    models. Use `freeze()` so every layer's flag says the truth.
 */

export interface FreezeOptions {
  /** Freeze this layer or block (its output layer) and everything it is computed from; the rest trains. */
  upTo?: string;
  /** Train this block (or layer), all later blocks and everything downstream (the head); freeze the rest. */
  from?: string;
  /** true: freeze every layer. false: unfreeze every layer. */
  all?: boolean;
  /** Needed for block names. */
  spec?: ArchitectureSpec;
  /** Opt out of forcing frozen BatchNormalization layers into inference mode (TF.js' default behaviour). */
  keepTrainingFrozenBnStats?: boolean;
}

export interface FreezeSummary {
  /** Layers holding weights that are frozen / trainable (weightless layers are not counted). */
  readonly frozen: number;
  readonly trainable: number;
  /** Keras' summary counts: BN moving statistics are always non-trainable. */
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
}

function isContainer(l: tf.layers.Layer): l is tf.LayersModel {
  return l instanceof tf.LayersModel;
}

function forEachLeaf(l: tf.layers.Layer, f: (leaf: tf.layers.Layer) => void): void {
  if (isContainer(l)) for (const c of l.layers) forEachLeaf(c, f);
  else f(l);
}

type Plan = Map<tf.layers.Layer, boolean>;

function setAll(l: tf.layers.Layer, trainable: boolean, plan: Plan): void {
  forEachLeaf(l, (leaf) => plan.set(leaf, trainable));
}

/** Top-level layers producing `tensors` or anything they are computed from. */
function upstreamLayers(graph: ModelGraph, tensors: readonly tf.SymbolicTensor[]): Set<tf.layers.Layer> {
  const out = new Set<tf.layers.Layer>();
  const seen = new Set(tensors);
  const todo = [...tensors];
  while (todo.length > 0) {
    const node = graph.producer.get(todo.pop()!)!;
    out.add(node.outboundLayer);
    if (node.inboundLayers.length === 0) continue;
    for (const u of node.inputTensors) if (!seen.has(u)) (seen.add(u), todo.push(u));
  }
  return out;
}

/** `seeds` and every top-level layer computed from them. */
function downstreamLayers(graph: ModelGraph, seeds: Iterable<tf.layers.Layer>): Set<tf.layers.Layer> {
  const out = new Set<tf.layers.Layer>(seeds);
  const todo = graph.nodes.filter((n) => out.has(n.outboundLayer));
  while (todo.length > 0) {
    for (const t of todo.pop()!.outputTensors) {
      for (const c of graph.consumers.get(t) ?? []) {
        if (!out.has(c.outboundLayer)) (out.add(c.outboundLayer), todo.push(c));
      }
    }
  }
  return out;
}

/** Whether a layer or block name refers to something inside `model` (at any depth). */
function contains(model: tf.LayersModel, name: string, spec?: ArchitectureSpec): boolean {
  const block = spec?.blocks.includes(name) ? name : undefined;
  const target = block ? [name, spec!.blockOutput(block)] : [name];
  const here = (m: tf.LayersModel): boolean =>
    m.layers.some((l) => target.includes(l.name) || (block !== undefined && spec!.blockOf(l.name) === block) || (isContainer(l) && here(l)));
  return here(model);
}

function topLevelHas(model: tf.LayersModel, graph: ModelGraph, name: string, spec?: ArchitectureSpec): boolean {
  if (graph.tensorsByLayer.has(name)) return true;
  if (!spec?.blocks.includes(name)) return false;
  return graph.tensorsByLayer.has(spec.blockOutput(name)) || model.layers.some((l) => spec.blockOf(l.name) === name);
}

function planFor(model: tf.LayersModel, opts: FreezeOptions, plan: Plan): void {
  const { upTo, from, spec } = opts;
  const name = (upTo ?? from)!;
  const graph = modelGraph(model);
  if (!topLevelHas(model, graph, name, spec)) {
    // Keras style `x = base(inputs)`: the name lives in a nested model. Freeze what feeds it,
    // train what follows it, and apply the same rule inside it.
    const inner = model.layers.find((l) => isContainer(l) && contains(l, name, spec)) as tf.LayersModel | undefined;
    if (!inner) resolveCut(model, name, spec, graph); // throws E_UNKNOWN_CUT with suggestions
    const feeds = graph.nodes.filter((n) => n.outboundLayer === inner).flatMap((n) => n.inputTensors);
    const before = upstreamLayers(graph, feeds);
    for (const l of model.layers) {
      if (l === inner) planFor(inner!, opts, plan);
      else setAll(l, !before.has(l), plan);
    }
    return;
  }
  let frozen: Set<tf.layers.Layer>;
  if (upTo !== undefined) {
    frozen = upstreamLayers(graph, [resolveCut(model, upTo, spec, graph).tensor]);
  } else {
    const i = spec?.blocks.indexOf(name) ?? -1;
    const seeds =
      i >= 0
        ? model.layers.filter((l) => {
            const b = spec!.blockOf(l.name);
            return b !== undefined && spec!.blocks.indexOf(b) >= i;
          })
        : [graph.producer.get(resolveCut(model, name, spec, graph).tensor)!.outboundLayer];
    const train = downstreamLayers(graph, seeds);
    frozen = new Set(model.layers.filter((l) => !train.has(l)));
  }
  for (const l of model.layers) setAll(l, !frozen.has(l), plan);
}

/** Applies a plan; containers are flagged first because their setter overwrites children's weight flags. */
function apply(l: tf.layers.Layer, plan: Plan): boolean {
  if (!isContainer(l)) {
    const on = plan.get(l) ?? l.trainable;
    l.trainable = on;
    return on;
  }
  let any = false;
  forEachLeaf(l, (leaf) => (any ||= plan.get(leaf) ?? leaf.trainable));
  l.trainable = any;
  for (const c of l.layers) apply(c, plan);
  return any;
}

function count(ws: tf.LayerVariable[]): number {
  return ws.reduce((s, w) => s + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}

/** Layer and parameter counts of a model as it is flagged now. */
export function freezeSummary(model: tf.LayersModel): FreezeSummary {
  const trainable = new Set(trainableLayerNames(model));
  let frozenN = 0;
  forEachLeaf(model, (l) => {
    if (l.weights.length > 0 && !trainable.has(l.name)) frozenN++;
  });
  return { frozen: frozenN, trainable: trainable.size, trainableParams: count(model.trainableWeights), nonTrainableParams: count(model.nonTrainableWeights) };
}

/**
 * The one freezing switch. Exactly one of `all`, `upTo`, `from`. Re-compile before `fit` (trap 1).
 * Frozen BatchNormalization layers run in inference mode unless `keepTrainingFrozenBnStats` (trap 2).
 *
 * @example
 * freeze(model, { all: true });                                  // feature extraction
 * freeze(model, { upTo: 'block_13', spec: getModelSpec('mobilenet_v2') }); // train block_14.. + head
 * freeze(model, { from: 'conv5', spec: getModelSpec('resnet50') });        // train conv5 + head
 * model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
 */
export function freeze(model: tf.LayersModel, opts: FreezeOptions): FreezeSummary {
  const given = (['all', 'upTo', 'from'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    throw new GraftError('E_FREEZE_OPTIONS', `freeze() takes exactly one of all, upTo, from. Received: ${given.length === 0 ? 'none' : given.join(', ')}.`, "E.g. { all: true } or { upTo: 'block_13', spec }.");
  }
  const plan: Plan = new Map();
  if (opts.all !== undefined) setAll(model, !opts.all, plan);
  else planFor(model, opts, plan);
  apply(model, plan);
  setBatchNormInference(model, !opts.keepTrainingFrozenBnStats);
  return freezeSummary(model);
}

/**
 * Fine-tuning's second stage (fastai/Keras): train the last `n` blocks of `spec` and everything
 * after them (the head); keep earlier blocks and the stem frozen. `n = 0` trains the head only.
 *
 * @example
 * unfreezeTopBlocks(model, getModelSpec('resnet50'), 1); // conv5 + head
 */
export function unfreezeTopBlocks(model: tf.LayersModel, spec: ArchitectureSpec, n: number, opts: Pick<FreezeOptions, 'keepTrainingFrozenBnStats'> = {}): FreezeSummary {
  const nb = spec.blocks.length;
  if (!Number.isInteger(n) || n < 0 || n > nb) {
    throw new GraftError('E_FREEZE_BLOCKS', `n must be an integer from 0 to ${nb} (the blocks of ${spec.name}). Received: n=${n}.`, `Blocks: ${spec.blocks.join(', ')}.`);
  }
  if (n === 0) return freeze(model, { upTo: spec.blocks[nb - 1], spec, ...opts });
  return freeze(model, { from: spec.blocks[nb - n], spec, ...opts });
}

/**
 * Names of the layers whose weights an optimizer would update (nested models included).
 *
 * @example
 * trainableLayerNames(model); // ['graft_head_predictions']
 */
export function trainableLayerNames(model: tf.LayersModel): string[] {
  const names: string[] = [];
  const walk = (l: tf.layers.Layer): void => {
    if (!l.trainable) return;
    if (isContainer(l)) l.layers.forEach(walk);
    else if (l.trainableWeights.length > 0) names.push(l.name);
  };
  walk(model);
  return names;
}

const ORIGINAL_CALL = Symbol.for('graft.batchNorm.originalCall');
type Call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
type Patchable = tf.layers.Layer & { call: Call; [ORIGINAL_CALL]?: Call };

/** Frozen in Keras' sense: the layer flag is off, or a container switched all its weights off (trap 3). */
function isFrozen(l: tf.layers.Layer): boolean {
  return !l.trainable || (hasTrainableSlots(l) && l.trainableWeights.length === 0);
}
function hasTrainableSlots(l: tf.layers.Layer): boolean {
  return ((l as unknown as { _trainableWeights: unknown[] })._trainableWeights ?? []).length > 0;
}

/**
 * Keras semantics for frozen BatchNormalization in TF.js (trap 2): with `on`, every BN layer under
 * `model` whose weights are frozen normalises with its moving statistics and leaves them
 * untouched, even under `fit` / `training: true`. Trainable BN layers behave as usual; with
 * `{ all: true }` every BN layer runs in inference mode (fine-tuning with tiny batches). `on =
 * false` restores TF.js' behaviour. The check happens at call time, so later freezes apply
 * without re-patching. Patches the instances only: saved models are unaffected. Returns the
 * number of BN layers patched.
 *
 * @example
 * setBatchNormInference(model, true);
 * model.getLayer('bn').trainable = false; // now stays in inference mode inside fit()
 */
export function setBatchNormInference(model: tf.layers.Layer, on: boolean, opts: { all?: boolean } = {}): number {
  let n = 0;
  forEachLeaf(model, (leaf) => {
    if (leaf.getClassName() !== 'BatchNormalization') return;
    const l = leaf as Patchable;
    const original = l[ORIGINAL_CALL];
    if (original) {
      delete (l as Partial<Patchable>).call; // back to the prototype's call
      delete l[ORIGINAL_CALL];
    }
    if (!on) return;
    const base = l.call;
    l[ORIGINAL_CALL] = base;
    const forceAll = opts.all === true;
    l.call = function (this: Patchable, inputs, kwargs) {
      const inference = forceAll || isFrozen(this);
      return base.call(this, inputs, inference ? { ...kwargs, training: false } : kwargs);
    };
    n++;
  });
  return n;
}
