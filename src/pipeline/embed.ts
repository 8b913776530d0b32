import { initTf } from '../engine/backend.js';
import { FrozenBackbone } from '../engine/ort.js';
import { createModel } from '../zoo/registry.js';
import { expandInputs } from './predict.js';
import { extractFeatures } from './features.js';

export interface EmbedOptions {
  backbone: string;
  weights?: string;
  pooling?: 'avg' | 'max';
  batchSize?: number;
  inputSize?: number;
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
