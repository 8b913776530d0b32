import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import { activation, cfAxis, chanConst, type Ctx, kernelToOnnx, mustWeight, normalizationAffine, spatialAttrs, type Val, weight } from './ops.js';

/**
 * Converts one TF.js layer call. `inputs` are the ONNX values of its inputs, `shape` its TF.js
 * output shape, `out` the preferred ONNX name of its output (the Keras layer name).
 */
export type Converter = (layer: tf.layers.Layer, inputs: Val[], shape: (number | null)[], out: string, ctx: Ctx) => Val;

type Cfg = Record<string, unknown>;
const cfg = (l: tf.layers.Layer): Cfg => l.getConfig() as Cfg;
const pair = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);

function unsupported(layer: tf.layers.Layer, why: string): never {
  throw new GraftError('E_ONNX_UNSUPPORTED', `Layer "${layer.name}" (${layer.getClassName()}) cannot be exported to ONNX: ${why}.`);
}

function channelsLast(layer: tf.layers.Layer): void {
  const f = cfg(layer).dataFormat;
  if (f != null && f !== 'channelsLast') unsupported(layer, `dataFormat "${String(f)}" (only channelsLast)`);
}

// ---- convolutions ---------------------------------------------------------------------------

function convCore(ctx: Ctx, layer: tf.layers.Layer, x: Val, w: string, b: string | undefined, k: number[], group: number, strides: number[], dil: number[], out: string): string {
  const attrs = { kernel_shape: k, strides, dilations: dil, group, ...spatialAttrs(String(cfg(layer).padding), x.shape, k, strides, dil, layer) };
  return ctx.g.node('Conv', b ? [x.name, w, b] : [x.name, w], attrs, out);
}

const conv2d: Converter = (layer, [input], shape, out, ctx) => {
  channelsLast(layer);
  const c = cfg(layer);
  const x = ctx.toCf(input);
  const kern = mustWeight(layer, 'kernel'); // [kh, kw, in, out] → [out, in, kh, kw]
  const [kh, kw, cin, cout] = kern.shape;
  const groups = (c.groups as number | undefined) ?? 1;
  const w = ctx.g.constFloat(`${layer.name}/kernel`, kernelToOnnx(kern.data, kern.shape), [cout, cin, kh, kw]);
  const bias = c.useBias ? mustWeight(layer, 'bias') : undefined;
  const b = bias ? ctx.g.constFloat(`${layer.name}/bias`, bias.data, [cout]) : undefined;
  const y = convCore(ctx, layer, x, w, b, [kh, kw], groups, pair(c.strides), pair(c.dilationRate ?? 1), c.activation && c.activation !== 'linear' ? `${out}/conv` : out);
  return activation(ctx, { name: y, shape, cf: true }, c.activation as string, out, layer);
};

/** Depthwise kernel [kh, kw, in, mult] → grouped conv weight [in*mult, 1, kh, kw] (TF's channel order c*mult+m). */
function depthwiseWeight(ctx: Ctx, layer: tf.layers.Layer): { w: string; k: number[]; cin: number; mult: number } {
  const dk = mustWeight(layer, 'depthwiseKernel');
  const [kh, kw, cin, mult] = dk.shape;
  const w = ctx.g.constFloat(`${layer.name}/depthwise_kernel`, kernelToOnnx(dk.data, dk.shape, true), [cin * mult, 1, kh, kw]);
  return { w, k: [kh, kw], cin, mult };
}

const depthwise: Converter = (layer, [input], shape, out, ctx) => {
  channelsLast(layer);
  const c = cfg(layer);
  const x = ctx.toCf(input);
  const { w, k, cin, mult } = depthwiseWeight(ctx, layer);
  const bias = c.useBias ? mustWeight(layer, 'bias') : undefined;
  const b = bias ? ctx.g.constFloat(`${layer.name}/bias`, bias.data, [cin * mult]) : undefined;
  const y = convCore(ctx, layer, x, w, b, k, cin, pair(c.strides), pair(c.dilationRate ?? 1), c.activation && c.activation !== 'linear' ? `${out}/conv` : out);
  return activation(ctx, { name: y, shape, cf: true }, c.activation as string, out, layer);
};

