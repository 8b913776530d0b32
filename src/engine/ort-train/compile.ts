import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import type { EngineOptions } from '../../train/engine.js';
import { GraphBuilder, onnx, type OnnxTypes } from '../onnx/graph.js';
import { modelTensors, type SymT } from '../onnx/export.js';
import { TRAIN_CONVERTERS } from './layers.js';
import { optimizerNodes, type ParamUpdate, type StateSlot } from './optim.js';
import { type Layout, type Param, Tape, type TVal, unsupported } from './tape.js';

/** Opset of the training graphs: 16 for ScatterElements' reduction (max-pool gradient). */
export const TRAIN_OPSET = 16;

/** A compiled training step: ONNX bytes and the names the engine feeds and reads. */
export interface TrainGraph {
  bytes: Uint8Array;
  /** Parameter and BN-statistic inputs, in model order. */
  params: Param[];
  updates: ParamUpdate[];
  state: StateSlot[];
  /** BN statistic input → output with its updated value. */
  stats: Array<{ param: Param; next: string }>;
  masks: Array<{ name: string; shape: number[]; rate: number }>;
  classes: number;
}

/** The inference graph: x → logits. */
export interface InferGraph {
  bytes: Uint8Array;
  params: Param[];
  classes: number;
}

const FIELDS: Record<string, Array<[string, Layout]>> = {
  Conv2D: [['kernel', 'conv'], ['bias', 'same']],
  DepthwiseConv2D: [['depthwiseKernel', 'depthwise'], ['bias', 'same']],
  Dense: [['kernel', 'same'], ['bias', 'same']],
  BatchNormalization: [['gamma', 'same'], ['beta', 'same'], ['movingMean', 'same'], ['movingVariance', 'same']],
};

const nodeOf = (t: SymT) => (t.sourceLayer as unknown as { inboundNodes: Array<{ inputTensors: SymT[]; outputTensors: SymT[] }> }).inboundNodes[t.nodeIndex];

/** The graph's view of every weight of `model`, with trainability and group multipliers. */
export function collectParams(model: tf.LayersModel, opts: EngineOptions): { params: Map<string, Param>; frozen: Set<string> } {
  const frozen = new Set<string>();
  const layers = [...new Set([...modelTensors(model).values()].map((t) => t.sourceLayer))];
  const multipliers = groupMultipliers(layers, opts);
  const params = new Map<string, Param>();
  for (const layer of layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    if (Array.isArray((layer as { layers?: unknown }).layers)) unsupported(layer, 'a nested model (flatten it first)');
    if (!TRAIN_CONVERTERS[cls]) {
      throw new GraftError(
        'E_ORT_TRAIN_UNSUPPORTED',
        `Layer "${layer.name}" of class ${cls} cannot be trained by the ORT engine.`,
        `Supported layer classes: ${Object.keys(TRAIN_CONVERTERS).join(', ')}. Train this model with the TF.js engine (--engine tfjs).`,
      );
    }
    const c = layer.getConfig() as Record<string, unknown>;
    for (const r of ['kernelRegularizer', 'biasRegularizer', 'depthwiseRegularizer', 'activityRegularizer', 'betaRegularizer', 'gammaRegularizer']) {
      if (c[r] != null) unsupported(layer, `${r} (weight regularisers are not compiled; use weightDecay)`);
    }
    const isBn = cls === 'BatchNormalization';
    const ownsFrozen = layer.weights.length > 0 && layer.weights.every((w) => !w.trainable);
    const isFrozen = !model.trainable || !layer.trainable || (isBn && ownsFrozen);
    if (isFrozen) frozen.add(layer.name);
    const mult = multipliers.get(layer.name) ?? 1;
    const covered = new Set<tf.LayerVariable>();
    for (const [field, layout] of FIELDS[cls] ?? []) {
      const variable = (layer as unknown as Record<string, tf.LayerVariable | null | undefined>)[field];
      if (!variable) continue;
      covered.add(variable);
      const tfShape = variable.shape as number[];
      const stat = field === 'movingMean' || field === 'movingVariance';
      const key = `${layer.name}/${field}`;
      params.set(key, {
        key,
        layer,
        field,
        variable,
        tfShape,
        shape: onnxShape(tfShape, layout),
        layout,
        trainable: !isFrozen && !stat && variable.trainable && mult > 0,
        multiplier: mult,
        decays: tfShape.length >= 2,
        stat,
      });
    }
    // Normalization's statistics are fixed preprocessing: the converter reads them as constants.
    const missing = cls === 'Normalization' ? [] : layer.weights.filter((w) => !covered.has(w as tf.LayerVariable));
    if (missing.length) unsupported(layer, `weights ${missing.map((w) => w.name).join(', ')} the compiler does not know`);
  }
  return { params, frozen };
}

