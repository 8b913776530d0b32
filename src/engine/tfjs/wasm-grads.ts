import * as tf from '@tensorflow/tfjs';

/**
 * The three convolution-gradient kernels the TF.js wasm backend lacks, composed from kernels it
 * has (Conv2D, DepthwiseConv2dNative, Transpose, Slice, Pad, Reshape, BatchMatMul, Sum, Reverse).
 *
 * Why composition rather than a port of the cpu loops: the cpu backend's `Conv2DBackpropFilter`
 * is a scalar JS loop (~90% of a profiled MobileNetV2 step), while the wasm kernels used here are
 * SIMD code. The results match the cpu kernels to ~1e-7 (see test/engine/wasm-grads.test.ts).
 *
 * Every configuration the cpu kernels accept is handled on wasm: NHWC and NCHW (transposed to
 * NHWC), 'same' / 'valid' / explicit / numeric padding with any rounding mode, any stride,
 * dilations (depthwise), any channel multiplier. A composed kernel that throws anyway falls back
 * to the cpu backend's own kernel (data copied across), once warned through `process.emitWarning`.
 *
 * Three kernels wasm does have are slow on the training path, so they are wrapped too
 * (measured at MobileNetV2-top sizes): `Conv2DBackpropInput` (≈4× faster as a Conv2D of the
 * flipped filter, or a matmul for 1×1) and `BatchMatMul` with transposeA/B (≈5–10× faster with
 * an explicit Transpose first; Dense gradients use both flags); `Tile` used as a broadcast (in
 * BatchNormalization's gradient) runs as Fill + Add, ≈2× faster. Their own kernels remain the
 * fallback.
 */

type Info = tf.TensorInfo;
type Pad = 'same' | 'valid' | number | number[][];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Attrs = Record<string, unknown>;

const NAMES = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const;
type GradKernelName = (typeof NAMES)[number];

let registered = false;
const warned = new Set<string>();
let fallbacks = 0;

/**
 * How many kernel calls fell back to the cpu backend so far (0 is the expected value; tests
 * assert it so that a broken composition cannot hide behind the fallback).
 *
 * @example
 * if (wasmGradFallbackCount() > 0) console.warn('some conv gradients ran on the slow cpu path');
 */
export function wasmGradFallbackCount(): number {
  return fallbacks;
}

/**
 * Registers the missing gradient kernels for the 'wasm' backend. Idempotent; importing this
 * module already calls it, so `import './wasm-grads.js'` is enough before training on wasm.
 *
 * @example
 * import { registerWasmGradKernels } from '../engine/wasm-grads.js';
 * registerWasmGradKernels();
 * await tf.setBackend('wasm');
 * const [dx, dw] = tf.grads((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same').sum())([x, w]);
 */
export function registerWasmGradKernels(): void {
  if (registered) return;
  registered = true;
  const impls: Record<GradKernelName, (x: tf.Tensor[], a: Attrs) => tf.Tensor> = {
    Conv2DBackpropFilter: ([x, dy], a) => conv2dFilterGrad(x, dy, a),
    DepthwiseConv2dNativeBackpropFilter: ([x, dy], a) => depthwiseFilterGrad(x, dy, a),
    DepthwiseConv2dNativeBackpropInput: ([dy, filter], a) => depthwiseInputGrad(dy, filter, a),
  };
  const inputOrder: Record<GradKernelName, string[]> = {
    Conv2DBackpropFilter: ['x', 'dy'],
    DepthwiseConv2dNativeBackpropFilter: ['x', 'dy'],
    DepthwiseConv2dNativeBackpropInput: ['dy', 'filter'],
  };
  for (const kernelName of NAMES) {
    // Another registration (a future tfjs-backend-wasm that ships these kernels) wins.
    if (tf.getKernel(kernelName, 'wasm') != null) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const ins = inputOrder[kernelName].map((k) => inputs[k] as Info);
        const a = (attrs ?? {}) as Attrs;
        try {
          return tf.tidy(() => impls[kernelName](ins.map((i) => asTensor(i, backend as tf.KernelBackend)), a));
        } catch (err) {
          return cpuFallback(kernelName, inputOrder[kernelName], ins, a, backend as tf.KernelBackend, err);
        }
      },
    });
  }
  wrapKernel('Conv2DBackpropInput', conv2dInputGrad);
  wrapKernel('BatchMatMul', matMulUntransposed);
  wrapKernel('Tile', tileAsBroadcast);
}