const separable: Converter = (layer, [input], shape, out, ctx) => {
  channelsLast(layer);
  const c = cfg(layer);
  const x = ctx.toCf(input);
  const { w, k, cin } = depthwiseWeight(ctx, layer);
  const dw = convCore(ctx, layer, x, w, undefined, k, cin, pair(c.strides), pair(c.dilationRate ?? 1), `${out}/depthwise`);
  const pk = mustWeight(layer, 'pointwiseKernel');
  const [, , pin, pout] = pk.shape;
  const pw = ctx.g.constFloat(`${layer.name}/pointwise_kernel`, kernelToOnnx(pk.data, pk.shape), [pout, pin, 1, 1]);
  const bias = c.useBias ? mustWeight(layer, 'bias') : undefined;
  const inputs = [dw, pw, ...(bias ? [ctx.g.constFloat(`${layer.name}/bias`, bias.data, [pout])] : [])];
  const act = c.activation && c.activation !== 'linear';
  const y = ctx.g.node('Conv', inputs, { kernel_shape: [1, 1] }, act ? `${out}/pointwise` : out);
  return activation(ctx, { name: y, shape, cf: true }, c.activation as string, out, layer);
};

// ---- normalisation --------------------------------------------------------------------------

const batchNorm: Converter = (layer, [input], shape, out, ctx) => {
  const c = cfg(layer);
  const rank = input.shape.length;
  const axis = Array.isArray(c.axis) ? (c.axis as number[]) : [c.axis as number];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) unsupported(layer, `axis ${JSON.stringify(c.axis)} (only the last axis)`);
  const mean = mustWeight(layer, 'movingMean').data;
  const variance = mustWeight(layer, 'movingVariance').data;
  const n = mean.length;
  const gamma = weight(layer, 'gamma')?.data ?? new Float32Array(n).fill(1);
  const beta = weight(layer, 'beta')?.data ?? new Float32Array(n);
  const eps = c.epsilon as number;
  if (rank === 4 || rank === 2) {
    // ONNX BatchNormalization wants channels at axis 1: NCHW for images, [N, C] for vectors.
    const x = rank === 4 ? ctx.toCf(input) : input;
    const g = ctx.g;
    const names = [g.constFloat(`${layer.name}/gamma`, gamma, [n]), g.constFloat(`${layer.name}/beta`, beta, [n]), g.constFloat(`${layer.name}/moving_mean`, mean, [n]), g.constFloat(`${layer.name}/moving_variance`, variance, [n])];
    return { name: g.node('BatchNormalization', [x.name, ...names], { epsilon: eps }, out), shape, cf: x.cf };
  }
  // Other ranks: fold into y = x * s + t over the last axis.
  const s = new Float32Array(n);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = gamma[i] / Math.sqrt(variance[i] + eps);
    t[i] = beta[i] - mean[i] * s[i];
  }
  const m = ctx.g.node('Mul', [input.name, ctx.g.constFloat(`${layer.name}/scale`, s, [n])], {}, `${out}/scale`);
  return { name: ctx.g.node('Add', [m, ctx.g.constFloat(`${layer.name}/shift`, t, [n])], {}, out), shape, cf: input.cf };
};

/** y = x * scale + offset (scale/offset scalars or per-channel arrays). */
const rescaling: Converter = (layer, [x], shape, out, ctx) => {
  const c = cfg(layer);
  const g = ctx.g;
  const k = (v: unknown, base: string, dflt: number): string =>
    Array.isArray(v) ? chanConst(ctx, base, v as number[], x) : g.constFloat(base, [v == null ? dflt : (v as number)], []);
  const m = g.node('Mul', [x.name, k(c.scale, `${layer.name}/scale`, 1)], {}, `${out}/mul`);
  return { name: g.node('Add', [m, k(c.offset, `${layer.name}/offset`, 0)], {}, out), shape, cf: x.cf };
};

