import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import { type AttrValue, GraphBuilder } from '../onnx/graph.js';

/**
 * One value of a training graph. `shape` is the TF.js (channels-last) shape with the batch first
 * (null); `cf` says whether a rank-4 value is stored NCHW in the graph; `grad` whether a
 * gradient must flow into it (some trainable parameter lies upstream).
 */
export interface TVal {
  name: string;
  shape: (number | null)[];
  cf: boolean;
  grad: boolean;
}

/** Gradient of an op's output → gradients of its inputs (null where an input needs none). */
export type Backward = (dy: string) => Array<string | null>;

/** How a parameter's TF.js layout maps to the graph's. */
export type Layout = 'same' | 'conv' | 'depthwise';

/** One weight of the trainable part as the graph sees it (a graph input). */
export interface Param {
  /** Graph input name. */
  key: string;
  layer: tf.layers.Layer;
  /** TF.js layer field: kernel, bias, depthwiseKernel, gamma, beta, movingMean, movingVariance. */
  field: string;
  variable: tf.LayerVariable;
  tfShape: number[];
  shape: number[];
  layout: Layout;
  /** Updated by the optimiser (trainable layer, multiplier > 0, not a BN statistic). */
  trainable: boolean;
  multiplier: number;
  /** Gets weight decay (rank ≥ 2, as TF.js engine and timm: kernels only). */
  decays: boolean;
  /** A BatchNormalization moving statistic (updated by the forward pass, not the optimiser). */
  stat: boolean;
}

interface TapeEntry {
  ins: TVal[];
  out: TVal;
  back: Backward;
  /** Node-name scope of the forward op; its backward nodes get `bwd/` + the layer part. */
  scope: string;
}

/** The unsupported-layer error the caller catches to fall back to the TF.js engine. */
export function unsupported(layer: tf.layers.Layer, why: string): never {
  throw new GraftError(
    'E_ORT_TRAIN_UNSUPPORTED',
    `Layer "${layer.name}" (${layer.getClassName()}) cannot be trained by the ORT engine: ${why}.`,
    'Train this model with the TF.js engine (createTfjsEngine / --engine tfjs).',
  );
}

/**
 * A graph under construction plus its gradient tape: every differentiable op records how to
 * push its output gradient back to its inputs, and {@link Tape.backward} replays the records in
 * reverse (creation order is a topological order), summing gradients where values fan out.
 *
 * @example
 * const t = new Tape(new GraphBuilder(), params, 'train');
 * const y = t.op('Relu', [x], {}, 'y');           // forward node, nothing recorded
 * t.record([x], y, (dy) => [t.op('Mul', [dy, mask])]);
 */
export class Tape {
  readonly entries: TapeEntry[] = [];
  /** Parameter key → gradient value name (summed if a parameter is used twice). */
  readonly paramGrads = new Map<string, string>();
  /** BN statistic key → its updated value. */
  readonly statUpdates = new Map<string, string>();
  /** BN statistic key → this batch's own statistic (mean, or biased variance) of the layer's input. */
  readonly batchStats = new Map<string, string>();
  /** Dropout masks: graph input name and stored shape (batch first, symbolic). */
  readonly masks: Array<{ name: string; shape: number[]; rate: number }> = [];
  private readonly consts = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    readonly params: Map<string, Param>,
    readonly mode: 'train' | 'infer',
    /** Layers with trainable = false (BN among them runs in inference mode). */
    readonly frozenLayers: ReadonlySet<string>,
    /** Run every BN in inference mode (trainBatchNormStats = false). */
    readonly bnInference: boolean,
  ) {}

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.g.node(type, inputs, attrs, out);
  }

  /** Memoised scalar / small float constant. */
  f(v: number | number[], dims: number[] = []): string {
    const k = `f:${JSON.stringify(v)}:${dims.join(',')}`;
    if (!this.consts.has(k)) this.consts.set(k, this.g.constFloat('c', Array.isArray(v) ? v : [v], dims));
    return this.consts.get(k)!;
  }

  /** Memoised int64 constant (shapes, axes, pads). */
  i64(v: number[]): string {
    const k = `i:${v.join(',')}`;
    if (!this.consts.has(k)) this.consts.set(k, this.g.constInt64('ci', v));
    return this.consts.get(k)!;
  }

  /** ReduceSum (axes are an input from opset 13). */
  sum(x: string, axes: number[], keep: boolean): string {
    return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keep ? 1 : 0 });
  }

  /** The graph input of a layer's weight (registered by the compiler). */
  param(layer: tf.layers.Layer, field: string): Param {
    const p = this.params.get(`${layer.name}/${field}`);
    if (!p) throw new GraftError('E_ORT_TRAIN_INTERNAL', `No parameter ${layer.name}/${field} was registered.`);
    return p;
  }

  /** Adds a gradient for a parameter; `g` builds it, and runs only for trainable ones. */
  paramGrad(p: Param | undefined, g: () => string): void {
    if (!p?.trainable || this.mode !== 'train') return;
    const prev = this.paramGrads.get(p.key);
    this.paramGrads.set(p.key, prev ? this.op('Add', [prev, g()]) : g());
  }

  /** Whether an op touching these params produces a value that needs a gradient. */
  needs(ins: TVal[], params: Array<Param | undefined> = []): boolean {
    return this.mode === 'train' && (ins.some((v) => v.grad) || params.some((p) => p?.trainable));
  }

  /** Records a differentiable op; `out.grad` should come from {@link needs}. */
  record(ins: TVal[], out: TVal, back: Backward): TVal {
    if (out.grad) this.entries.push({ ins, out, back, scope: this.g.scope });
    return out;
  }

  /** Same value stored NCHW (rank 4), with the transpose recorded. */
  toCf(v: TVal): TVal {
    if (v.shape.length !== 4 || v.cf) return v;
    const out: TVal = { ...v, name: this.op('Transpose', [v.name], { perm: [0, 3, 1, 2] }), cf: true };
    return this.record([v], out, (dy) => [this.op('Transpose', [dy], { perm: [0, 2, 3, 1] })]);
  }

  /** Same value stored channels-last, with the transpose recorded. */
  toLast(v: TVal): TVal {
    if (v.shape.length !== 4 || !v.cf) return v;
    const out: TVal = { ...v, name: this.op('Transpose', [v.name], { perm: [0, 2, 3, 1] }), cf: false };
    return this.record([v], out, (dy) => [this.op('Transpose', [dy], { perm: [0, 3, 1, 2] })]);
  }

  /** Reverse-mode pass from `y` with gradient `dy`; parameter gradients land in paramGrads. */
  backward(y: TVal, dy: string): void {
    const grads = new Map<string, string[]>([[y.name, [dy]]]);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      const parts = grads.get(e.out.name);
      if (!parts) continue; // does not reach the loss
      grads.delete(e.out.name);
      this.g.scope = e.scope.replace(/^fwd\//, 'bwd/');
      const g = parts.length === 1 ? parts[0] : this.op('Sum', parts);
      const dins = e.back(g);
      e.ins.forEach((v, k) => {
        const d = dins[k];
        if (!v.grad || d == null) return;
        grads.set(v.name, [...(grads.get(v.name) ?? []), d]);
      });
    }
    this.g.scope = '';
  }
}

/** Stored dims of a value: NCHW for cf rank-4 values; batch (null) as -1. */
export function storedShape(v: TVal): number[] {
  const s = v.shape.map((d) => (d == null ? -1 : d));
  return v.cf && s.length === 4 ? [s[0], s[3], s[1], s[2]] : s;
}

export { GraphBuilder };
