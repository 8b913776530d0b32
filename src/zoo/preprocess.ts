/**
 * Pixel preprocessing exactly as Keras' `imagenet_utils.preprocess_input` (channels-last).
 */
import { GraftError } from '../errors.js';
import type { PreprocessMode } from './types.js';

/** ImageNet mean in BGR order, on the 0..255 scale (Keras 'caffe' mode). */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;
/** ImageNet mean / std in RGB order, on the 0..1 scale (Keras 'torch' mode). */
const TORCH_MEAN = [0.485, 0.456, 0.406] as const;
const TORCH_STD = [0.229, 0.224, 0.225] as const;
const MODES: readonly PreprocessMode[] = ['caffe', 'tf', 'torch', 'raw01', 'none'];

/**
 * Turns HWC RGB pixels in [0, 255] (n·h·w·3 values) into network input. `out` may be `src` itself
 * (in place) when `src` is a Float32Array.
 * - caffe: RGB→BGR, minus the BGR mean; tf: x/127.5 − 1; torch: (x/255 − mean)/std;
 *   raw01: x/255; none: a float copy.
 *
 * @example
 * const x = preprocess(new Uint8Array([255, 0, 0]), 'caffe'); // [-103.939, -116.779, 131.32]
 */
export function preprocess(src: Uint8Array | Float32Array, mode: PreprocessMode, out?: Float32Array): Float32Array {
  if (!MODES.includes(mode)) {
    throw new GraftError('E_PREPROCESS', `Unknown preprocessing mode. Received: mode=${JSON.stringify(mode)}`, `Should be one of: ${MODES.join(', ')}`);
  }
  if (src.length % 3 !== 0) {
    throw new GraftError('E_PREPROCESS', `Pixels must be RGB (a multiple of 3 values). Received: ${src.length} values`);
  }
  const dst = out ?? new Float32Array(src.length);
  if (dst.length !== src.length) {
    throw new GraftError('E_PREPROCESS', `\`out\` must have as many values as the input (${src.length}). Received: ${dst.length}`);
  }
  const n = src.length;
  switch (mode) {
    case 'caffe':
      for (let i = 0; i < n; i += 3) {
        const r = src[i];
        const b = src[i + 2];
        dst[i] = b - CAFFE_MEAN_BGR[0];
        dst[i + 1] = src[i + 1] - CAFFE_MEAN_BGR[1];
        dst[i + 2] = r - CAFFE_MEAN_BGR[2];
      }
      break;
    case 'tf':
      for (let i = 0; i < n; i++) dst[i] = src[i] / 127.5 - 1;
      break;
    case 'torch':
      for (let i = 0; i < n; i += 3) {
        for (let c = 0; c < 3; c++) dst[i + c] = (src[i + c] / 255 - TORCH_MEAN[c]) / TORCH_STD[c];
      }
      break;
    case 'raw01':
      for (let i = 0; i < n; i++) dst[i] = src[i] / 255;
      break;
    case 'none':
      if (dst !== src) dst.set(src);
      break;
  }
  return dst;
}
