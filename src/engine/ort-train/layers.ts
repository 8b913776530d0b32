import type * as tf from '@tensorflow/tfjs';
import { cfAxis, normalizationAffine, samePads } from '../onnx/ops.js';
import { applyActivation, clip, leakyRelu } from './activations.js';
import { conv, type ConvGeom } from './conv.js';
import { storedShape, type Tape, type TVal, unsupported } from './tape.js';

/**
 * Converts one layer call into forward nodes with their gradients recorded on the tape.
 * `isOutput`: the layer produces the model's output (its softmax becomes the loss's).
 */
export type TrainConverter = (t: Tape, layer: tf.layers.Layer, inputs: TVal[], shape: (number | null)[], isOutput: boolean) => TVal;

type Cfg = Record<string, unknown>;
const cfg = (l: tf.layers.Layer): Cfg => l.getConfig() as Cfg;
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number]);

function channelsLast(layer: tf.layers.Layer): void {
  const f = cfg(layer).dataFormat;
  if (f != null && f !== 'channelsLast') unsupported(layer, `dataFormat "${String(f)}" (only channelsLast)`);
}

function geometry(layer: tf.layers.Layer, x: TVal, shape: (number | null)[], k: [number, number], group: number, cin: number, cout: number): ConvGeom {
  const c = cfg(layer);
  const [h, w] = [x.shape[1], x.shape[2]];
  const [ho, wo] = [shape[1], shape[2]];
  if (h == null || w == null || ho == null || wo == null) unsupported(layer, 'unknown height/width (the ORT engine needs a fixed input size)');
  const d = pair(c.dilationRate ?? 1);
  if (d[0] !== 1 || d[1] !== 1) unsupported(layer, `dilation ${JSON.stringify(d)} (only 1)`);
  const s = pair(c.strides ?? 1);
  let pads: [number, number, number, number] = [0, 0, 0, 0];
  if (c.padding === 'same') {
    const [pt, pb] = samePads(h, k[0], s[0], 1);
    const [pl, pr] = samePads(w, k[1], s[1], 1);
    pads = [pt, pl, pb, pr];
  } else if (c.padding !== 'valid') unsupported(layer, `padding "${String(c.padding)}"`);
  return { k, s, pads, group, cin, cout, h, w, ho, wo };
}

/**
 * A convolution layer as one grouped convolution (+ bias, activation). `kernel` names the layer's
 * kernel weight; `channels` reads [groups, input channels, output channels] from its TF.js shape.
 */
function convLayer(kernel: string, channels: (kernelShape: number[], c: Cfg) => [group: number, cin: number, cout: number]): TrainConverter {
  return (t, layer, [input], shape, isOutput) => {
    channelsLast(layer);
    const c = cfg(layer);
    const x = t.toCf(input);
    const w = t.param(layer, kernel);
    const [group, cin, cout] = channels(w.tfShape, c);
    const b = c.useBias ? t.param(layer, 'bias') : undefined;
    const y = conv(t, x, w, b, geometry(layer, x, shape, [w.tfShape[0], w.tfShape[1]], group, cin, cout), shape);
    return applyActivation(t, y, c.activation as string, layer, isOutput);
  };
}

/** Conv2D: kernel [kh, kw, cin / groups, cout]. */
const conv2d = convLayer('kernel', ([, , cinG, cout], c) => {
  const group = (c.groups as number | undefined) ?? 1;
  return [group, cinG * group, cout];
});

/** DepthwiseConv2D: kernel [kh, kw, cin, multiplier], one group per input channel. */
const depthwise = convLayer('depthwiseKernel', ([, , cin, mult]) => [cin, cin, cin * mult]);