/**
 * Keras-style Normalization (Graft's zoo layer): (x - mean) / sqrt(variance), per channel of the
 * last axis. Exported as (x - mean) * (1 / sqrt(variance)): one Sub and one Mul.
 */
const normalization: Converter = (layer, [x], shape, out, ctx) => {
  const { mean, invStd: inv } = normalizationAffine(layer);
  const c = cfg(layer);
  const axis = c.axis == null ? -1 : Array.isArray(c.axis) ? (c.axis as number[])[0] : (c.axis as number);
  if (axis !== -1 && axis !== x.shape.length - 1) unsupported(layer, `axis ${JSON.stringify(c.axis)} (only the last axis)`);
  const g = ctx.g;
  const sub = g.node('Sub', [x.name, mean.length === 1 ? g.constFloat(`${layer.name}/mean`, mean, []) : chanConst(ctx, `${layer.name}/mean`, mean, x)], {}, `${out}/center`);
  const scale = inv.length === 1 ? g.constFloat(`${layer.name}/inv_std`, inv, []) : chanConst(ctx, `${layer.name}/inv_std`, inv, x);
  return { name: g.node('Mul', [sub, scale], {}, out), shape, cf: x.cf };
};

/** Graft's zoo ChannelScale layer: x * scale[c] over the last axis. */
const channelScale: Converter = (layer, [x], shape, out, ctx) => {
  const scale = cfg(layer).scale as number[];
  return { name: ctx.g.node('Mul', [x.name, chanConst(ctx, `${layer.name}/scale`, scale, x)], {}, out), shape, cf: x.cf };
};

// ---- activations ----------------------------------------------------------------------------

const activationLayer: Converter = (layer, [x], shape, out, ctx) => {
  const y = activation(ctx, x, cfg(layer).activation as string, out, layer);
  return y === x ? { ...x, name: ctx.g.node('Identity', [x.name], {}, out) } : y;
};

const reluLayer: Converter = (layer, [x], shape, out, ctx) => {
  const max = cfg(layer).maxValue as number | null | undefined;
  if (max == null) return { ...x, name: ctx.g.node('Relu', [x.name], {}, out) };
  const g = ctx.g;
  return { ...x, name: g.node('Clip', [x.name, g.constFloat(`${out}/min`, [0], []), g.constFloat(`${out}/max`, [max], [])], {}, out) };
};

const leakyRelu: Converter = (layer, [x], shape, out, ctx) => ({ ...x, name: ctx.g.node('LeakyRelu', [x.name], { alpha: (cfg(layer).alpha as number) ?? 0.3 }, out) });
const eluLayer: Converter = (layer, [x], shape, out, ctx) => ({ ...x, name: ctx.g.node('Elu', [x.name], { alpha: (cfg(layer).alpha as number) ?? 1 }, out) });

const softmaxLayer: Converter = (layer, [x], shape, out, ctx) => {
  const a = cfg(layer).axis;
  const axis = Array.isArray(a) ? (a as number[]) : [a == null ? -1 : (a as number)];
  if (axis.length !== 1) unsupported(layer, `softmax over several axes ${JSON.stringify(a)}`);
  const rank = x.shape.length;
  return { ...x, name: ctx.g.node('Softmax', [x.name], { axis: x.cf ? cfAxis(axis[0], rank) : axis[0] }, out) };
};

const identity: Converter = (layer, [x], shape, out, ctx) => ({ ...x, name: ctx.g.node('Identity', [x.name], {}, out) });

// ---- merges ---------------------------------------------------------------------------------

/** Brings all inputs to one storage layout: NCHW if any rank-4 input already is. */
function common(ctx: Ctx, layer: tf.layers.Layer, xs: Val[]): Val[] {
  const rank = xs[0].shape.length;
  if (xs.some((x) => x.shape.length !== rank)) unsupported(layer, `inputs of different ranks ${xs.map((x) => x.shape.length).join(', ')}`);
  if (rank !== 4) return xs;
  return xs.some((x) => x.cf) ? xs.map((x) => ctx.toCf(x)) : xs;
}

