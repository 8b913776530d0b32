import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { createSession } from '../engine/ort.js';
import { exportOnnx } from '../engine/onnx/export.js';
import * as ort from 'onnxruntime-node';
import type { DatasetItem } from '../data/dataset.js';
import { extractFeatures } from '../features/extract.js';
import { preprocess } from '../zoo/preprocess.js';
import type { PreprocessMode } from '../zoo/types.js';
import { modelGraph, type GraphNode } from '../transfer/surgery.js';

/**
 * AdaBN (Li et al. 2016): the BatchNormalization layers' moving statistics are re-estimated on the
 * target domain with forward passes only.
 *
 * Two modes:
 * - `replace` (the paper): each BN layer's moving mean/variance become the statistics of its input
 *   over the target set. Right when the BN statistics were the source domain's.
 * - `anchored`: each BN layer maps the target to what the ORIGINAL model produced on the SOURCE:
 *   target inputs are standardised by target statistics, then given the per-channel mean and
 *   spread the source's normalised outputs had. With a frozen pretrained backbone the BN
 *   statistics are ImageNet's, not the source task's, and the head learned on "source under
 *   ImageNet statistics"; `replace` would feed it "target under target statistics", a shift of
 *   its own. Anchoring equals `replace` when the model's BN statistics are the source's, and is
 *   the identity when target = source. It needs the source images (one onnxruntime pass).
 *
 * Statistics are cumulative over the whole target set (not a momentum average). Each layer's
 * statistics are taken with the layers above it already adapted — as in PyTorch's
 * `momentum=None` recipe, upstream layers normalise each batch by its own statistics meanwhile —
 * so the forward pass runs in TF.js, layer by layer; the source pass (fixed model) runs on ORT.
 */
export type AdaBnMode = 'anchored' | 'replace';

export interface BnStats {
  /** BatchNormalization layer name. */
  layer: string;
  mean: Float64Array;
  variance: Float64Array;
  /** Values per channel the statistics were taken over (images × h × w). */
  count: number;
}

export interface AdaBnOptions {
  mode?: AdaBnMode;
  /** Target images per forward batch (batch statistics stand in for upstream layers). Default 32. */
  batchSize?: number;
  inputSize: readonly [number, number];
  preprocess: PreprocessMode;
  /** Source images (labels unused): required by 'anchored'. */
  source?: DatasetItem[];
}

export interface AdaBnResult {
  mode: AdaBnMode;
  layers: number;
  targetImages: number;
  sourceImages: number;
  /** Per-layer statistics of the target inputs (what the moving stats were derived from). */
  target: BnStats[];
  skipped: { path: string; reason: string }[];
  /** Where the source statistics were computed. */
  sourceEngine?: 'onnxruntime' | 'tfjs';
}

interface BnParams {
  gamma?: Float32Array;
  beta?: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

const isBn = (l: tf.layers.Layer) => l.getClassName() === 'BatchNormalization';

function bnParams(layer: tf.layers.Layer): BnParams {
  const cfg = layer.getConfig() as { axis?: number | number[]; epsilon?: number; center?: boolean; scale?: boolean };
  const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
  if (axis !== -1 && axis !== 3 && axis !== 1) {
    // axis 1 is fine for a 2-D input only; rank is checked at run time.
    throw new GraftError('E_ADABN_AXIS', `AdaBN handles channels-last BatchNormalization. Layer "${layer.name}" normalises axis ${String(axis)}.`);
  }
  // Keras' weight order: [gamma if scale] [beta if center] moving_mean moving_variance (names
  // may carry uniquifying suffixes, so the config decides, not the names).
  const w = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  const scale = cfg.scale ?? true;
  const center = cfg.center ?? true;
  const gamma = scale ? w.shift() : undefined;
  const beta = center ? w.shift() : undefined;
  return { gamma, beta, mean: w[0]!, variance: w[1]!, epsilon: cfg.epsilon ?? 1e-3 };
}

/** Runs `fn` on decoded raw-RGB batches of `items` (sharp decodes the next batch meanwhile). */
async function forEachBatch(items: DatasetItem[], size: readonly [number, number], batchSize: number, fn: (x: Float32Array, n: number) => Promise<void>): Promise<{ used: number; skipped: { path: string; reason: string }[] }> {
  let used = 0;
  const r = await extractFeatures(
    { inputSize: size, outputShape: [1], run: async (x, n) => (await fn(x, n), (used += n), new Float32Array(n)) },
    items,
    { batchSize, label: 'adabn' },
  );
  return { used, skipped: r.skipped };
}

class Accum {
  sum: Float64Array;
  sq: Float64Array;
  count = 0;
  constructor(c: number) {
    this.sum = new Float64Array(c);
    this.sq = new Float64Array(c);
  }
  /** Adds per-channel sums over `m` values each. */
  add(sum: ArrayLike<number>, sq: ArrayLike<number>, m: number): void {
    for (let i = 0; i < this.sum.length; i++) {
      this.sum[i]! += sum[i]!;
      this.sq[i]! += sq[i]!;
    }
    this.count += m;
  }
  stats(layer: string): BnStats {
    const c = this.sum.length;
    const mean = new Float64Array(c);
    const variance = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      mean[i] = this.sum[i]! / this.count;
      variance[i] = Math.max(0, this.sq[i]! / this.count - mean[i]! * mean[i]!);
    }
    return { layer, mean, variance, count: this.count };
  }
}

