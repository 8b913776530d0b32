import * as tf from '@tensorflow/tfjs';

/**
 * The three convolution-gradient kernels the TF.js wasm backend lacks, composed from kernels it
 * has (StridedSlice, Pad, Reshape, BatchMatMul, Multiply, Sum, Reverse, DepthwiseConv2dNative).
 *
 * Why composition rather than a port of the cpu loops: the cpu backend's `Conv2DBackpropFilter`
 * is a scalar JS loop (~90% of a profiled MobileNetV2 step), while the wasm kernels used here are
 * SIMD code. The results match the cpu kernels to ~1e-7 (see test/engine/wasm-grads.test.ts).
 *
 * Every configuration the cpu kernels accept is handled on wasm: NHWC and NCHW (transposed to
 * NHWC), 'same' / 'valid' / explicit / numeric padding with any rounding mode, any stride,
 * dilations (depthwise), any channel multiplier. A composed kernel that throws anyway falls back
 * to the cpu backend's own kernel (data copied across), once warned through `process.emitWarning`.
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
 * import { registerWasmGradKernels } from './engine/wasm-grads.js';
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

type ConvInfo = ReturnType<typeof convInfo>;

/**
 * Zero-pads x [N,H,W,C] so that every tap's strided window is in range, then returns, for tap
 * (ky,kx), the input pixels it multiplied: [N, outH, outW, C].
 */
function tapExtractor(x: tf.Tensor4D, ci: ConvInfo): (ky: number, kx: number) => tf.Tensor4D {
  const { padInfo, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = ci;
  const [n, h, w, c] = x.shape;
  const needH = (ci.filterHeight - 1) * dh + (oh - 1) * sh + 1;
  const needW = (ci.filterWidth - 1) * dw + (ow - 1) * sw + 1;
  const bottom = Math.max(0, needH - h - padInfo.top);
  const right = Math.max(0, needW - w - padInfo.left);
  const xp = padInfo.top || bottom || padInfo.left || right
    ? tf.pad(x, [[0, 0], [padInfo.top, bottom], [padInfo.left, right], [0, 0]])
    : x;
  const whole = ci.filterHeight === 1 && ci.filterWidth === 1 && sh === 1 && sw === 1 && needH === xp.shape[1] && needW === xp.shape[2];
  return (ky, kx) => {
    if (whole) return xp; // 1×1, stride 1: the tap is the (padded) input itself
    const y0 = ky * dh;
    const x0 = kx * dw;
    return tf.stridedSlice(xp, [0, y0, x0, 0], [n, y0 + (oh - 1) * sh + 1, x0 + (ow - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
  };
}

function toNhwc(t: tf.Tensor, channelsFirst: boolean): tf.Tensor4D {
  return (channelsFirst ? tf.transpose(t, [0, 2, 3, 1]) : t) as tf.Tensor4D;
}

/** dW[ky,kx,ci,co] = Σ_{n,oy,ox} x_pad[n, oy·s+ky, ox·s+kx, ci] · dy[n,oy,ox,co]: one matmul per tap. */
function conv2dFilterGrad(xIn: tf.Tensor, dyIn: tf.Tensor, a: Attrs): tf.Tensor {
  const channelsFirst = a.dataFormat === 'NCHW';
  const filterShape = a.filterShape as number[];
  const ci = convInfo(xIn.shape, filterShape, a, false, channelsFirst ? 'channelsFirst' : 'channelsLast');
  const x = toNhwc(xIn, channelsFirst);
  const dy = toNhwc(dyIn, channelsFirst);
  const [kh, kw, cin, cout] = filterShape;
  const m = dy.shape[0] * dy.shape[1] * dy.shape[2];
  const dy2 = tf.reshape(dy, [m, cout]) as tf.Tensor2D;
  const tap = tapExtractor(x, ci);
  const taps: tf.Tensor[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      taps.push(tf.matMul(tf.reshape(tap(ky, kx), [m, cin]) as tf.Tensor2D, dy2, true, false));
    }
  }
  return tf.reshape(taps.length === 1 ? taps[0] : tf.stack(taps), [kh, kw, cin, cout]);
}

/** dW[ky,kx,c,q] = Σ_{n,oy,ox} x_pad[n, oy·s+ky·d, ox·s+kx·d, c] · dy[n,oy,ox,c·M+q]. */
function depthwiseFilterGrad(x: tf.Tensor, dy: tf.Tensor, a: Attrs): tf.Tensor {
  const filterShape = a.filterShape as number[];
  const ci = convInfo(x.shape, filterShape, a, true);
  const [kh, kw, c, mult] = filterShape;
  const [n, oh, ow] = dy.shape;
  const dy5 = mult === 1 ? dy : tf.reshape(dy, [n, oh, ow, c, mult]);
  const tap = tapExtractor(x as tf.Tensor4D, ci);
  const taps: tf.Tensor[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const t = tap(ky, kx);
      const prod = mult === 1 ? tf.mul(t, dy5) : tf.mul(tf.reshape(t, [n, oh, ow, c, 1]), dy5);
      taps.push(tf.sum(prod, [0, 1, 2]));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, mult]);
}

/**
 * dx = depthwise correlation of the stride-dilated, padded dy with the spatially flipped filter:
 * dx[iy] = Σ_ky D[iy + top − ky·d]·W[ky], D = dy with stride−1 zeros between rows.
 */
function depthwiseInputGrad(dy: tf.Tensor, filter: tf.Tensor, a: Attrs): tf.Tensor {
  const inputShape = a.inputShape as number[];
  const ci = convInfo(inputShape, filter.shape, a, true);
  const [kh, kw, c, mult] = filter.shape;
  const [n, oh, ow, cm] = dy.shape;
  const [, h, w] = inputShape;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = ci;
  let d = dy as tf.Tensor4D;
  if (sh > 1 || sw > 1) {
    const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, cm]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    d = tf.slice(tf.reshape(spread, [n, oh * sh, ow * sw, cm]), [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, cm]) as tf.Tensor4D;
  }
  // Rows [lo, lo + h + span − 1) of D (zero outside) feed a valid correlation giving h rows.
  const spanH = (kh - 1) * dh;
  const spanW = (kw - 1) * dw;
  d = padOrCrop(d, 1, spanH - padInfo.top, h + spanH);
  d = padOrCrop(d, 2, spanW - padInfo.left, w + spanW);
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * mult, 1]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(d, flipped, 1, 'valid', 'NHWC', [dh, dw]);
  return mult === 1 ? out : tf.sum(tf.reshape(out, [n, h, w, c, mult]), 4);
}

/** Shifts `t` along `axis` by `lead` (pad with zeros if positive, drop if negative) and fits it to `size`. */
function padOrCrop(t: tf.Tensor4D, axis: 1 | 2, lead: number, size: number): tf.Tensor4D {
  let out = t;
  if (lead < 0) out = sliceAxis(out, axis, -lead, out.shape[axis] + lead);
  const pre = Math.max(0, lead);
  const post = size - pre - out.shape[axis];
  if (post < 0) out = sliceAxis(out, axis, 0, out.shape[axis] + post);
  if (pre > 0 || post > 0) {
    const p: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
    p[axis] = [pre, Math.max(0, post)];
    out = tf.pad(out, p);
  }
  return out;
}

function sliceAxis(t: tf.Tensor4D, axis: number, begin: number, size: number): tf.Tensor4D {
  const b = [0, 0, 0, 0];
  const s = [...t.shape];
  b[axis] = begin;
  s[axis] = Math.max(0, size);
  return tf.slice(t, b, s);
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
