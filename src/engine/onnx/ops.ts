import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import type { GraphBuilder } from './graph.js';

/**
 * One tensor of the ONNX graph under construction. `shape` is always the TF.js (channels-last)
 * shape with the batch first; `cf` says whether a rank-4 value is stored NCHW in the graph.
 */
export interface Val {
  name: string;
  shape: (number | null)[];
  cf: boolean;
}

/** What a layer converter may use: the builder and memoised layout changes. */
export interface Ctx {
  g: GraphBuilder;
  /** The same value stored NCHW (rank 4 only; a Transpose is added once, then reused). */
  toCf(v: Val): Val;
  /** The same value stored as TF.js stores it (channels last). */
  toLast(v: Val): Val;
}

/** Permutes a dense row-major array like numpy.transpose(data.reshape(shape), perm). */
export function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  if (shape.length !== 4) {
    throw new GraftError('E_PERMUTE_RANK', `permute handles rank-4 arrays only: shape must have 4 dimensions. Received: shape=${JSON.stringify(shape)}.`, 'Pass a 4-D shape such as a conv kernel [kh, kw, in, out].');
  }
  const out = new Float32Array(data.length);
  const st = strides(shape);
  const [n0, n1, n2, n3] = perm.map((p) => shape[p]);
  const [s0, s1, s2, s3] = perm.map((p) => st[p]);
  // Four plain loops: weights of big models pass through here (VGG: 15M values).
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++) {
        const base = a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++) out[o++] = data[base + d * s3];
      }
    }
  }
  return out;
}

/**
 * TF.js kernel [kh, kw, a, b] → ONNX [b, a, kh, kw] (conv: a = in, b = out) or, with
 * `keepAB`, [a, b, kh, kw] (depthwise: a = in, b = multiplier). The loop order reads kh*kw
 * sequential streams, the fast way through big kernels (a permute in output order is ~2x slower).
 */
export function kernelToOnnx(data: Float32Array, shape: number[], keepAB = false): Float32Array {
  const [kh, kw, a, b] = shape;
  const k = kh * kw;
  const out = new Float32Array(data.length);
  for (let x = 0; x < a; x++) {
    for (let y = 0; y < b; y++) {
      const dst = (keepAB ? x * b + y : y * a + x) * k;
      for (let s = 0; s < k; s++) out[dst + s] = data[(s * a + x) * b + y];
    }
  }
  return out;
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * A layer weight (TF.js layer fields: kernel, bias, gamma, ...). The array may be the backend's
 * own storage: read it, never write it, and use it before TF.js runs again (export is synchronous).
 */
export function weight(layer: tf.layers.Layer, field: string): { data: Float32Array; shape: number[] } | undefined {
  const v = (layer as unknown as Record<string, { read(): tf.Tensor } | null | undefined>)[field];
  if (!v || typeof v.read !== 'function') return undefined;
  const t = v.read();
  return { data: t.dataSync() as Float32Array, shape: t.shape.slice() };
}

export function mustWeight(layer: tf.layers.Layer, field: string): { data: Float32Array; shape: number[] } {
  const w = weight(layer, field);
  if (!w) throw new GraftError('E_ONNX_WEIGHTS', `Layer "${layer.name}" (${layer.getClassName()}) has no weight "${field}"; it must be built before export.`, 'Call model.predict once or build the model with a fixed input shape.');
  return w;
}

/**
 * A Keras Normalization layer's fixed statistics as (x − mean)·invStd, with the std clamped at
 * 1e-7 as Keras does (so zero variance cannot divide by 0). Used by the exporter and the ORT
 * training compiler alike.
 */
export function normalizationAffine(layer: tf.layers.Layer): { mean: Float32Array; invStd: Float32Array } {
  const mean = mustWeight(layer, 'mean').data;
  const invStd = Float32Array.from(mustWeight(layer, 'variance').data, (v) => 1 / Math.max(Math.sqrt(v), 1e-7));
  return { mean, invStd };
}

/** Per-channel constant shaped to broadcast over the channel axis of `v` as stored. */
export function chanConst(ctx: Ctx, base: string, data: Float32Array | number[], v: Val): string {
  const n = data.length;
  const dims = v.cf && v.shape.length === 4 ? [n, 1, 1] : [n];
  return ctx.g.constFloat(base, data, dims);
}

/** Maps a channels-last axis of a rank-4 tensor to its position in NCHW storage. */
export function cfAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (rank !== 4) return a;
  return [0, 2, 3, 1][a];
}