/**
 * Statistics of every BN layer's input over `items` under the model as it is, on onnxruntime: one
 * pass through a multi-output graph whose outputs are the layers feeding the BN layers.
 */
export async function sourceBnStats(frozen: tf.LayersModel, items: DatasetItem[], o: { inputSize: readonly [number, number]; preprocess: PreprocessMode; batchSize?: number }): Promise<Map<string, BnStats>> {
  const graph = modelGraph(frozen);
  const bnNodes = graph.nodes.filter((n) => isBn(n.outboundLayer));
  const producers = bnNodes.map((n) => n.inputTensors[0]!.sourceLayer.name);
  const unique = [...new Set(producers)];
  const bytes = exportOnnx(frozen, { outputs: unique, preprocess: o.preprocess });
  const session = await createSession(bytes);
  const acc = new Map<string, Accum>();
  try {
    await forEachBatch(items, o.inputSize, o.batchSize ?? 16, async (x, n) => {
      const [h, w] = o.inputSize;
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.slice(0, n * h * w * 3), [n, h, w, 3]) });
      session.outputNames.forEach((name, k) => {
        const t = out[name]!;
        const data = t.data as Float32Array;
        const c = (t.dims as readonly number[]).at(-1)!;
        const layer = unique[k]!;
        if (!acc.has(layer)) acc.set(layer, new Accum(c));
        const s = new Float64Array(c);
        const q = new Float64Array(c);
        for (let i = 0; i < data.length; i++) {
          const v = data[i]!;
          const ch = i % c;
          s[ch]! += v;
          q[ch]! += v * v;
        }
        acc.get(layer)!.add(s, q, data.length / c);
      });
    });
  } finally {
    void session.release();
  }
  const res = new Map<string, BnStats>();
  bnNodes.forEach((n, i) => res.set(n.outboundLayer.name, acc.get(producers[i]!)!.stats(n.outboundLayer.name)));
  return res;
}

/**
 * Re-estimate the moving statistics of every BatchNormalization layer of `frozen` (the image →
 * features part of a model; its layers are shared with the full model, which is updated in place)
 * on the target images.
 *
 * @example
 * const { frozen } = splitAt(model, 'graft_head_pool');
 * await adaBn(frozen, targetItems, { inputSize: [96, 96], preprocess: 'raw01', mode: 'replace' });
 */
