import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec } from '../zoo/types.js';
import { freeze, type FreezeSummary } from './freeze.js';
import { addHead, type HeadOptions } from './head.js';
import { cutModel, modelGraph, resolveCut, splitAt, validCutPoints } from './surgery.js';

/** Model surgery, heads and freezing: Graft's Keras-like transfer API. */
export { resolveCut, cutModel, splitAt, validCutPoints, findCrossing, modelGraph, layerOrder } from './surgery.js';
export type { CutPoint, Split, Crossing, ModelGraph, GraphNode } from './surgery.js';
export { addHead, HEAD_LAYER_NAMES } from './head.js';
export type { HeadOptions } from './head.js';
export { freeze, unfreezeTopBlocks, trainableLayerNames, setBatchNormInference, freezeSummary } from './freeze.js';
export type { FreezeOptions, FreezeSummary } from './freeze.js';

/** What to freeze: the whole base, nothing, up to a layer/block (inclusive), or all blocks before one. */
export type FreezePolicy = 'all' | 'none' | { upTo: string } | { fromBlock: string };

export interface TransferOptions {
  base: tf.LayersModel;
  spec?: ArchitectureSpec;
  /** Layer or block whose output feeds the new head (the source task's head is dropped). */
  cut: string;
  head: HeadOptions;
  freeze: FreezePolicy;
  /** See `setBatchNormInference`; default false (frozen BN runs in inference mode, as in Keras). */
  keepTrainingFrozenBnStats?: boolean;
}

export interface TransferModel {
  /** The complete network (input → head), for export. Shares every layer with `frozen` and `top`. */
  readonly model: tf.LayersModel;
  /** Input → activation at `splitLayer`, all layers frozen (run it in onnxruntime); null when nothing is frozen. */
  readonly frozen: tf.LayersModel | null;
  /** The trainable part: activation at `splitLayer` → predictions (`model` itself when nothing is frozen). */
  readonly top: tf.LayersModel;
  /** The layer the head sits on. */
  readonly cutLayer: string;
  /** Where frozen ends and top begins: `cutLayer` for freeze 'all'; null for 'none'. */
  readonly splitLayer: string | null;
  readonly summary: FreezeSummary;
}

/**
 * Cut → new head → freeze → split, in one call. Compile `top` (not `model`) to train; the split
 * falls where the frozen layers end, which must be a single tensor (a block output).
 *
 * @example
 * const spec = getModelSpec('mobilenet_v2');
 * const t = buildTransferModel({ base: buildModel('mobilenet_v2', { includeTop: false }), spec,
 *   cut: 'out_relu', head: { classes: 3, dropout: 0.2 }, freeze: { fromBlock: 'block_14' } });
 * t.top.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
 * // features = t.frozen.predict(x) (or its ONNX export); t.top.fit(features, y)
 */
export function buildTransferModel(opts: TransferOptions): TransferModel {
  const { base, spec, cut, head, keepTrainingFrozenBnStats } = opts;
  const cutLayer = resolveCut(base, cut, spec).layerName;
  const model = addHead(cutModel(base, cut, spec), head);
  const f = opts.freeze;
  const bn = { keepTrainingFrozenBnStats };
  const summary =
    f === 'all' ? freeze(model, { upTo: cutLayer, ...bn })
    : f === 'none' ? freeze(model, { all: false, ...bn })
    : typeof f === 'object' && 'upTo' in f ? freeze(model, { upTo: f.upTo, spec, ...bn })
    : typeof f === 'object' && 'fromBlock' in f ? freeze(model, { from: f.fromBlock, spec, ...bn })
    : badPolicy(f);

  // Frontier: tensors made by frozen layers and read by trainable ones. One tensor → split there.
  const graph = modelGraph(model);
  const frontier = new Set<tf.SymbolicTensor>();
  for (const node of graph.nodes) {
    if (!node.outboundLayer.trainable || node.inboundLayers.length === 0) continue;
    for (const t of node.inputTensors) if (!t.sourceLayer.trainable) frontier.add(t);
  }
  const anyFrozen = graph.nodes.some((n) => !n.outboundLayer.trainable && n.inboundLayers.length > 0);
  if (!anyFrozen) return { model, frozen: null, top: model, cutLayer, splitLayer: null, summary };
  if (summary.trainable === 0) {
    throw new GraftError('E_FREEZE_NOTHING_TRAINS', `Freeze policy ${JSON.stringify(f)} leaves no trainable layer in the transfer model.`, "Freeze up to the cut at most, e.g. freeze: 'all'.");
  }
  const names = [...frontier].map((t) => t.sourceLayer.name);
  if (names.length !== 1) {
    throw new GraftError(
      'E_FREEZE_NOT_SPLITTABLE',
      `Freeze policy ${JSON.stringify(f)} ends at ${names.length} tensors (${names.join(', ')}), so the frozen part cannot be split off as one activation.`,
      `Freeze up to a single-tensor cut point, e.g. one of: ${validCutPoints(model, spec).slice(-6).join(', ')}.`,
    );
  }
  const { frozen, top } = splitAt(model, names[0]);
  return { model, frozen, top, cutLayer, splitLayer: names[0], summary };
}

function badPolicy(f: unknown): never {
  throw new GraftError('E_FREEZE_POLICY', `Unknown freeze policy. Received: freeze=${JSON.stringify(f)}.`, "Should be one of: 'all', 'none', { upTo: <layer|block> }, { fromBlock: <block> }.");
}
