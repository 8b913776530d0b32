import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import type { PreprocessMode } from '../../zoo/types.js';
import { GraphBuilder, IR_VERSION, onnx, OPSET, valueInfo } from './graph.js';
import { CONVERTERS } from './layers.js';

// LayerNormalization (last axis) is what the few-shot heads use for exact cosine similarity.
import type { Ctx, Val } from './ops.js';

export interface ExportOptions {
  /** Layer names whose outputs become graph outputs (default: the model's outputs). */
  outputs?: string[];
  /** Prepend this preprocessing so the graph takes raw RGB in [0, 255]. Default 'none'. */
  preprocess?: PreprocessMode;
  /** Graph name (default: the model's name). */
  name?: string;
}

/** Bumped whenever the exporter's output changes, so on-disk caches keyed by it are invalidated. */
export const EXPORTER_VERSION = 1;

let exportCount = 0;
/** How many graphs {@link exportOnnx} has built in this process (tests use it to prove cache hits). */
export function onnxExportCount(): number {
  return exportCount;
}

export interface SymT {
  sourceLayer: tf.layers.Layer;
  nodeIndex: number;
  tensorIndex: number;
  shape: (number | null)[];
}
interface LayerNode {
  inputTensors: SymT[];
  outputTensors: SymT[];
}
const nodesOf = (l: tf.layers.Layer): LayerNode[] => (l as unknown as { inboundNodes: LayerNode[] }).inboundNodes;
const key = (t: SymT): string => `${t.sourceLayer.name}#${t.nodeIndex}#${t.tensorIndex}`;

/**
 * The layer calls of a model's graph in topological order, found by walking back from its
 * outputs. Works for Sequential and functional models alike (both keep Keras' node graph).
 */
export function modelTensors(model: tf.LayersModel): Map<string, SymT> {
  const seen = new Map<string, SymT>();
  const visit = (t: SymT): void => {
    if (seen.has(key(t))) return;
    if (t.sourceLayer.getClassName() !== 'InputLayer') for (const i of nodesOf(t.sourceLayer)[t.nodeIndex].inputTensors) visit(i);
    seen.set(key(t), t);
  };
  for (const o of model.outputs as unknown as SymT[]) visit(o);
  return seen;
}

/** Resolves layer names (optionally `name:k` for the k-th output) to symbolic tensors of this model. */
export function resolveOutputs(model: tf.LayersModel, all: Map<string, SymT>, names: string[] | undefined): SymT[] {
  if (!names || names.length === 0) return model.outputs as unknown as SymT[];
  return names.map((spec) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(spec)!;
    const [layer, idx] = [m[1], Number(m[2] ?? 0)];
    const hits = [...all.values()].filter((t) => t.sourceLayer.name === layer && t.tensorIndex === idx);
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new GraftError('E_ONNX_OUTPUT', `Layer "${layer}" is called ${hits.length} times in model "${model.name}"; its output is ambiguous.`, 'Cut at a layer that is used once.');
    const names = [...new Set([...all.values()].map((t) => t.sourceLayer.name))];
    const shown = names.length > 40 ? `${names.slice(0, 20).join(', ')}, … (${names.length - 20} more; see model.layers)` : names.join(', ');
    throw new GraftError('E_ONNX_OUTPUT', `Output must name a layer of model "${model.name}". Received: "${spec}".`, `Should be one of: ${shown}`);
  });
}

/** Nodes that turn raw RGB [0, 255] (NCHW storage) into the network's expected input. */
function preprocess(g: GraphBuilder, x: Val, mode: PreprocessMode): Val {
  if (mode === 'none') return x;
  const ch = (base: string, v: number[]): string => g.constFloat(base, v, [3, 1, 1]);
  const scalar = (base: string, v: number): string => g.constFloat(base, [v], []);
  let y: string;
  switch (mode) {
    case 'caffe': {
      // Keras: RGB→BGR, then subtract the ImageNet BGR mean; no scaling.
      const bgr = g.node('Gather', [x.name, g.constInt64('preprocess/bgr', [2, 1, 0])], { axis: 1 }, 'preprocess/bgr');
      y = g.node('Sub', [bgr, ch('preprocess/mean', [103.939, 116.779, 123.68])], {}, 'preprocess');
      break;
    }
    case 'tf':
      y = g.node('Sub', [g.node('Div', [x.name, scalar('preprocess/127.5', 127.5)], {}, 'preprocess/div'), scalar('preprocess/one', 1)], {}, 'preprocess');
      break;
    case 'torch': {
      const x01 = g.node('Div', [x.name, scalar('preprocess/255', 255)], {}, 'preprocess/div');
      const c = g.node('Sub', [x01, ch('preprocess/mean', [0.485, 0.456, 0.406])], {}, 'preprocess/center');
      y = g.node('Div', [c, ch('preprocess/std', [0.229, 0.224, 0.225])], {}, 'preprocess');
      break;
    }
    case 'raw01':
      y = g.node('Div', [x.name, scalar('preprocess/255', 255)], {}, 'preprocess');
      break;
    default:
      throw new GraftError('E_PREPROCESS', `Unknown preprocess mode. Received: preprocess=${JSON.stringify(mode)}.`, 'Should be one of: caffe, tf, torch, raw01, none');
  }
  return { ...x, name: y };
}