function groupMultipliers(layers: tf.layers.Layer[], opts: EngineOptions): Map<string, number> {
  const out = new Map<string, number>();
  const names = new Set(layers.map((l) => l.name));
  for (const group of opts.groups ?? []) {
    if (!(Number.isFinite(group.lrMultiplier) && group.lrMultiplier >= 0)) {
      throw new GraftError('E_PARAM_GROUP', `Group "${group.name}" lrMultiplier must be a finite number ≥ 0; received ${group.lrMultiplier}.`);
    }
    for (const name of group.layers) {
      if (!names.has(name)) throw new GraftError('E_PARAM_GROUP', `Group "${group.name}" names layer "${name}", which the model does not have.`, `Should be one of: ${[...names].join(', ')}.`);
      if (out.has(name)) throw new GraftError('E_PARAM_GROUP', `Layer "${name}" is in more than one parameter group.`);
      out.set(name, group.lrMultiplier);
    }
  }
  return out;
}

export function onnxShape(tfShape: number[], layout: Layout): number[] {
  if (layout === 'conv') return [tfShape[3], tfShape[2], tfShape[0], tfShape[1]];
  if (layout === 'depthwise') return [tfShape[2] * tfShape[3], 1, tfShape[0], tfShape[1]];
  return tfShape;
}

function vi(name: string, dims: Array<number | string>, elemType = 1): OnnxTypes.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** Runs the layer converters from the model input to its logits. */
function forward(t: Tape, model: tf.LayersModel): { logits: TVal; inputShape: (number | null)[] } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new GraftError('E_ORT_TRAIN_UNSUPPORTED', `The ORT engine trains models with one input and one output; "${model.name}" has ${model.inputs.length} and ${model.outputs.length}.`);
  }
  const all = modelTensors(model);
  const vals = new Map<string, TVal>();
  const key = (s: SymT) => `${s.sourceLayer.name}#${s.nodeIndex}#${s.tensorIndex}`;
  const outKey = key(model.outputs[0] as unknown as SymT);
  const inputShape = (model.inputs[0].shape as (number | null)[]).slice();
  const x: TVal = { name: 'x', shape: inputShape, cf: false, grad: false };
  for (const s of all.values()) {
    const layer = s.sourceLayer;
    if (layer.getClassName() === 'InputLayer') {
      vals.set(key(s), x);
      continue;
    }
    const node = nodeOf(s);
    if (node.outputTensors.length !== 1) unsupported(layer, `${node.outputTensors.length} outputs`);
    const ins = node.inputTensors.map((i) => vals.get(key(i))!);
    t.g.scope = `fwd/${layer.name}/`;
    vals.set(key(s), TRAIN_CONVERTERS[layer.getClassName()](t, layer, ins, s.shape, key(s) === outKey));
  }
  t.g.scope = 'loss/';
  const logits = t.toLast(vals.get(outKey)!);
  if (logits.shape.length !== 2 || logits.shape[1] == null) {
    throw new GraftError('E_HEAD_OUTPUT', `The trainable model must have one output of shape [batch, classes]; received ${JSON.stringify(logits.shape)}.`);
  }
  return { logits, inputShape };
}

