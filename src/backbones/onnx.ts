import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import { FrozenBackbone } from '../engine/ort.js';
import { decodeOnnx, onnxInfo, cutOnnx } from '../engine/onnx/backbone.js';
import { exportOnnx } from '../engine/onnx/export.js';
import { chainOnnx } from '../engine/onnx/compose.js';
import type { PreprocessMode } from '../zoo/types.js';
import { preprocess as preprocessPixels } from '../zoo/preprocess.js';
import type { Extractor } from '../features/extract.js';

/**
 * A user's ONNX model as a frozen backbone (frozen only: onnxruntime-node cannot train it).
 * Pixels get Graft's `preprocess` mode in JS before the graph; `cut` names the graph value to
 * take features from (default: the model's output).
 */
export interface OnnxBackboneHandle {
  backbone: FrozenBackbone;
  extractor: Extractor;
  /** sha256 of the (cut) graph bytes: the cache key and the weights hash in graft.json. */
  sha256: string;
  cut: string;
  /** Cut graph bytes, for composing the exported pipeline. */
  bytes: Uint8Array;
  inputLayout: 'NCHW' | 'NHWC';
  outputNchw: boolean;
}

export async function loadOnnxBackbone(file: string, opts: { cut?: string; preprocess: PreprocessMode; inputSize?: number }): Promise<OnnxBackboneHandle> {
  if (!fs.existsSync(file)) throw new GraftError('E_ONNX_READ', `ONNX backbone not found. Received: ${JSON.stringify(file)}.`);
  const raw = new Uint8Array(fs.readFileSync(file));
  const proto = decodeOnnx(raw);
  const info = onnxInfo(proto);
  const cut = opts.cut ?? info.outputNames[0]!;
  const bytes = opts.cut ? cutOnnx(proto, opts.cut) : raw;
  const bb = await FrozenBackbone.fromOnnxFile(file, {
    output: opts.cut,
    inputShape: opts.inputSize ? [opts.inputSize, opts.inputSize, 3] : undefined,
  });
  const [h, w] = bb.inputShape;
  const outputNchw = bb.outputNchw;
  const extractor: Extractor = {
    inputSize: [h, w],
    outputShape: bb.outputShape,
    // preprocess() writes in place into the batch buffer, which the caller refills every batch.
    run: (x, n) => bb.run(preprocessPixels(x, opts.preprocess, x), n),
  };
  return { backbone: bb, extractor, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), cut, bytes, inputLayout: info.inputLayout, outputNchw };
}

/** A head model whose input is the backbone's feature tensor (NHWC or [d]). */
export function featureInputModel(shape: readonly number[]): tf.LayersModel {
  const input = tf.input({ shape: [...shape], name: 'onnx_backbone_features' });
  const identity = tf.layers.activation({ activation: 'linear', name: 'onnx_features' }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: identity, name: 'graft_head_on_onnx' });
}

/**
 * One ONNX graph for the whole pipeline: raw RGB [0,255] NHWC → Graft preprocessing → the user's
 * backbone (its own layout) → the trained head → probabilities.
 */
export function composePipeline(h: OnnxBackboneHandle, head: tf.LayersModel, mode: PreprocessMode): Uint8Array {
  const [ih, iw] = h.backbone.inputShape;
  const idIn = tf.input({ shape: [ih, iw, 3], name: 'image' });
  const idOut = tf.layers.activation({ activation: 'linear', name: 'pixels' }).apply(idIn) as tf.SymbolicTensor;
  const pre = exportOnnx(tf.model({ inputs: idIn, outputs: idOut }), { preprocess: mode, name: 'graft_preprocess' });
  const headBytes = exportOnnx(head, { name: 'graft_head' });
  return chainOnnx(
    [pre, h.bytes, headBytes],
    [{ transpose: h.inputLayout === 'NCHW' ? [0, 3, 1, 2] : undefined }, { transpose: h.outputNchw ? [0, 2, 3, 1] : undefined }],
    { input: 'image', output: 'probabilities' },
  );
}

export function isOnnxBackbone(name: string): boolean {
  return name.toLowerCase().endsWith('.onnx') && path.extname(name) !== '';
}