/**
 * Add and Mul are binary in ONNX: chain them (binary Add also lets ORT fuse residual adds into
 * the preceding Conv). Sum/Mean/Max/Min are variadic.
 */
function merge(op: 'Add' | 'Mul' | 'Mean' | 'Max' | 'Min'): Converter {
  return (layer, inputs, shape, out, ctx) => {
    const xs = common(ctx, layer, inputs);
    const g = ctx.g;
    if (op !== 'Add' && op !== 'Mul') return { name: g.node(op, xs.map((x) => x.name), {}, out), shape, cf: xs[0].cf };
    let acc = xs[0].name;
    for (let i = 1; i < xs.length; i++) acc = g.node(op, [acc, xs[i].name], {}, i === xs.length - 1 ? out : `${out}/${i}`);
    return { name: acc, shape, cf: xs[0].cf };
  };
}

const concatenate: Converter = (layer, inputs, shape, out, ctx) => {
  const xs = common(ctx, layer, inputs);
  const rank = xs[0].shape.length;
  const a = (cfg(layer).axis as number | undefined) ?? -1;
  const axis = xs[0].cf ? cfAxis(a, rank) : a < 0 ? a + rank : a;
  return { name: ctx.g.node('Concat', xs.map((x) => x.name), { axis }, out), shape, cf: xs[0].cf };
};

// ---- pooling --------------------------------------------------------------------------------

function pool(op: 'MaxPool' | 'AveragePool'): Converter {
  return (layer, [input], shape, out, ctx) => {
    channelsLast(layer);
    const c = cfg(layer);
    const x = ctx.toCf(input);
    const k = pair(c.poolSize);
    const s = pair(c.strides ?? c.poolSize);
    const attrs: Record<string, string | number | number[]> = { kernel_shape: k, strides: s, ...spatialAttrs(String(c.padding), x.shape, k, s, [1, 1], layer) };
    // TF averages over the valid pixels only, never the padding.
    if (op === 'AveragePool') attrs.count_include_pad = 0;
    return { name: ctx.g.node(op, [x.name], attrs, out), shape, cf: true };
  };
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): Converter {
  return (layer, [input], shape, out, ctx) => {
    channelsLast(layer);
    const x = ctx.toCf(input);
    if (cfg(layer).keepDims) return { name: ctx.g.node(op, [x.name], {}, out), shape, cf: true };
    const p = ctx.g.node(op, [x.name], {}, `${out}/pool`);
    return { name: ctx.g.node('Flatten', [p], { axis: 1 }, out), shape, cf: false };
  };
}

const zeroPadding: Converter = (layer, [input], shape, out, ctx) => {
  channelsLast(layer);
  const p = cfg(layer).padding as number | number[] | number[][];
  const [[t, b], [l, r]] = Array.isArray(p) ? (p as unknown[]).map((v) => pair(v)) : [pair(p), pair(p)];
  const x = ctx.toCf(input);
  const pads = ctx.g.constInt64(`${layer.name}/pads`, [0, 0, t, l, 0, 0, b, r]);
  return { name: ctx.g.node('Pad', [x.name, pads], { mode: 'constant' }, out), shape, cf: true };
};

// ---- dense and reshapes ---------------------------------------------------------------------

const dense: Converter = (layer, [input], shape, out, ctx) => {
  const c = cfg(layer);
  const x = ctx.toLast(input);
  const k = mustWeight(layer, 'kernel');
  const [din, dout] = k.shape;
  const g = ctx.g;
  const w = g.constFloat(`${layer.name}/kernel`, k.data, [din, dout]);
  const bias = c.useBias ? mustWeight(layer, 'bias') : undefined;
  const act = c.activation && c.activation !== 'linear';
  const name = act ? `${out}/dense` : out;
  let y: string;
  if (x.shape.length === 2) {
    const b = bias ? [g.constFloat(`${layer.name}/bias`, bias.data, [dout])] : [];
    y = g.node('Gemm', [x.name, w, ...b], {}, name);
  } else {
    // Keras applies Dense to the last axis of any rank.
    const mm = g.node('MatMul', [x.name, w], {}, bias ? `${out}/matmul` : name);
    y = bias ? g.node('Add', [mm, g.constFloat(`${layer.name}/bias`, bias.data, [dout])], {}, name) : mm;
  }
  return activation(ctx, { name: y, shape, cf: false }, c.activation as string, out, layer);
};