type Args = Parameters<tf.KernelFunc>[0];
type Fast = (inputs: Record<string, tf.Tensor>, a: Attrs) => tf.Tensor | null;

/** Wraps an existing wasm kernel: `fast` may decline (null); if it throws, the original runs. */
function wrapKernel(kernelName: string, fast: Fast): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (original == null) return;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args: Args) => {
      const backend = args.backend as tf.KernelBackend;
      try {
        const out = tf.tidy(() => {
          const ins: Record<string, tf.Tensor> = {};
          for (const [k, v] of Object.entries(args.inputs)) ins[k] = asTensor(v as Info, backend);
          return fast(ins, (args.attrs ?? {}) as Attrs) ?? (null as unknown as tf.Tensor);
        });
        if (out != null) return out;
      } catch (err) {
        fallbacks++;
        if (!warned.has(kernelName)) {
          warned.add(kernelName);
          process.emitWarning(`Graft: composed wasm ${kernelName} failed (${(err as Error)?.message ?? err}); using the wasm backend's own kernel.`);
        }
      }
      return original.kernelFunc(args);
    },
  });
}

/** a·b with transposes done by the Transpose kernel: wasm's matmul is ~10× slower transposed. */
function matMulUntransposed({ a, b }: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor | null {
  if (!attrs.transposeA && !attrs.transposeB) return null;
  const swapLast = (t: tf.Tensor) => tf.transpose(t, [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)));
  return tf.matMul(attrs.transposeA ? swapLast(a) : a, attrs.transposeB ? swapLast(b) : b);
}

/** A tile that only repeats size-1 dims is a broadcast: Fill + broadcasting Add beat wasm's Tile 2×. */
function tileAsBroadcast({ x }: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor | null {
  const reps = attrs.reps as number[];
  if (x.dtype !== 'float32' || !reps.every((r, i) => r === 1 || x.shape[i] === 1)) return null;
  return tf.add(x, tf.zeros(x.shape.map((d, i) => d * reps[i])));
}

/**
 * dx = correlation of the stride-dilated, padded dy with the flipped filter, channels swapped
 * ([kh,kw,Co,Ci]); for 1×1 stride 1 simply dy·Wᵀ.
 */
function conv2dInputGrad({ dy: dyIn, filter }: Record<string, tf.Tensor>, a: Attrs): tf.Tensor {
  const channelsFirst = a.dataFormat === 'NCHW';
  const inputShape = a.inputShape as number[];
  const ci = convInfo(inputShape, filter.shape, a, false, channelsFirst ? 'channelsFirst' : 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, padInfo, inHeight: h, inWidth: w, batchSize: n } = ci;
  const [kh, kw, cin, cout] = filter.shape;
  const dy = toNhwc(dyIn, channelsFirst);
  const [, oh, ow] = dy.shape;
  let dx: tf.Tensor;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && padInfo.top === 0 && padInfo.left === 0 && oh === h && ow === w) {
    const wt = tf.transpose(tf.reshape(filter, [cin, cout])) as tf.Tensor2D;
    dx = tf.reshape(tf.matMul(tf.reshape(dy, [n * oh * ow, cout]) as tf.Tensor2D, wt), [n, h, w, cin]);
  } else {
    const win = window(spreadByStride(dy, sh, sw), kh - 1 - padInfo.top, h + kh - 1, kw - 1 - padInfo.left, w + kw - 1);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    dx = tf.conv2d(win.t, flipped, 1, win.pad);
  }
  return channelsFirst ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
}

/** D with stride−1 zeros after every row/col of dy (the trailing ones are harmless zeros). */
function spreadByStride(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.reshape(spread, [n, oh * sh, ow * sw, c]) as tf.Tensor4D;
}

/** Kernel inputs are Tensors when called through ops; wrap a bare TensorInfo without stealing it. */
function asTensor(info: Info, backend: tf.KernelBackend): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  backend.incRef(info.dataId); // balanced by the wrapper's disposal at the end of the tidy
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Conv geometry as the cpu kernels compute it, so both backends agree on odd cases. */
function convInfo(xShape: number[], filterShape: number[], a: Attrs, depthwise: boolean, dataFormat: 'channelsLast' | 'channelsFirst' = 'channelsLast') {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides as [number, number] | number,
    (a.dilations as [number, number] | number | undefined) ?? 1,
    a.pad as Pad as 'same',
    a.dimRoundingMode as Rounding,
    depthwise,
    dataFormat,
  );
}

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/**
 * A view of t [N,H,W,C] as rows/cols shifted by `lead` and `size` long (zeros outside t): crops
 * where the view starts/ends inside t and returns the zero padding still needed, which the
 * convolution then applies itself (cheaper than materialising a padded copy).
 */
