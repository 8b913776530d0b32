import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec } from '../zoo/types.js';

/**
 * Model surgery on TF.js functional (layers) models: find a cut point by layer or block name, cut
 * a model there, or split it into a frozen prefix and a trainable top that share layer objects.
 *
 * Everything walks the model's own graph, starting from `model.outputs`, rather than
 * `layer.output`/`layer.inboundNodes[0]`: a layer that has been re-used (e.g. by `splitAt`) has
 * several inbound nodes, and only the path from this model's outputs says which one is ours.
 */

type Sym = tf.SymbolicTensor;
type Kwargs = Record<string, unknown>;

/** The slice of TF.js' internal `Node` (one call of a layer) that surgery needs. */
export interface GraphNode {
  readonly outboundLayer: tf.layers.Layer;
  readonly inboundLayers: tf.layers.Layer[];
  readonly inputTensors: Sym[];
  readonly outputTensors: Sym[];
  readonly callArgs?: Kwargs;
}

/** A model's call graph: nodes in topological order (inputs first) and their links. */
export interface ModelGraph {
  readonly nodes: readonly GraphNode[];
  /** Output tensors of each layer inside this model (more than one for a shared layer). */
  readonly tensorsByLayer: ReadonlyMap<string, Sym[]>;
  readonly producer: ReadonlyMap<Sym, GraphNode>;
  readonly consumers: ReadonlyMap<Sym, GraphNode[]>;
  readonly inputs: readonly Sym[];
  readonly outputs: readonly Sym[];
}

/** Where a model is cut: the layer whose (single) output tensor is the cut activation. */
export interface CutPoint {
  readonly layerName: string;
  /** Set when the cut was asked for by block name. */
  readonly block?: string;
  readonly tensor: Sym;
}

function producerOf(t: Sym): GraphNode {
  return t.sourceLayer.inboundNodes[t.nodeIndex] as unknown as GraphNode;
}

function isInputNode(n: GraphNode): boolean {
  return n.inboundLayers.length === 0;
}

/** Builds the call graph of a functional model by a depth-first walk from its outputs. */
export function modelGraph(model: tf.LayersModel): ModelGraph {
  const nodes: GraphNode[] = [];
  const producer = new Map<Sym, GraphNode>();
  const consumers = new Map<Sym, GraphNode[]>();
  const tensorsByLayer = new Map<string, Sym[]>();
  const state = new Map<GraphNode, 'open' | 'done'>();
  // Iterative post-order DFS: deep nets (ResNet152, DenseNet) would strain recursion.
  const stack: Array<{ node: GraphNode; expanded: boolean }> = model.outputs.map((t) => ({ node: producerOf(t), expanded: false }));
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (state.get(top.node) === 'done') {
      stack.pop();
      continue;
    }
    if (!top.expanded) {
      top.expanded = true;
      state.set(top.node, 'open');
      if (!isInputNode(top.node)) {
        for (const t of top.node.inputTensors) {
          const p = producerOf(t);
          if (!state.has(p)) stack.push({ node: p, expanded: false });
        }
      }
      continue;
    }
    stack.pop();
    state.set(top.node, 'done');
    nodes.push(top.node);
    for (const t of top.node.outputTensors) {
      producer.set(t, top.node);
      const name = top.node.outboundLayer.name;
      tensorsByLayer.set(name, [...(tensorsByLayer.get(name) ?? []), t]);
    }
    if (!isInputNode(top.node)) {
      for (const t of top.node.inputTensors) consumers.set(t, [...(consumers.get(t) ?? []), top.node]);
    }
  }
  return { nodes, producer, consumers, tensorsByLayer, inputs: model.inputs, outputs: model.outputs };
}