export async function adaBn(frozen: tf.LayersModel, target: DatasetItem[], o: AdaBnOptions): Promise<AdaBnResult> {
  const mode = o.mode ?? (o.source && o.source.length > 0 ? 'anchored' : 'replace');
  if (mode === 'anchored' && (!o.source || o.source.length === 0)) {
    throw new GraftError('E_ADABN_SOURCE', "AdaBN mode 'anchored' maps the target onto the source's statistics and needs source images. Received none.", "Pass source images (--source), or use mode 'replace'.");
  }
  const graph = modelGraph(frozen);
  const bnNodes = graph.nodes.filter((n) => isBn(n.outboundLayer));
  if (bnNodes.length === 0) throw new GraftError('E_ADABN_NO_BN', `Model "${frozen.name}" has no BatchNormalization layer before its features; AdaBN has nothing to adapt.`, "Use method 'coral', 'pseudo-label' or 'dann'.");
  const params = new Map(bnNodes.map((n) => [n.outboundLayer.name, bnParams(n.outboundLayer)]));

  let srcStats: Map<string, BnStats> | undefined;
  let sourceEngine: AdaBnResult['sourceEngine'];
  if (mode === 'anchored') {
    srcStats = await sourceBnStats(frozen, o.source!, o);
    sourceEngine = 'onnxruntime';
  }
  // Per layer: output = standardise(x by target stats) * r + c, then gamma/beta. `replace`: r=1, c=0.
  const affine = new Map<string, { r: Float32Array; c: Float32Array }>();
  for (const [name, p] of params) {
    const k = p.mean.length;
    const r = new Float32Array(k).fill(1);
    const c = new Float32Array(k);
    const s = srcStats?.get(name);
    if (s) {
      for (let i = 0; i < k; i++) {
        const sd = Math.sqrt(p.variance[i]! + p.epsilon);
        r[i] = Math.sqrt((s.variance[i]! + p.epsilon) / (p.variance[i]! + p.epsilon));
        c[i] = (s.mean[i]! - p.mean[i]!) / sd;
      }
    }
    affine.set(name, { r, c });
  }

  const acc = new Map<string, Accum>();
  const consumers = new Map<tf.SymbolicTensor, number>();
  for (const n of graph.nodes) for (const t of n.inputTensors) consumers.set(t, (consumers.get(t) ?? 0) + 1);
  const size = o.inputSize;
  const { used, skipped } = await forEachBatch(target, size, o.batchSize ?? 32, async (raw, n) => {
    const vals = new Map<tf.SymbolicTensor, tf.Tensor>();
    const left = new Map(consumers);
    const release = (t: tf.SymbolicTensor) => {
      const k = (left.get(t) ?? 1) - 1;
      left.set(t, k);
      if (k <= 0 && !graph.outputs.includes(t)) vals.get(t)?.dispose();
    };
    const x = preprocess(raw.subarray(0, n * size[0] * size[1] * 3), o.preprocess);
    for (const node of graph.nodes) {
      if (node.inboundLayers.length === 0) {
        vals.set(node.outputTensors[0]!, tf.tensor4d(x, [n, size[0], size[1], 3]));
        continue;
      }
      const ins = node.inputTensors.map((t) => vals.get(t)!);
      const layer = node.outboundLayer;
      let out: tf.Tensor;
      if (isBn(layer)) out = bnForward(layer.name, ins[0]!, params.get(layer.name)!, affine.get(layer.name)!, acc);
      else out = tf.tidy(() => layer.apply(ins.length === 1 ? ins[0]! : ins, (node as GraphNode).callArgs ?? {}) as tf.Tensor);
      vals.set(node.outputTensors[0]!, out);
      for (const t of node.inputTensors) release(t);
    }
    for (const t of graph.outputs) vals.get(t)?.dispose();
  });
  if (used === 0) throw new GraftError('E_ADAPT_NO_IMAGES', 'No target image could be decoded; AdaBN needs at least one.', skipped.slice(0, 3).map((s) => `${s.path}: ${s.reason}`).join('; '));

  const targetStats: BnStats[] = [];
  for (const node of bnNodes) {
    const layer = node.outboundLayer;
    const name = layer.name;
    const t = acc.get(name)!.stats(name);
    targetStats.push(t);
    const p = params.get(name)!;
    const { r, c } = affine.get(name)!;
    const k = p.mean.length;
    const mean = new Float32Array(k);
    const variance = new Float32Array(k);
    for (let i = 0; i < k; i++) {
      // Solve (x - m')/sqrt(v' + eps) = (x - mu_t)/sqrt(v_t + eps) * r + c for m', v'.
      const sdNew = Math.sqrt(t.variance[i]! + p.epsilon) / Math.max(r[i]!, 1e-6);
      variance[i] = Math.max(0, sdNew * sdNew - p.epsilon);
      mean[i] = t.mean[i]! - c[i]! * Math.sqrt(variance[i]! + p.epsilon);
    }
    const ws = layer.getWeights();
    const nw = ws.length;
    layer.setWeights([...ws.slice(0, nw - 2), tf.tensor(mean, ws[nw - 2]!.shape), tf.tensor(variance, ws[nw - 1]!.shape)]);
  }
  return { mode, layers: bnNodes.length, targetImages: used, sourceImages: o.source?.length ?? 0, target: targetStats, skipped, sourceEngine };
}

/** One BN layer in adaptation mode: normalise by this batch's statistics, accumulate the totals. */
function bnForward(name: string, x: tf.Tensor, p: BnParams, a: { r: Float32Array; c: Float32Array }, acc: Map<string, Accum>): tf.Tensor {
  return tf.tidy(() => {
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const c = x.shape.at(-1)!;
    const m = x.shape.slice(0, -1).reduce((u, v) => u * v, 1);
    const sum = tf.sum(x, axes);
    const sq = tf.sum(tf.square(x), axes);
    if (!acc.has(name)) acc.set(name, new Accum(c));
    acc.get(name)!.add(sum.dataSync(), sq.dataSync(), m);
    const mean = tf.div(sum, m);
    const variance = tf.relu(tf.sub(tf.div(sq, m), tf.square(mean)));
    let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, p.epsilon)));
    y = tf.add(tf.mul(y, tf.tensor1d(a.r)), tf.tensor1d(a.c));
    if (p.gamma) y = tf.mul(y, tf.tensor1d(p.gamma));
    if (p.beta) y = tf.add(y, tf.tensor1d(p.beta));
    return y;
  });
}