/** Layout changes, memoised so each value is transposed at most once per direction. */
function makeCtx(g: GraphBuilder): Ctx {
  const memo = new Map<string, Val>();
  const ctx: Ctx = {
    g,
    toCf(v) {
      if (v.shape.length !== 4 || v.cf) return v;
      const k = `cf:${v.name}`;
      if (!memo.has(k)) memo.set(k, { name: g.node('Transpose', [v.name], { perm: [0, 3, 1, 2] }, `${v.name}/nchw`), shape: v.shape, cf: true });
      return memo.get(k)!;
    },
    toLast(v) {
      if (v.shape.length !== 4 || !v.cf) return v;
      const k = `last:${v.name}`;
      if (!memo.has(k)) memo.set(k, { name: g.node('Transpose', [v.name], { perm: [0, 2, 3, 1] }, `${v.name}/nhwc`), shape: v.shape, cf: false });
      return memo.get(k)!;
    },
  };
  return ctx;
}

/**
 * Converts a TF.js layers model, or its prefix up to named layers, to an ONNX model (opset 13).
 * The graph takes NHWC float32 like TF.js, transposes once to NCHW, runs convolutions NCHW with
 * transposed kernels, and transposes rank-4 outputs back, so every output equals the TF.js layer
 * output. Each layer's output value is named after the layer (NCHW for rank-4 values).
 *
 * @example
 * const bytes = exportOnnx(model, { outputs: ['block_13_expand_relu'], preprocess: 'tf' });
 * fs.writeFileSync('backbone.onnx', bytes);
 */
export function exportOnnx(model: tf.LayersModel, opts: ExportOptions = {}): Uint8Array {
  const all = modelTensors(model);
  const wanted = resolveOutputs(model, all, opts.outputs);
  // Only the ancestors of the wanted outputs, in topological order.
  const order: SymT[] = [];
  const seen = new Set<string>();
  const visit = (t: SymT): void => {
    if (seen.has(key(t))) return;
    seen.add(key(t));
    if (t.sourceLayer.getClassName() !== 'InputLayer') for (const i of nodesOf(t.sourceLayer)[t.nodeIndex].inputTensors) visit(i);
    order.push(t);
  };
  wanted.forEach(visit);

  const g = new GraphBuilder();
  const ctx = makeCtx(g);
  const vals = new Map<string, Val>();
  const inputs: ReturnType<typeof valueInfo>[] = [];
  for (const t of order) {
    const layer = t.sourceLayer;
    const cls = layer.getClassName();
    if (cls === 'InputLayer') {
      const name = g.unique(layer.name);
      inputs.push(valueInfo(name, t.shape));
      let v: Val = { name, shape: t.shape, cf: false };
      if (t.shape.length === 4) {
        v = ctx.toCf(v);
        if ((opts.preprocess ?? 'none') !== 'none' && t.shape[3] !== 3) {
          throw new GraftError('E_PREPROCESS', `Preprocessing "${opts.preprocess}" needs a 3-channel RGB input; input "${layer.name}" has shape ${JSON.stringify(t.shape)}.`, "Use preprocess: 'none'.");
        }
        v = preprocess(g, v, opts.preprocess ?? 'none');
      } else if ((opts.preprocess ?? 'none') !== 'none') {
        throw new GraftError('E_PREPROCESS', `Preprocessing "${opts.preprocess}" needs an image input [h, w, 3]; input "${layer.name}" has shape ${JSON.stringify(t.shape)}.`, "Use preprocess: 'none'.");
      }
      vals.set(key(t), v);
      continue;
    }
    const conv = CONVERTERS[cls];
    if (!conv) {
      throw new GraftError(
        'E_ONNX_UNSUPPORTED',
        `Layer "${layer.name}" of class ${cls} cannot be exported to ONNX.`,
        `Supported layer classes: InputLayer, ${Object.keys(CONVERTERS).join(', ')}. Cut the model before this layer (outputs: [...]) or run it in TF.js.`,
      );
    }
    const node = nodesOf(layer)[t.nodeIndex];
    if (node.outputTensors.length !== 1) throw new GraftError('E_ONNX_UNSUPPORTED', `Layer "${layer.name}" (${cls}) has ${node.outputTensors.length} outputs; the ONNX exporter converts single-output layers.`);
    const ins = node.inputTensors.map((i) => vals.get(key(i))!);
    const out = t.nodeIndex === 0 ? layer.name : `${layer.name}_call${t.nodeIndex}`;
    vals.set(key(t), conv(layer, ins, t.shape, out, ctx));
  }

  const outputs = wanted.map((t) => {
    const v = ctx.toLast(vals.get(key(t))!);
    return valueInfo(v.name, t.shape);
  });
  exportCount++;
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'graft',
    producerVersion: String(EXPORTER_VERSION),
    opsetImport: [{ domain: '', version: OPSET }],
    // Intermediate rank-4 values are NCHW; engine/onnx/backbone.ts reads this when a user cuts the graph.
    metadataProps: [
      { key: 'graft.layout', value: 'NCHW' },
      { key: 'graft.preprocess', value: opts.preprocess ?? 'none' },
    ],
    graph: { name: opts.name ?? model.name, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(proto).finish();
}