const flatten: Converter = (layer, [input], shape, out, ctx) => {
  // Keras flattens in channels-last order; transpose back first so Dense weights line up.
  const x = ctx.toLast(input);
  return { name: ctx.g.node('Flatten', [x.name], { axis: 1 }, out), shape, cf: false };
};

const reshape: Converter = (layer, [input], shape, out, ctx) => {
  const x = ctx.toLast(input);
  const target = cfg(layer).targetShape as number[];
  // Leading 0 copies the batch dimension (allowzero = 0 in opset 13).
  const s = ctx.g.constInt64(`${layer.name}/shape`, [0, ...target]);
  return { name: ctx.g.node('Reshape', [x.name, s], {}, out), shape, cf: false };
};

const permuteLayer: Converter = (layer, [input], shape, out, ctx) => {
  const x = ctx.toLast(input);
  const dims = cfg(layer).dims as number[];
  return { name: ctx.g.node('Transpose', [x.name], { perm: [0, ...dims] }, out), shape, cf: false };
};

/**
 * ONNX converter for Keras/TF.js `LayerNormalization` over the last axis, decomposed into opset-13
 * ops (ONNX's own LayerNormalization op needs opset 17):
 * y = (x - mean) / sqrt(var + eps) * gamma + beta, moments over the last axis.
 *
 * The few-shot heads use LayerNormalization to L2-normalise embeddings with stock layers only
 * (heads/normalize.ts).
 */
const layerNormalization: Converter = (layer, [input], shape, out, ctx) => {
  const c = layer.getConfig() as Record<string, unknown>;
  const rank = input.shape.length;
  const axis = Array.isArray(c.axis) ? (c.axis as number[]) : [c.axis as number];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) {
    throw new GraftError('E_ONNX_UNSUPPORTED', `Layer "${layer.name}" (LayerNormalization) normalises over axis ${JSON.stringify(c.axis)}; ONNX export supports only the last axis.`);
  }
  const g = ctx.g;
  const x = ctx.toLast(input);
  const n = x.shape[rank - 1] as number;
  const mean = g.node('ReduceMean', [x.name], { axes: [-1], keepdims: 1 }, `${out}/mean`);
  const d = g.node('Sub', [x.name, mean], {}, `${out}/centered`);
  const sq = g.node('Mul', [d, d], {}, `${out}/sq`);
  const variance = g.node('ReduceMean', [sq], { axes: [-1], keepdims: 1 }, `${out}/var`);
  const std = g.node('Sqrt', [g.node('Add', [variance, g.constFloat(`${layer.name}/epsilon`, [c.epsilon as number], [])], {}, `${out}/var_eps`)], {}, `${out}/std`);
  const gamma = c.scale ? weight(layer, 'gamma') : undefined;
  const beta = c.center ? weight(layer, 'beta') : undefined;
  let y = g.node('Div', [d, std], {}, gamma || beta ? `${out}/normed` : out);
  if (gamma) y = g.node('Mul', [y, g.constFloat(`${layer.name}/gamma`, gamma.data, [n])], {}, beta ? `${out}/scaled` : out);
  if (beta) y = g.node('Add', [y, g.constFloat(`${layer.name}/beta`, beta.data, [n])], {}, out);
  return { name: y, shape, cf: false };
};

/** TF.js class name → converter. Layers absent here raise E_ONNX_UNSUPPORTED. */
export const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwise,
  SeparableConv2D: separable,
  BatchNormalization: batchNorm,
  Rescaling: rescaling,
  Normalization: normalization,
  ChannelScale: channelScale,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  ELU: eluLayer,
  Softmax: softmaxLayer,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding,
  Dense: dense,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permuteLayer,
  LayerNormalization: layerNormalization,
};