const dense: TrainConverter = (t, layer, [input], shape, isOutput) => {
  const c = cfg(layer);
  if (input.shape.length !== 2) unsupported(layer, `input of rank ${input.shape.length} (Dense trains on [batch, features])`);
  const w = t.param(layer, 'kernel');
  const b = c.useBias ? t.param(layer, 'bias') : undefined;
  const y = t.op('Gemm', b ? [input.name, w.key, b.key] : [input.name, w.key]);
  const out: TVal = { name: y, shape, cf: false, grad: t.needs([input], [w, b]) };
  t.record([input], out, (dy) => {
    t.paramGrad(w, () => t.op('Gemm', [input.name, dy], { transA: 1 }));
    t.paramGrad(b, () => t.sum(dy, [0], false));
    return [input.grad ? t.op('Gemm', [dy, w.key], { transB: 1 }) : null];
  });
  return applyActivation(t, out, c.activation as string, layer, isOutput);
};

/**
 * BatchNormalization over the last (channel) axis, as onnxruntime's fused BatchNormalization
 * kernel (one pass) fed with per-channel statistics, so only [C]-sized values are built from
 * separate ops. Training mode (trainable layer, batch statistics): μ = mean(x),
 * σ² = mean(x²) − μ² (biased, as TF.js; one read of x for each), moving averages updated as
 * TF.js does. With s = 1/√(σ²+ε), A = mean(dy), B = mean(dy·x) and m = s·(B − μ·A) (= mean(dy·x̂)):
 *   dx = γs·dy + k2·x + k3,  k2 = −γs²m,  k3 = −γs·A − k2·μ;   dγ = count·m;   dβ = count·A
 * (k2·x + k3 is again one BatchNormalization pass). Inference mode (frozen layer, or
 * trainBatchNormStats = false): the moving statistics; dx = γs·dy.
 */
const batchNorm: TrainConverter = (t, layer, [input], shape) => {
  const c = cfg(layer);
  const rank = input.shape.length;
  const axis = Array.isArray(c.axis) ? (c.axis as number[]) : [c.axis as number];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) unsupported(layer, `axis ${JSON.stringify(c.axis)} (only the last axis)`);
  if (rank !== 4 && rank !== 2) unsupported(layer, `input of rank ${rank} (2 or 4)`);
  const x = rank === 4 ? t.toCf(input) : input;
  const eps = c.epsilon as number;
  const mm = t.param(layer, 'movingMean');
  const mv = t.param(layer, 'movingVariance');
  const gamma = c.scale === false ? undefined : t.param(layer, 'gamma');
  const beta = c.center === false ? undefined : t.param(layer, 'beta');
  const n = mm.shape[0];
  const axes = rank === 4 ? [0, 2, 3] : [0];
  const g = gamma ? gamma.key : t.f(new Array<number>(n).fill(1), [n]);
  const b = beta ? beta.key : t.f(new Array<number>(n).fill(0), [n]);
  const flat = (v: string): string => t.op('Reshape', [v, t.i64([n])]);
  const bc = (v: string): string => (rank === 4 ? t.op('Reshape', [v, t.i64([n, 1, 1])]) : v);
  /** One fused pass: x·k + d per channel (BatchNormalization with mean 0, variance 1, ε 0). */
  const affine = (v: string, k: string, d: string): string => t.op('BatchNormalization', [v, k, d, t.f(new Array<number>(n).fill(0), [n]), t.f(new Array<number>(n).fill(1), [n])], { epsilon: 0 });
  const training = t.mode === 'train' && !t.bnInference && !t.frozenLayers.has(layer.name);
  const grad = t.needs([x], [gamma, beta]);
  // Values per channel (batch × space): turns means into sums and back.
  const count = t.op('Div', [t.op('Cast', [t.op('Size', [x.name])], { to: 1 }), t.f(n)]);
  const [mean, variance] = training
    ? (() => {
        const mu = flat(t.op('ReduceMean', [x.name], { axes, keepdims: 1 }));
        const ex2 = t.op('Div', [flat(t.op('ReduceSumSquare', [x.name], { axes, keepdims: 1 })), count]);
        return [mu, t.op('Relu', [t.op('Sub', [ex2, t.op('Mul', [mu, mu])])])];
      })()
    : [mm.key, mv.key];
  const y = t.op('BatchNormalization', [x.name, g, b, mean, variance], { epsilon: eps });
  const s = t.op('Reciprocal', [t.op('Sqrt', [t.op('Add', [variance, t.f(eps)])])]); // [C]
  const scale = t.op('Mul', [g, s]);
  if (training) {
    const decay = 1 - ((c.momentum as number | undefined) ?? 0.99);
    // moving ← moving − (moving − batch)·(1 − momentum), as tfjs-layers' doMovingAverage.
    const ema = (p: string, v: string): string => t.op('Sub', [p, t.op('Mul', [t.op('Sub', [p, v]), t.f(decay)])]);
    t.statUpdates.set(mm.key, ema(mm.key, mean));
    t.statUpdates.set(mv.key, ema(mv.key, variance));
    t.batchStats.set(mm.key, mean);
    t.batchStats.set(mv.key, variance);
  }
  return t.record([x], { name: y, shape, cf: x.cf, grad }, (dy) => {
    // mean(dy) and m = s·(mean(dy·x) − μ·mean(dy)) = mean(dy·x̂), built only when used.
    let meanDy: string | undefined;
    const meanDyOnce = () => (meanDy ??= flat(t.op('ReduceMean', [dy], { axes, keepdims: 1 })));
    const m = () => t.op('Mul', [s, t.op('Sub', [flat(t.op('ReduceMean', [t.op('Mul', [dy, x.name])], { axes, keepdims: 1 })), t.op('Mul', [mean, meanDyOnce()])])]);
    t.paramGrad(beta, () => t.op('Mul', [meanDyOnce(), count]));
    if (!training) {
      t.paramGrad(gamma, () => t.op('Mul', [m(), count]));
      return [x.grad ? t.op('Mul', [dy, bc(scale)]) : null];
    }
    const mt = m();
    t.paramGrad(gamma, () => t.op('Mul', [mt, count]));
    if (!x.grad) return [null];
    const k2 = t.op('Neg', [t.op('Mul', [t.op('Mul', [scale, s]), mt])]);
    const k3 = t.op('Neg', [t.op('Add', [t.op('Mul', [scale, meanDyOnce()]), t.op('Mul', [k2, mean])])]);
    return [t.op('Add', [t.op('Mul', [dy, bc(scale)]), affine(x.name, k2, k3)])];
  });
};

