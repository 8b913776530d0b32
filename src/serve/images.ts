import sharp from 'sharp';
import { decodeBytes } from '../data/decode.js';
import type { GraftManifest } from '../io/manifest.js';
import { HttpError, badRequest } from './http-error.js';

/**
 * Encoded image bytes from a request → RGB8 pixels at the model's input size, decoded exactly as
 * `graft predict` decodes a file (`decodeBytes` with graft.json's input size and resize mode), so
 * the server's numbers are predict's numbers. Before decoding, the header alone is read and an
 * image of more than `maxPixels` pixels is refused (a decompression bomb never reaches libvips'
 * decoder). `label` names the part in every message ("body", "file 'b.jpg'", "inputs[0][2]").
 *
 * @example
 * const rgb = await decodeRequestImage(buf, 'body', manifest, 50e6);
 */
export async function decodeRequestImage(bytes: Uint8Array, label: string, manifest: GraftManifest, maxPixels: number): Promise<Uint8Array> {
  if (bytes.length === 0) throw badRequest(`${label}: empty (zero bytes); send the encoded image (JPEG, PNG, WebP, GIF, TIFF, AVIF).`);
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(bytes, { pages: 1 }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch {
    // Not readable even as a header: decodeBytes below names the reason the same way predict does.
  }
  if (width * height > maxPixels) {
    throw new HttpError(413, `${label}: ${width}×${height} = ${width * height} pixels exceeds the server's limit of ${maxPixels} decoded pixels (a decompression bomb, or an image far larger than the model's ${manifest.inputSize.join('×')} input); resize it first, or start the server with a higher --max-pixels.`);
  }
  const r = await decodeBytes(bytes, label, { size: manifest.inputSize, fit: manifest.resize });
  if (!r.ok) throw badRequest(`${label}: ${r.reason}`);
  return r.data;
}

/** Widen RGB8 images to the float32 the graph takes (exact: every byte is a float32 integer). */
export function toFloat(images: readonly Uint8Array[], len: number): Float32Array {
  const x = new Float32Array(images.length * len);
  images.forEach((img, i) => {
    for (let j = 0; j < len; j++) x[i * len + j] = img[j]!;
  });
  return x;
}