/** Explicit begin/end pads with TF's 'same' rule (the odd pixel goes at the end). */
export function samePads(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const eff = (k - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + eff - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Spatial attributes for Conv/MaxPool/AveragePool: explicit pads when H and W are known (exact TF
 * semantics), otherwise ONNX SAME_UPPER, which places the extra pixel at the end as TF does.
 */
export function spatialAttrs(padding: string, shape: (number | null)[], k: number[], s: number[], d: number[], layer: tf.layers.Layer): Record<string, string | number[]> {
  if (padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (padding !== 'same') {
    throw new GraftError('E_ONNX_UNSUPPORTED', `Layer "${layer.name}" (${layer.getClassName()}) uses padding "${padding}"; ONNX export supports 'same' and 'valid'.`);
  }
  const [h, w] = [shape[1], shape[2]];
  if (h == null || w == null) return { auto_pad: 'SAME_UPPER' };
  const [t, b] = samePads(h, k[0], s[0], d[0]);
  const [l, r] = samePads(w, k[1], s[1], d[1]);
  return { pads: [t, l, b, r] };
}

/** Applies a TF.js activation by its serialized name. */
export function activation(ctx: Ctx, v: Val, act: string | undefined | null, out: string, layer: tf.layers.Layer): Val {
  const g = ctx.g;
  const same = (name: string): Val => ({ ...v, name });
  switch (act ?? 'linear') {
    case 'linear':
      return v;
    case 'relu':
      return same(g.node('Relu', [v.name], {}, out));
    case 'relu6':
      return same(g.node('Clip', [v.name, g.constFloat(`${out}/min`, [0], []), g.constFloat(`${out}/max`, [6], [])], {}, out));
    case 'sigmoid':
      return same(g.node('Sigmoid', [v.name], {}, out));
    case 'hardSigmoid': // TF.js: clip(0.2x + 0.5, 0, 1), ONNX HardSigmoid's defaults
      return same(g.node('HardSigmoid', [v.name], { alpha: 0.2, beta: 0.5 }, out));
    case 'tanh':
      return same(g.node('Tanh', [v.name], {}, out));
    case 'softplus':
      return same(g.node('Softplus', [v.name], {}, out));
    case 'softsign':
      return same(g.node('Softsign', [v.name], {}, out));
    case 'selu':
      return same(g.node('Selu', [v.name], { alpha: 1.6732632423543772, gamma: 1.0507009873554805 }, out));
    case 'elu':
      return same(g.node('Elu', [v.name], { alpha: 1 }, out));
    case 'swish':
    case 'silu': {
      const s = g.node('Sigmoid', [v.name], {}, `${out}/sigmoid`);
      return same(g.node('Mul', [v.name, s], {}, out));
    }
    case 'softmax':
    case 'logSoftmax': {
      // Softmax over TF.js' last axis: the channel axis, which sits at 1 in NCHW storage.
      const op = act === 'softmax' ? 'Softmax' : 'LogSoftmax';
      return same(g.node(op, [v.name], { axis: v.cf ? 1 : -1 }, out));
    }
    default:
      throw new GraftError(
        'E_ONNX_UNSUPPORTED',
        `Layer "${layer.name}" (${layer.getClassName()}) uses activation "${act}", which the ONNX exporter does not convert.`,
        'Supported activations: linear, relu, relu6, sigmoid, hardSigmoid, tanh, softplus, softsign, selu, elu, swish, silu, softmax, logSoftmax.',
      );
  }
}
