import { GraftError } from '../errors.js';
import type { GraftEventHandler } from '../events.js';
import { expandInputs } from '../data/inputs.js';
import { extractFeatures } from '../features/extract.js';
import { openBackbone, backboneKind } from '../backbones/index.js';
import type { PreprocessMode } from '../zoo/types.js';

export interface EmbedOptions {
  /** A zoo architecture, a .onnx file, or a Graft model directory. */
  backbone: string;
  /** Zoo backbones only. Default 'nsfwjs'. */
  weights?: string;
  pooling?: 'avg' | 'max';
  batchSize?: number;
  inputSize?: number;
  /** Where to take the features: a zoo layer or block name, or an ONNX graph value. Not for a model directory. */
  cut?: string;
  /** Preprocessing: ONNX backbones (default 'torch'), or an override for a zoo backbone. */
  preprocess?: PreprocessMode;
  cacheDir?: string;
  onEvent?: GraftEventHandler;
}

export interface EmbedResult {
  backbone: string;
  weights: string;
  cut: string;
  dims: number;
  inputSize: [number, number];
  preprocess: string;
  embeddings: { path: string; embedding: Float32Array }[];
  failed: { path: string; reason: string }[];
}

/**
 * Pooled feature vectors for images (files or folders), computed on onnxruntime, from any
 * backbone kind, at its feature layer or at `cut`. Unreadable images are listed in `failed` with
 * the reason; the others still come out.
 *
 * @example
 * const r = await embedImages(['photos/'], { backbone: 'mobilenet_v2', weights: 'nsfwjs', cut: 'block_13' });
 * r.embeddings[0].embedding.length; // 160
 */
export async function embedImages(inputs: string[], o: EmbedOptions): Promise<EmbedResult> {
  const kind = backboneKind(o.backbone);
  if (kind !== 'zoo' && o.weights !== undefined) {
    throw new GraftError('E_BAD_OPTIONS', `--weights applies to zoo backbones only; ${o.backbone} carries its own. Received: weights=${o.weights}.`, 'Drop --weights.');
  }
  if (kind === 'graft' && o.preprocess !== undefined) {
    throw new GraftError('E_BAD_OPTIONS', `A Graft model directory records its own preprocessing; --preprocess does not apply. Received: preprocess=${o.preprocess}.`, 'Drop --preprocess.');
  }
  const files = expandInputs(inputs);
  const bb = await openBackbone(o.backbone, { weights: o.weights, cut: o.cut, preprocess: o.preprocess, inputSize: o.inputSize, cacheDir: o.cacheDir, onEvent: o.onEvent });
  try {
    const items = files.images.map((path) => ({ path, label: 0 }));
    const r = await extractFeatures(bb.extractor({ pooling: o.pooling ?? 'avg' }), items, { batchSize: o.batchSize ?? 16, label: 'embed', onProgress: o.onEvent });
    const d = r.features.shape.reduce((a, b) => a * b, 1);
    return {
      backbone: o.backbone,
      weights: bb.kind === 'zoo' ? bb.weights.source : (bb.weights.sha256 ?? bb.weights.source),
      cut: bb.cut,
      dims: d,
      inputSize: bb.inputSize,
      preprocess: bb.preprocess,
      embeddings: r.features.paths.map((path, i) => ({ path, embedding: r.features.data.slice(i * d, (i + 1) * d) })),
      failed: [...files.missing.map((path) => ({ path, reason: 'no such file or folder' })), ...files.skipped, ...r.skipped],
    };
  } finally {
    bb.dispose();
  }
}
