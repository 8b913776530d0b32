import { kernelToOnnx } from '../onnx/ops.js';
import type { Layout } from './tape.js';

/**
 * TF.js weight → the graph's layout (conv [kh,kw,in,out] → [out,in,kh,kw]; depthwise
 * [kh,kw,in,mult] → [in·mult,1,kh,kw]; everything else unchanged, copied).
 *
 * @example
 * toGraphLayout(kernel, [3, 3, 8, 16], 'conv'); // [16, 8, 3, 3] row-major
 */
export function toGraphLayout(data: Float32Array, tfShape: number[], layout: Layout): Float32Array {
  if (layout === 'same') return data.slice();
  return kernelToOnnx(data, tfShape, layout === 'depthwise');
}

/**
 * The inverse of {@link toGraphLayout}: graph weight → TF.js layout.
 *
 * @example
 * fromGraphLayout(w, [3, 3, 8, 16], 'conv'); // [3, 3, 8, 16] row-major
 */
export function fromGraphLayout(data: Float32Array, tfShape: number[], layout: Layout): Float32Array {
  if (layout === 'same') return data.slice();
  const [kh, kw, a, b] = tfShape;
  const k = kh * kw;
  const keepAB = layout === 'depthwise';
  const out = new Float32Array(data.length);
  for (let x = 0; x < a; x++) {
    for (let y = 0; y < b; y++) {
      const src = (keepAB ? x * b + y : y * a + x) * k;
      for (let s = 0; s < k; s++) out[(s * a + x) * b + y] = data[src + s];
    }
  }
  return out;
}
