import { GraftError } from '../errors.js';
import { CONVERTERS, type Converter } from '../engine/onnx-layers.js';
import { weight } from '../engine/onnx-ops.js';

/**
 * ONNX converter for Keras/TF.js `LayerNormalization` over the last axis, decomposed into opset-13
 * ops (ONNX's own LayerNormalization op needs opset 17):
 * y = (x - mean) / sqrt(var + eps) * gamma + beta, moments over the last axis.
 *
 * The few-shot heads use LayerNormalization to L2-normalise embeddings with stock layers only
 * (see normalize.ts). This converter belongs beside the others in engine/onnx-layers.ts; until it
 * moves there, {@link registerLayerNormConverter} adds it to the exporter's table at import time.
 */
export const layerNormalization: Converter = (layer, [input], shape, out, ctx) => {
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

/** Adds the LayerNormalization converter to the exporter's table unless it already has one. */
export function registerLayerNormConverter(): void {
  CONVERTERS.LayerNormalization ??= layerNormalization;
}

registerLayerNormConverter();