function window(t: tf.Tensor4D, leadH: number, sizeH: number, leadW: number, sizeW: number): { t: tf.Tensor4D; pad: ExplicitPad } {
  const begin = [0, Math.max(0, -leadH), Math.max(0, -leadW), 0];
  const preH = Math.max(0, leadH);
  const preW = Math.max(0, leadW);
  const lenH = Math.min(t.shape[1] - begin[1], sizeH - preH);
  const lenW = Math.min(t.shape[2] - begin[2], sizeW - preW);
  const cropped = begin[1] || begin[2] || lenH < t.shape[1] || lenW < t.shape[2] ? tf.slice(t, begin, [-1, lenH, lenW, -1]) : t;
  return { t: cropped, pad: [[0, 0], [preH, sizeH - preH - lenH], [preW, sizeW - preW - lenW], [0, 0]] };
}

const noPad = (p: ExplicitPad) => p.every(([a, b]) => a === 0 && b === 0);

function toNhwc(t: tf.Tensor, channelsFirst: boolean): tf.Tensor4D {
  return (channelsFirst ? tf.transpose(t, [0, 2, 3, 1]) : t) as tf.Tensor4D;
}

/**
 * dW[ky,kx,ci,co] = Σ_{n,oy,ox} x_pad[n, oy·s+ky, ox·s+kx, ci] · dy[n,oy,ox,co]: a convolution of
 * x with batch and channels swapped ([Ci,H,W,N]) by dy as the filter ([oh,ow,N,Co]) dilated by
 * the stride, whose [Ci,kh,kw,Co] output is dW transposed. 1×1 stride 1 is a plain matmul.
 */
function conv2dFilterGrad(xIn: tf.Tensor, dyIn: tf.Tensor, a: Attrs): tf.Tensor {
  const channelsFirst = a.dataFormat === 'NCHW';
  const filterShape = a.filterShape as number[];
  const ci = convInfo(xIn.shape, filterShape, a, false, channelsFirst ? 'channelsFirst' : 'channelsLast');
  const { padInfo, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = ci;
  const [kh, kw, cin, cout] = filterShape;
  const dy = toNhwc(dyIn, channelsFirst);
  const win = window(toNhwc(xIn, channelsFirst), padInfo.top, kh + (oh - 1) * sh, padInfo.left, kw + (ow - 1) * sw);
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && noPad(win.pad)) {
    const m = oh * ow * dy.shape[0];
    // wasm's matMul with transposeA is ~10× slower than an explicit transpose first.
    const xt = tf.transpose(tf.reshape(win.t, [m, cin])) as tf.Tensor2D;
    return tf.reshape(tf.matMul(xt, tf.reshape(dy, [m, cout]) as tf.Tensor2D), filterShape);
  }
  const xs = tf.transpose(win.t, [3, 1, 2, 0]) as tf.Tensor4D;
  const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
  const out = tf.conv2d(xs, f, 1, win.pad, 'NHWC', [sh, sw]);
  return tf.transpose(out, [1, 2, 0, 3]);
}

/**
 * dW[ky,kx,c,q] = Σ_{n,oy,ox} x_pad[n, oy·s+ky·d, ox·s+kx·d, c] · dy[n,oy,ox,c·M+q]: batch folded
 * into channels ([1,H,W,N·C]), a depthwise convolution by dy ([oh,ow,N·C,M]) dilated by the
 * stride, then the N partial filters summed.
 */