const reluLayer: TrainConverter = (t, layer, [x]) => {
  const c = cfg(layer);
  const max = c.maxValue as number | null | undefined;
  if ((c.negativeSlope as number | undefined) || (c.threshold as number | undefined)) unsupported(layer, 'negativeSlope/threshold');
  return max == null ? applyActivation(t, x, 'relu', layer, false) : clip(t, x, 0, max);
};

const activationLayer: TrainConverter = (t, layer, [x], _shape, isOutput) => applyActivation(t, x, cfg(layer).activation as string, layer, isOutput);
const softmaxLayer: TrainConverter = (t, layer, [x], _shape, isOutput) => applyActivation(t, x, 'softmax', layer, isOutput);
const leaky: TrainConverter = (t, layer, [x]) => leakyRelu(t, x, (cfg(layer).alpha as number) ?? 0.3);

/** Brings rank-4 inputs to NCHW if any already is (as the exporter). */
function common(t: Tape, layer: tf.layers.Layer, xs: TVal[]): TVal[] {
  const rank = xs[0].shape.length;
  if (xs.some((x) => x.shape.length !== rank)) unsupported(layer, 'inputs of different ranks');
  return rank === 4 && xs.some((x) => x.cf) ? xs.map((x) => t.toCf(x)) : xs;
}