/** Names of the model's layers in topological order (the order cut suggestions are listed in). */
export function layerOrder(graph: ModelGraph): string[] {
  return graph.nodes.map((n) => n.outboundLayer.name);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function nearest(name: string, candidates: readonly string[], n: number): string[] {
  return [...candidates].sort((x, y) => editDistance(name, x) - editDistance(name, y)).slice(0, n);
}

/**
 * Resolves `at` (a layer name, or a block name of `spec`, which means the block's output layer)
 * to the single tensor the model is cut at.
 *
 * @example
 * const cut = resolveCut(model, 'block_13', getModelSpec('mobilenet_v2'));
 * cut.layerName; // 'block_13_add'
 */
export function resolveCut(model: tf.LayersModel, at: string, spec?: ArchitectureSpec, graph = modelGraph(model)): CutPoint {
  let layerName = at;
  let block: string | undefined;
  if (!graph.tensorsByLayer.has(at) && spec?.blocks.includes(at)) {
    block = at;
    layerName = spec.blockOutput(at);
  }
  const tensors = graph.tensorsByLayer.get(layerName);
  if (!tensors) {
    const layers = layerOrder(graph);
    const blocks = spec ? [...spec.blocks] : [];
    const near = nearest(at, [...blocks, ...layers], 6);
    const what = block ? `Block "${block}" ends at layer "${layerName}", which is not in model "${model.name}".` : `Unknown cut point "${at}" for model "${model.name}": no layer${spec ? ' or block' : ''} has that name.`;
    throw new GraftError(
      'E_UNKNOWN_CUT',
      what,
      `Closest names: ${near.join(', ')}.` + (blocks.length > 0 ? ` Blocks: ${blocks.join(', ')}.` : ` Pass the architecture spec to cut by block name.`),
    );
  }
  if (tensors.length !== 1) {
    const n = tensors.length;
    throw new GraftError(
      'E_CUT_AMBIGUOUS',
      `Layer "${layerName}" yields ${n} tensors in model "${model.name}" (it is shared or has several outputs); a cut needs exactly one. Received: at=${at}.`,
      `Cut at a layer that is called once and has one output.`,
    );
  }
  return { layerName, block, tensor: tensors[0] };
}

/**
 * A new functional model from the original input(s) to the output of layer (or block) `at`. It
 * shares layer objects, hence weights, with `model`: this is how the source task's head is dropped.
 *
 * @example
 * const features = cutModel(mobilenet, 'out_relu'); // [null, 7, 7, 1280]
 */
export function cutModel(model: tf.LayersModel, at: string, spec?: ArchitectureSpec): tf.LayersModel {
  const cut = resolveCut(model, at, spec);
  if (isInputNode(producerOf(cut.tensor))) {
    throw new GraftError('E_CUT_AT_INPUT', `Cannot cut model "${model.name}" at its input layer "${cut.layerName}": the result would have no layers.`, 'Cut at a later layer or block.');
  }
  return tf.model({ inputs: model.inputs, outputs: cut.tensor, name: `${model.name}_to_${cut.layerName}` });
}

/** Ancestors of `t` (tensors it is computed from), `t` included. */
function ancestors(graph: ModelGraph, t: Sym): Set<Sym> {
  const seen = new Set<Sym>([t]);
  const todo = [t];
  while (todo.length > 0) {
    const node = graph.producer.get(todo.pop()!)!;
    if (isInputNode(node)) continue;
    for (const u of node.inputTensors) {
      if (!seen.has(u)) {
        seen.add(u);
        todo.push(u);
      }
    }
  }
  return seen;
}

/** An edge that bypasses a cut: `consumer` (after the cut) reads `source` (before it). */
export interface Crossing {
  readonly consumer: string;
  readonly source: string;
}

/**
 * Whether every path from the inputs to the outputs runs through `t` (a single-tensor articulation
 * point). Returns the first edge that bypasses it, or undefined when the cut is clean.
 */
export function findCrossing(graph: ModelGraph, t: Sym): Crossing | undefined {
  const before = ancestors(graph, t);
  const seen = new Set<Sym>([t]);
  const todo = graph.outputs.filter((o) => o !== t);
  for (const o of todo) seen.add(o);
  while (todo.length > 0) {
    const u = todo.pop()!;
    const node = graph.producer.get(u)!;
    // A model input reached without passing `t` is a second input the top would need.
    if (isInputNode(node)) return { consumer: '(model output)', source: node.outboundLayer.name };
    for (const v of node.inputTensors) {
      if (seen.has(v)) continue;
      if (before.has(v) || isInputNode(graph.producer.get(v)!)) return { consumer: node.outboundLayer.name, source: v.sourceLayer.name };
      seen.add(v);
      todo.push(v);
    }
  }
  return undefined;
}

/**
 * Layer names where `splitAt` works (single-tensor articulation points), in topological order.
 * With a spec, only block outputs are listed.
 *
 * @example
 * validCutPoints(resnet, getModelSpec('resnet50')); // ['conv1_pool'?, 'conv2_block3_out', ...]
 */
export function validCutPoints(model: tf.LayersModel, spec?: ArchitectureSpec, graph = modelGraph(model)): string[] {
  const names = spec ? spec.blocks.map((b) => spec.blockOutput(b)) : layerOrder(graph);
  return names.filter((name) => {
    const ts = graph.tensorsByLayer.get(name);
    if (!ts || ts.length !== 1 || isInputNode(producerOf(ts[0])) || graph.outputs.includes(ts[0])) return false;
    return findCrossing(graph, ts[0]) === undefined;
  });
}

/** The nearest clean cut points before and after `layerName` in topological order. */
function nearestValid(model: tf.LayersModel, graph: ModelGraph, layerName: string, spec?: ArchitectureSpec): string[] {
  const order = layerOrder(graph);
  const pos = order.indexOf(layerName);
  const valid = validCutPoints(model, spec, graph).map((n) => ({ n, i: order.indexOf(n) }));
  const before = valid.filter((v) => v.i < pos).pop();
  const after = valid.find((v) => v.i > pos);
  return [before, after].filter((v) => v !== undefined).map((v) => v.n);
}

/** The two halves of a model cut at a single tensor; both share the original layer objects. */
export interface Split {
  /** Original input(s) → activation at the cut. Runs frozen (e.g. exported to onnxruntime). */
  readonly frozen: tf.LayersModel;
  /** A new Input shaped like the cut activation → the rest of the graph → the original outputs. */
  readonly top: tf.LayersModel;
  readonly cut: CutPoint;
}

/**
 * Splits `model` at layer or block `at` into `frozen` (input → cut activation) and `top` (cut
 * activation → outputs), so `top.predict(frozen.predict(x))` equals `model.predict(x)`. The layers
 * are the same objects (calling existing layers on a new symbolic input), so training `top`
 * trains `model`. The cut must be crossed by no skip connection.
 *
 * Side effect (Keras' shared-layer semantics): the top's layers gain a second inbound node, so
 * `layer.output` on them throws afterwards; use `model.outputs` / `modelGraph`.
 *
 * @example
 * const { frozen, top } = splitAt(model, 'block_13', getModelSpec('mobilenet_v2'));
 * const y = top.predict(frozen.predict(x) as tf.Tensor);
 */
export function splitAt(model: tf.LayersModel, at: string, spec?: ArchitectureSpec): Split {
  const graph = modelGraph(model);
  const cut = resolveCut(model, at, spec, graph);
  const t = cut.tensor;
  if (isInputNode(producerOf(t))) {
    throw new GraftError('E_CUT_AT_INPUT', `Cannot split model "${model.name}" at its input "${cut.layerName}": the frozen part would be empty.`, 'Use the model itself as the trainable part.');
  }
  if (graph.outputs.includes(t)) {
    throw new GraftError('E_CUT_AT_OUTPUT', `Cannot split model "${model.name}" at its output "${cut.layerName}": the top would be empty.`, 'Cut at an earlier layer or block, or use cutModel.');
  }
  const crossing = findCrossing(graph, t);
  if (crossing) {
    const near = nearestValid(model, graph, cut.layerName, spec);
    throw new GraftError(
      'E_CUT_CROSSES_SKIP',
      `Cannot split model "${model.name}" at "${cut.layerName}": layer "${crossing.consumer}" after the cut also reads "${crossing.source}" from before it (a skip connection crosses the cut). A split needs a single tensor that every path goes through. Received: at=${at}.`,
      near.length > 0 ? `Nearest valid ${spec ? 'block outputs' : 'cut points'}: ${near.join(', ')}.` : 'This model has no single-tensor cut point.',
    );
  }

  const taken = new Set(layerOrder(graph));
  let inputName = `${cut.layerName}_features`;
  for (let i = 1; taken.has(inputName); i++) inputName = `${cut.layerName}_features_${i}`;
  const input = tf.input({ shape: t.shape.slice(1) as number[], dtype: t.dtype, name: inputName });

  const before = ancestors(graph, t);
  const mapped = new Map<Sym, Sym>([[t, input]]);
  // graph.nodes is topological, so every input of a node after the cut is already mapped.
  for (const node of graph.nodes) {
    if (node.outputTensors.some((o) => before.has(o))) continue;
    const ins = node.inputTensors.map((u) => mapped.get(u)!);
    const out = node.outboundLayer.apply(ins.length === 1 ? ins[0] : ins, node.callArgs);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((o, i) => mapped.set(o, outs[i] as Sym));
  }
  const frozen = tf.model({ inputs: model.inputs, outputs: t, name: `${model.name}_frozen` });
  const top = tf.model({ inputs: input, outputs: graph.outputs.map((o) => mapped.get(o)!), name: `${model.name}_top` });
  return { frozen, top, cut };
}