function depthwiseFilterGrad(x: tf.Tensor, dy: tf.Tensor, a: Attrs): tf.Tensor {
  const filterShape = a.filterShape as number[];
  const ci = convInfo(x.shape, filterShape, a, true);
  const { padInfo, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = ci;
  const [kh, kw, c, mult] = filterShape;
  const n = x.shape[0];
  const spanH = (kh - 1) * dh + 1;
  const spanW = (kw - 1) * dw + 1;
  const win = window(x as tf.Tensor4D, padInfo.top, spanH + (oh - 1) * sh, padInfo.left, spanW + (ow - 1) * sw);
  const [, hc, wc] = win.t.shape;
  const xs = tf.reshape(tf.transpose(win.t, [1, 2, 0, 3]), [1, hc, wc, n * c]) as tf.Tensor4D;
  const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [oh, ow, n * c, mult]) as tf.Tensor4D;
  let out: tf.Tensor = tf.depthwiseConv2d(xs, f, 1, win.pad, 'NHWC', [sh, sw]); // [1, spanH, spanW, N·C·M]
  if (dh > 1 || dw > 1) out = tf.stridedSlice(out, [0, 0, 0, 0], [1, spanH, spanW, n * c * mult], [1, dh, dw, 1]);
  return tf.reshape(tf.sum(tf.reshape(out, [kh, kw, n, c * mult]), 2), filterShape);
}

/**
 * dx = depthwise correlation of the stride-dilated, padded dy with the spatially flipped filter:
 * dx[iy] = Σ_ky D[iy + top − ky·d]·W[ky], D = dy with stride−1 zeros between rows.
 */
function depthwiseInputGrad(dy: tf.Tensor, filter: tf.Tensor, a: Attrs): tf.Tensor {
  const inputShape = a.inputShape as number[];
  const ci = convInfo(inputShape, filter.shape, a, true);
  const [kh, kw, c, mult] = filter.shape;
  const [n] = dy.shape;
  const [, h, w] = inputShape;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = ci;
  const d = spreadByStride(dy as tf.Tensor4D, sh, sw);
  // Rows [top − span, top − span + h + span) of D (zero outside) feed a valid correlation giving h rows.
  const spanH = (kh - 1) * dh;
  const spanW = (kw - 1) * dw;
  const win = window(d, spanH - padInfo.top, h + spanH, spanW - padInfo.left, w + spanW);
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * mult, 1]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(win.t, flipped, 1, win.pad, 'NHWC', [dh, dw]);
  return mult === 1 ? out : tf.sum(tf.reshape(out, [n, h, w, c, mult]), 4);
}

/**
 * Runs the cpu backend's own kernel on copies of the inputs and hands the result back to wasm.
 * Only reached if a composed kernel throws; slow (scalar JS) but correct.
 */
function cpuFallback(name: GradKernelName, keys: string[], ins: Info[], attrs: Attrs, wasm: tf.KernelBackend, err: unknown, warn = true): Info {
  const cpu = tf.findBackend('cpu');
  const kernel = tf.getKernel(name, 'cpu');
  // The cpu depthwise kernels ignore dilations: a fallback there would be silently wrong.
  const dil = attrs.dilations as number | number[] | undefined;
  const dilated = dil != null && (Array.isArray(dil) ? dil.some((v) => v !== 1) : dil !== 1);
  if (cpu == null || kernel == null || dilated) throw err;
  if (warn) fallbacks++;
  if (warn && !warned.has(name)) {
    warned.add(name);
    process.emitWarning(`Graft: wasm ${name} failed (${(err as Error)?.message ?? err}); computing it on the cpu backend.`);
  }
  const cpuInputs: Record<string, Info> = {};
  const made: Info[] = [];
  keys.forEach((k, i) => {
    const info = ins[i];
    const values = wasm.readSync(info.dataId) as Float32Array;
    const copy = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
    made.push(copy);
    cpuInputs[k] = copy;
  });
  try {
    const out = kernel.kernelFunc({ inputs: cpuInputs, attrs: attrs as tf.NamedAttrMap, backend: cpu }) as Info;
    made.push(out);
    const values = cpu.readSync(out.dataId) as Float32Array;
    return { dataId: wasm.write(values.slice(), out.shape, out.dtype), shape: out.shape, dtype: out.dtype };
  } finally {
    for (const m of made) cpu.disposeData(m.dataId, true);
  }
}

/** Test hook: runs one kernel through the cpu fallback path, as if the wasm composition had failed. */
export function runViaCpuFallbackForTest(name: GradKernelName, inputs: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor {
  const keys = Object.keys(inputs);
  const backend = tf.backend();
  const info = cpuFallback(name, keys, keys.map((k) => inputs[k]), attrs, backend, new Error('test'), false);
  return tf.engine().makeTensorFromTensorInfo(info);
}

registerWasmGradKernels();
