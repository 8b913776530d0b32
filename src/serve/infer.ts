import { decodeRequestImage, toFloat } from './images.js';
import type { ServedModel } from './repository.js';

/** One class of a top-k answer. */
export interface TopClass {
  label: string;
  index: number;
  probability: number;
}

/** An encoded image from a request, with the name its errors use ("body", "file 'a.jpg'"). */
export interface RequestImage {
  bytes: Uint8Array;
  label: string;
}

/**
 * Decode request images (in parallel, on libvips' threads) and run them through the model's
 * batcher. The first undecodable image fails the request with a 400 naming it.
 */
export async function classifyImages(model: ServedModel, images: readonly RequestImage[], maxPixels: number): Promise<Float32Array> {
  const rgb = await Promise.all(images.map((im) => decodeRequestImage(im.bytes, im.label, model.manifest, maxPixels)));
  const [h, w] = model.manifest.inputSize;
  return model.batcher.submit(toFloat(rgb, h * w * 3), rgb.length);
}

/** Top `k` classes of row `i` of a probability matrix, most probable first (ties: lower index first). */
export function topK(probs: Float32Array, i: number, classes: readonly string[], k: number): TopClass[] {
  const c = classes.length;
  const row = probs.subarray(i * c, (i + 1) * c);
  const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
  return order.slice(0, Math.min(k, c)).map((j) => ({ label: classes[j]!, index: j, probability: row[j]! }));
}