/** Sums dy over the axes `x` was broadcast along (SE blocks: [N,C,1,1] × [N,C,H,W]). */
function unbroadcast(t: Tape, dy: string, x: TVal, out: TVal): string {
  const xs = storedShape(x);
  const ys = storedShape(out);
  const axes = xs.map((d, i) => (d === 1 && ys[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  return axes.length ? t.sum(dy, axes, true) : dy;
}

/**
 * A merge layer as a left fold of one broadcasting binary ONNX op over its inputs:
 * ((x0 op x1) op x2) …; `back` gives the gradients of each step's two operands from its `dy`.
 */
function foldMerge(op: 'Add' | 'Mul', back: (t: Tape, dy: string, a: TVal, b: TVal, out: TVal) => [string | null, string | null]): TrainConverter {
  return (t, layer, inputs, shape) => {
    const xs = common(t, layer, inputs);
    let acc = xs[0];
    for (let i = 1; i < xs.length; i++) {
      const [a, b] = [acc, xs[i]];
      const out: TVal = { name: t.op(op, [a.name, b.name]), shape, cf: a.cf, grad: t.needs([a, b]) };
      acc = t.record([a, b], out, (dy) => back(t, dy, a, b, out));
    }
    return acc;
  };
}

const add = foldMerge('Add', (t, dy, a, b, out) => [unbroadcast(t, dy, a, out), unbroadcast(t, dy, b, out)]);

const multiply = foldMerge('Mul', (t, dy, a, b, out) => [
  a.grad ? unbroadcast(t, t.op('Mul', [dy, b.name]), a, out) : null,
  b.grad ? unbroadcast(t, t.op('Mul', [dy, a.name]), b, out) : null,
]);

const concatenate: TrainConverter = (t, layer, inputs, shape) => {
  const xs = common(t, layer, inputs);
  const rank = xs[0].shape.length;
  const a = (cfg(layer).axis as number | undefined) ?? -1;
  const axis = xs[0].cf ? cfAxis(a, rank) : a < 0 ? a + rank : a;
  const sizes = xs.map((x) => storedShape(x)[axis]);
  if (sizes.some((s) => s < 0)) unsupported(layer, 'concatenation along the batch axis');
  const out: TVal = { name: t.op('Concat', xs.map((x) => x.name), { axis }), shape, cf: xs[0].cf, grad: t.needs(xs) };
  return t.record(xs, out, (dy) => {
    let start = 0;
    return xs.map((x, i) => {
      const s = start;
      start += sizes[i];
      return x.grad ? t.op('Slice', [dy, t.i64([s]), t.i64([s + sizes[i]]), t.i64([axis])]) : null;
    });
  });
};

const globalAvgPool: TrainConverter = (t, layer, [input], shape) => {
  channelsLast(layer);
  const x = t.toCf(input);
  const keep = cfg(layer).keepDims === true;
  const [h, w] = [x.shape[1], x.shape[2]];
  if (h == null || w == null) unsupported(layer, 'unknown height/width');
  const c = x.shape[3] as number;
  const y = t.op('ReduceMean', [x.name], { axes: [2, 3], keepdims: keep ? 1 : 0 });
  const out: TVal = { name: y, shape, cf: keep, grad: x.grad };
  return t.record([x], out, (dy) => {
    const d4 = keep ? dy : t.op('Reshape', [dy, t.i64([0, c, 1, 1])]);
    return [t.op('Expand', [t.op('Mul', [d4, t.f(1 / (h * w))]), t.op('Shape', [x.name])])];
  });
};

/**
 * Max/average pooling. Average: the gradient spreads dy/count over each window with a grouped
 * ConvTranspose of ones (count excludes padding, as TF). Max: dy goes to the arg-max pixel of each
 * window (MaxPool's Indices output, ScatterElements with add: overlapping windows accumulate).
 */
function pool(kind: 'max' | 'avg'): TrainConverter {
  return (t, layer, [input], shape) => {
    channelsLast(layer);
    const c = cfg(layer);
    const x = t.toCf(input);
    const k = pair(c.poolSize);
    const ch = x.shape[3] as number;
    const geo = geometry(layer, x, shape, k, ch, ch, ch);
    const attrs = { kernel_shape: geo.k, strides: geo.s, pads: geo.pads };
    if (kind === 'avg') {
      const y = t.op('AveragePool', [x.name], { ...attrs, count_include_pad: 0 });
      return t.record([x], { name: y, shape, cf: true, grad: x.grad }, (dy) => {
        const inv = t.g.constFloat(`${layer.name}/inv_count`, invCounts(geo), [1, 1, geo.ho, geo.wo]);
        const ones = t.g.constFloat(`${layer.name}/ones`, new Float32Array(ch * k[0] * k[1]).fill(1), [ch, 1, k[0], k[1]]);
        const [pt, pl, pb, pr] = geo.pads;
        const op = [geo.h - ((geo.ho - 1) * geo.s[0] + k[0] - pt - pb), geo.w - ((geo.wo - 1) * geo.s[1] + k[1] - pl - pr)];
        return [t.op('ConvTranspose', [t.op('Mul', [dy, inv]), ones], { ...attrs, group: ch, output_padding: op })];
      });
    }
    const node = t.g.node('MaxPool', [x.name], attrs);
    const idx = `${node}_idx`;
    t.g.nodes[t.g.nodes.length - 1].output!.push(idx); // second output: flat NCHW arg-max indices
    return t.record([x], { name: node, shape, cf: true, grad: x.grad }, (dy) => {
      const xs = t.op('Shape', [x.name]);
      const zeros = t.op('ConstantOfShape', [t.op('ReduceProd', [xs], { keepdims: 1 })]);
      const flat = (v: string): string => t.op('Reshape', [v, t.i64([-1])]);
      const scattered = t.op('ScatterElements', [zeros, flat(idx), flat(dy)], { axis: 0, reduction: 'add' });
      return [t.op('Reshape', [scattered, xs])];
    });
  };
}

/** 1/(valid pixels in each window), TF's average-pool divisor. */
function invCounts(geo: ConvGeom): Float32Array {
  const out = new Float32Array(geo.ho * geo.wo);
  const span = (o: number, s: number, k: number, p: number, n: number) => Math.min(o * s - p + k, n) - Math.max(o * s - p, 0);
  for (let i = 0; i < geo.ho; i++) {
    for (let j = 0; j < geo.wo; j++) out[i * geo.wo + j] = 1 / (span(i, geo.s[0], geo.k[0], geo.pads[0], geo.h) * span(j, geo.s[1], geo.k[1], geo.pads[1], geo.w));
  }
  return out;
}

const zeroPadding: TrainConverter = (t, layer, [input], shape) => {
  channelsLast(layer);
  const p = cfg(layer).padding as number | number[] | number[][];
  const [[pt, pb], [pl, pr]] = Array.isArray(p) ? (p as unknown[]).map((v) => pair(v)) : [pair(p), pair(p)];
  const x = t.toCf(input);
  const [h, w] = [x.shape[1] as number, x.shape[2] as number];
  const y = t.op('Pad', [x.name, t.i64([0, 0, pt, pl, 0, 0, pb, pr])], { mode: 'constant' });
  return t.record([x], { name: y, shape, cf: true, grad: x.grad }, (dy) => [t.op('Slice', [dy, t.i64([pt, pl]), t.i64([pt + h, pl + w]), t.i64([2, 3])])]);
};

/** Reshape-like layers work on channels-last order, as Keras flattens. */
function reshapeLike(target: (layer: tf.layers.Layer) => number[]): TrainConverter {
  return (t, layer, [input], shape) => {
    const x = t.toLast(input);
    const y = t.op('Reshape', [x.name, t.i64([0, ...target(layer)])]);
    return t.record([x], { name: y, shape, cf: false, grad: x.grad }, (dy) => [t.op('Reshape', [dy, t.op('Shape', [x.name])])]);
  };
}

/**
 * Dropout: x·mask, the mask (0 or 1/(1−rate)) a graph input drawn in JS from the engine's seed.
 * A `noiseShape` with 1s (EfficientNet's per-sample drop-connect, [null, 1, 1, 1]) gives a
 * smaller mask broadcast over those axes.
 */
const dropout: TrainConverter = (t, layer, [x]) => {
  const c = cfg(layer);
  const rate = c.rate as number;
  if (t.mode !== 'train' || rate === 0) return x;
  const full = storedShape(x);
  let dims = full;
  if (c.noiseShape != null) {
    const ns = (c.noiseShape as Array<number | null>).map((d, i) => (d == null ? x.shape[i] : d));
    const ok = ns.length === x.shape.length && ns.every((d, i) => d === 1 || d === x.shape[i]);
    if (!ok) unsupported(layer, `noiseShape ${JSON.stringify(c.noiseShape)} (each axis must be 1 or the input's size)`);
    const stored = storedShape({ ...x, shape: ns });
    dims = full.map((d, i) => (stored[i] === 1 ? 1 : d));
  }
  const mask = t.g.unique(`${layer.name}/mask`);
  t.masks.push({ name: mask, shape: dims, rate });
  const y = t.op('Mul', [x.name, mask]);
  return t.record([x], { ...x, name: y }, (dy) => [t.op('Mul', [dy, mask])]);
};

/**
 * A fixed per-channel affine y = x·scale + shift (Rescaling, Normalization, ChannelScale: input
 * preprocessing inside the model, nothing trainable). `scale`/`shift` are numbers or one value per
 * channel of the last axis; dx = dy·scale.
 */
function fixedAffine(t: Tape, layer: tf.layers.Layer, x: TVal, scale: number | ArrayLike<number>, shift: number | ArrayLike<number>): TVal {
  const c = x.shape[x.shape.length - 1] as number;
  const konst = (v: number | ArrayLike<number>, dflt: number): string | null => {
    if (typeof v === 'number') return v === dflt ? null : t.f(v);
    const arr = Array.from(v);
    if (arr.length !== c && arr.length !== 1) unsupported(layer, `${arr.length} per-channel values for ${c} channels`);
    if (arr.every((a) => a === dflt)) return null;
    const dims = x.cf && x.shape.length === 4 ? [arr.length, 1, 1] : [arr.length];
    return t.f(arr, dims);
  };
  const k = konst(scale, 1);
  const b = konst(shift, 0);
  const scaled = k ? t.op('Mul', [x.name, k]) : x.name;
  const y = b ? t.op('Add', [scaled, b]) : scaled;
  if (y === x.name) return x;
  return t.record([x], { ...x, name: y }, (dy) => [k ? t.op('Mul', [dy, k]) : dy]);
}

const rescaling: TrainConverter = (t, layer, [x]) => {
  const c = cfg(layer);
  return fixedAffine(t, layer, x, (c.scale as number | number[] | undefined) ?? 1, (c.offset as number | number[] | undefined) ?? 0);
};

/** (x − mean)/max(√variance, 1e-7) with the layer's (fixed, non-trainable) statistics. */
const normalization: TrainConverter = (t, layer, [x]) => {
  const c = cfg(layer);
  const axis = c.axis == null ? -1 : Array.isArray(c.axis) ? (c.axis as number[])[0] : (c.axis as number);
  if (axis !== -1 && axis !== x.shape.length - 1) unsupported(layer, `axis ${JSON.stringify(c.axis)} (only the last axis)`);
  const { mean, invStd } = normalizationAffine(layer);
  return fixedAffine(t, layer, x, invStd, Float32Array.from(mean, (m, i) => -m * invStd[i]));
};

const channelScale: TrainConverter = (t, layer, [x]) => fixedAffine(t, layer, x, cfg(layer).scale as number[], 0);

/** TF.js class name → training converter. Anything else raises E_ORT_TRAIN_UNSUPPORTED. */
export const TRAIN_CONVERTERS: Record<string, TrainConverter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwise,
  Dense: dense,
  BatchNormalization: batchNorm,
  ReLU: reluLayer,
  Activation: activationLayer,
  Softmax: softmaxLayer,
  LeakyReLU: leaky,
  Add: add,
  Multiply: multiply,
  Concatenate: concatenate,
  GlobalAveragePooling2D: globalAvgPool,
  MaxPooling2D: pool('max'),
  AveragePooling2D: pool('avg'),
  ZeroPadding2D: zeroPadding,
  Flatten: reshapeLike(() => [-1]),
  Reshape: reshapeLike((l) => cfg(l).targetShape as number[]),
  Dropout: dropout,
  Rescaling: rescaling,
  Normalization: normalization,
  ChannelScale: channelScale,
};
