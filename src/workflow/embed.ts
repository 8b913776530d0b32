import { initTf } from '../engine/backend.js';
import { FrozenBackbone } from '../engine/ort.js';
import { createModel } from '../zoo/registry.js';
import { expandInputs } from './predict.js';
import { extractFeatures } from '../features/extract.js';
import { isOnnxBackbone, loadOnnxBackbone } from '../backbones/onnx.js';
import type { PreprocessMode } from '../zoo/types.js';

export interface EmbedOptions {
  backbone: string;
  weights?: string;
  pooling?: 'avg' | 'max';
  batchSize?: number;
  inputSize?: number;
  /** ONNX backbones: value to cut at, and the preprocessing the model expects (default 'torch'). */
  cut?: string;
  preprocess?: PreprocessMode;
  onProgress?: (e: { type: 'initiate' | 'progress' | 'done'; label: string; loaded: number; total: number }) => void;
}

export interface EmbedResult {
  backbone: string;
  weights: string;
  dims: number;
  inputSize: [number, number];
  preprocess: string;
  embeddings: { path: string; embedding: Float32Array }[];
  failed: { path: string; reason: string }[];
}

/**
 * Pooled feature vectors for images (files or folders), computed on onnxruntime. Unreadable
 * images are listed in `failed` with the reason; the others still come out.
 *
 * @example
 * const r = await embedImages(['photos/'], { backbone: 'mobilenet_v2', weights: 'nsfwjs' });
 * r.embeddings[0].embedding.length; // 1280
 */
export async function embedImages(inputs: string[], o: EmbedOptions): Promise<EmbedResult> {
  await initTf();
  const files = expandInputs(inputs);
  if (isOnnxBackbone(o.backbone)) return embedWithOnnx(files, o);
  const weights = o.weights ?? 'nsfwjs';
  const created = await createModel(o.backbone, {
    includeTop: false,
    weights,
    pooling: o.pooling ?? 'avg',
    inputShape: o.inputSize ? [o.inputSize, o.inputSize, 3] : undefined,
  });
  const preprocess = created.pretrained?.preprocess ?? created.spec.defaultPreprocess;
  const bb = await FrozenBackbone.fromLayersModel(created.model, { preprocess });
  created.model.dispose();
  try {
    const items = files.images.map((path) => ({ path, label: 0 }));
    const [h, w] = bb.inputShape;
    const r = await extractFeatures({ inputSize: [h, w], outputShape: bb.outputShape, run: (x, n) => bb.run(x, n) }, items, {
      batchSize: o.batchSize ?? 16,
      label: 'embed',
      onProgress: o.onProgress,
    });
    const d = bb.outputShape.reduce((a, b) => a * b, 1);
    return {
      backbone: o.backbone,
      weights,
      dims: d,
      inputSize: [h, w],
      preprocess,
      embeddings: r.features.paths.map((path, i) => ({ path, embedding: r.features.data.slice(i * d, (i + 1) * d) })),
      failed: [...files.missing.map((path) => ({ path, reason: 'no such file or folder' })), ...r.skipped],
    };
  } finally {
    bb.dispose();
  }
}

/** Global average (or max) pooling of NHWC rows in JS, for ONNX backbones cut at a feature map. */
function poolRows(data: Float32Array, n: number, shape: readonly number[], mode: 'avg' | 'max'): Float32Array {
  if (shape.length !== 3) return data;
  const [h, w, c] = shape as [number, number, number];
  const out = new Float32Array(n * c).fill(mode === 'max' ? -Infinity : 0);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < c; k++) {
        const v = data[(i * h * w + p) * c + k]!;
        if (mode === 'max') out[i * c + k] = Math.max(out[i * c + k]!, v);
        else out[i * c + k]! += v / (h * w);
      }
    }
  }
  return out;
}

async function embedWithOnnx(files: { images: string[]; missing: string[] }, o: EmbedOptions): Promise<EmbedResult> {
  const preprocess = o.preprocess ?? 'torch';
  const h = await loadOnnxBackbone(o.backbone, { cut: o.cut, preprocess, inputSize: o.inputSize });
  try {
    const items = files.images.map((path) => ({ path, label: 0 }));
    const r = await extractFeatures(h.extractor, items, { batchSize: o.batchSize ?? 16, label: 'embed', onProgress: o.onProgress });
    const n = r.features.labels.length;
    const pooled = poolRows(r.features.data, n, r.features.shape, o.pooling ?? 'avg');
    const d = pooled.length / Math.max(1, n);
    return {
      backbone: o.backbone,
      weights: h.sha256,
      dims: d,
      inputSize: [h.extractor.inputSize[0], h.extractor.inputSize[1]],
      preprocess,
      embeddings: r.features.paths.map((path, i) => ({ path, embedding: pooled.slice(i * d, (i + 1) * d) })),
      failed: [...files.missing.map((path) => ({ path, reason: 'no such file or folder' })), ...r.skipped],
    };
  } finally {
    h.backbone.dispose();
  }
}