function encode(g: GraphBuilder, name: string, inputs: OnnxTypes.IValueInfoProto[], outputs: OnnxTypes.IValueInfoProto[]): Uint8Array {
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'graft-ort-train',
    opsetImport: [{ domain: '', version: TRAIN_OPSET }],
    graph: { name, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(proto).finish();
}

function paramInputs(g: GraphBuilder, params: Map<string, Param>): OnnxTypes.IValueInfoProto[] {
  return [...params.values()].map((p) => {
    g.unique(p.key);
    return vi(p.key, p.shape);
  });
}

/**
 * Compiles one training step of `model` (the part after the cut) into an ONNX graph:
 * inputs x, targets [N,K] (smoothed one-hot), weights [N,1] (class weight / N), labels [N] int64,
 * lr, adam_a/adam_e (Adam: adamScalars in optim.ts), dropout masks, every parameter and optimiser state; outputs loss, correct,
 * updated parameters (`<layer>/<field>#next`), state and BN moving statistics.
 *
 * @example
 * const step = compileTrainStep(top, { optimizer: { type: 'adam', lr: 1e-3 } });
 * const session = await ort.InferenceSession.create(step.bytes);
 */
export function compileTrainStep(model: tf.LayersModel, opts: EngineOptions): TrainGraph {
  const { params, frozen } = collectParams(model, opts);
  const g = new GraphBuilder();
  const inputs = [...paramInputs(g, params)];
  for (const n of ['x', 'targets', 'weights', 'labels', 'lr', 'adam_a', 'adam_e']) g.unique(n);
  const t = new Tape(g, params, 'train', frozen, opts.trainBatchNormStats === false);
  const { logits, inputShape } = forward(t, model);
  const k = logits.shape[1] as number;
  // Softmax cross-entropy from logits: loss = Σ_i w_i·(lse_i − Σ_k t_ik·z_ik), dz = w·(softmax − t).
  const z = logits.name;
  const zs = t.op('Sub', [z, t.op('ReduceMax', [z], { axes: [1], keepdims: 1 })]);
  const e = t.op('Exp', [zs]);
  const s = t.sum(e, [1], true);
  const lse = t.op('Log', [s]);
  const per = t.op('Sub', [lse, t.sum(t.op('Mul', ['targets', zs]), [1], true)]); // shift-invariant since Σt = 1
  t.op('ReduceSum', [t.op('Mul', [per, 'weights'])], { keepdims: 0 }, 'loss'); // no axes: all
  const hit = t.op('Equal', [t.op('ArgMax', [z], { axis: 1, keepdims: 0 }), 'labels']);
  t.op('ReduceSum', [t.op('Cast', [hit], { to: 1 }), t.i64([0])], { keepdims: 0 }, 'correct');
  const dz = t.op('Mul', [t.op('Sub', [t.op('Div', [e, s]), 'targets']), 'weights']);
  if (logits.grad) t.backward(logits, dz);
  t.g.scope = 'optim/';
  const { updates, state } = optimizerNodes(t, opts.optimizer, t.paramGrads);
  t.g.scope = '';
  const stats = [...t.statUpdates].map(([key, next]) => ({ param: params.get(key)!, next }));
  inputs.push(
    vi('x', inputShape.map((d, i) => (d == null ? (i === 0 ? 'N' : `d${i}`) : d))),
    vi('targets', ['N', k]),
    vi('weights', ['N', 1]),
    vi('labels', ['N'], 7),
    vi('lr', []),
    ...(state.some((s2) => s2.name.endsWith('#m')) ? [vi('adam_a', []), vi('adam_e', [])] : []),
    ...t.masks.map((m) => vi(m.name, m.shape.map((d) => (d < 0 ? 'N' : d)))),
    ...state.map((s2) => vi(s2.name, s2.shape)),
  );
  const outputs = [vi('loss', []), vi('correct', []), ...updates.map((u) => vi(u.next, u.param.shape)), ...state.map((s2) => vi(s2.next, s2.shape)), ...stats.map((s2) => vi(s2.next, s2.param.shape))];
  return { bytes: encode(g, `${model.name}_train_step`, inputs, outputs), params: [...params.values()], updates, state, stats, masks: t.masks, classes: k };
}

/**
 * Compiles the inference pass (dropout off, BN moving statistics): x → logits, parameters as inputs
 * so the engine feeds the same tensors it trains.
 */
export function compileInfer(model: tf.LayersModel, opts: EngineOptions): InferGraph {
  const { params, frozen } = collectParams(model, opts);
  const g = new GraphBuilder();
  const inputs = paramInputs(g, params);
  g.unique('x');
  const t = new Tape(g, params, 'infer', frozen, true);
  const { logits, inputShape } = forward(t, model);
  t.op('Identity', [logits.name], {}, 'logits');
  inputs.push(vi('x', inputShape.map((d, i) => (d == null ? (i === 0 ? 'N' : `d${i}`) : d))));
  return { bytes: encode(g, `${model.name}_infer`, inputs, [vi('logits', ['N', logits.shape[1] as number])]), params: [...params.values()], classes: logits.shape[1] as number };
}

/** The forward pass in training mode with every trainable BN layer's batch statistics as outputs. */
export interface BatchStatsGraph {
  bytes: Uint8Array;
  params: Param[];
  /** BN statistic (movingMean / movingVariance) → the output holding this batch's value. */
  stats: Array<{ param: Param; out: string }>;
  masks: Array<{ name: string; shape: number[]; rate: number }>;
}

/**
 * Compiles x → the batch statistics of every BN layer that trains (as in a training step: each
 * BN normalises with its batch's own statistics), no loss, no backward pass: what precise
 * BatchNorm averages over the training data.
 */
export function compileBatchStats(model: tf.LayersModel, opts: EngineOptions): BatchStatsGraph {
  const { params, frozen } = collectParams(model, opts);
  const g = new GraphBuilder();
  const inputs = paramInputs(g, params);
  g.unique('x');
  const t = new Tape(g, params, 'train', frozen, false);
  const { inputShape } = forward(t, model);
  const stats = [...t.batchStats].map(([key, value]) => ({ param: params.get(key)!, out: t.op('Identity', [value], {}, `${key}#batch`) }));
  inputs.push(vi('x', inputShape.map((d, i) => (d == null ? (i === 0 ? 'N' : `d${i}`) : d))), ...t.masks.map((m) => vi(m.name, m.shape.map((d) => (d < 0 ? 'N' : d)))));
  return { bytes: encode(g, `${model.name}_batch_stats`, inputs, stats.map((s) => vi(s.out, s.param.shape))), params: [...params.values()], stats, masks: t.masks };
}
