import { type Param, type Tape, type TVal } from './tape.js';

/** Static geometry of one NCHW convolution (H, W known: the trainable part has a fixed input size). */
export interface ConvGeom {
  k: [number, number];
  s: [number, number];
  /** ONNX order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
  group: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
}

/**
 * Conv (NCHW, weight [cout, cin/group, kh, kw]) with its gradients as standard ops:
 * - input: ConvTranspose of dy with the same weight, strides, pads and group, and the output
 *   padding that restores the exact input size (1×1 stride-1 convs: one broadcast MatMul);
 * - weight: a Conv of the input, batch and channel swapped, with dy as the kernel and
 *   dilation = stride (grouped: the group axis travels with the batch axis), sliced to the
 *   kernel size. Ungrouped unpadded 1×1 convs instead take one GEMM over batch × space,
 *   dW = dy[O, N·HW] · x[C, N·HW]ᵀ, on the input subsampled by the stride (Slice with steps);
 *   other ungrouped convs on small maps the same GEMM against an im2col of x
 *   ({@link filterGradIm2col});
 * - bias: ReduceSum of dy over batch and space.
 */
export function conv(t: Tape, x: TVal, w: Param, b: Param | undefined, geo: ConvGeom, shape: (number | null)[]): TVal {
  const attrs = { kernel_shape: geo.k, strides: geo.s, pads: geo.pads, group: geo.group, dilations: [1, 1] };
  const y = t.op('Conv', b ? [x.name, w.key, b.key] : [x.name, w.key], attrs);
  const out: TVal = { name: y, shape, cf: true, grad: t.needs([x], [w, b]) };
  return t.record([x], out, (dy) => {
    t.paramGrad(b, () => t.sum(dy, [0, 2, 3], false));
    // dy as [O, N·Ho·Wo], shared by the GEMM-form weight and input gradients.
    let dyT: string | undefined;
    const dyRows = () => (dyT ??= channelsFirst(t, dy, geo.cout));
    const oneByOne = geo.k[0] === 1 && geo.k[1] === 1 && geo.group === 1 && geo.pads.every((p) => p === 0);
    const strided = geo.s[0] !== 1 || geo.s[1] !== 1;
    if (oneByOne) {
      const xs = strided ? t.op('Slice', [x.name, t.i64([0, 0]), t.i64([geo.h, geo.w]), t.i64([2, 3]), t.i64(geo.s)]) : x.name;
      t.paramGrad(w, () => t.op('Reshape', [t.op('Gemm', [dyRows(), channelsFirst(t, xs, geo.cin)], { transB: 1 }), t.i64([geo.cout, geo.cin, 1, 1])]));
      if (!x.grad) return [null];
      if (!strided) {
        // dx[C, N·HW] = W[O, C]ᵀ · dy[O, N·HW]: one GEMM (per-image GEMMs have only HW columns).
        const dx2 = t.op('Gemm', [t.op('Reshape', [w.key, t.i64([geo.cout, geo.cin])]), dyRows()], { transA: 1 });
        return [t.op('Transpose', [t.op('Reshape', [dx2, t.i64([geo.cin, -1, geo.h, geo.w])])], { perm: [1, 0, 2, 3] })];
      }
    } else {
      t.paramGrad(w, () => (useIm2col(geo) ? filterGradIm2col(t, x.name, dyRows(), geo) : filterGrad(t, x.name, dy, geo)));
      if (!x.grad) return [null];
    }
    const [pt, pl, pb, pr] = geo.pads;
    if (!strided && geo.group > 1) return [flippedConv(t, dy, w, geo)];
    const op = [geo.h - ((geo.ho - 1) * geo.s[0] + geo.k[0] - pt - pb), geo.w - ((geo.wo - 1) * geo.s[1] + geo.k[1] - pl - pr)];
    return [t.op('ConvTranspose', [dy, w.key], { ...attrs, output_padding: op })];
  });
}

/**
 * dx of a stride-1 grouped (depthwise) conv as a forward Conv of dy with the kernel flipped in
 * space, in/out channels swapped within each group, and the complementary padding:
 * onnxruntime's grouped Conv ran ~2× faster than its grouped ConvTranspose (MobileNetV2's
 * 7×7×960 depthwise layers: ~2.7 vs 5.5 ms at batch 16). Ungrouped convs keep ConvTranspose:
 * for ResNet50's 3×3 convs the two were even, and flipping a large kernel costs a pass.
 */
function flippedConv(t: Tape, dy: string, w: Param, geo: ConvGeom): string {
  const [kh, kw] = geo.k;
  const [pt, pl, pb, pr] = geo.pads;
  const flipped = t.op('Slice', [w.key, t.i64([-1, -1]), t.i64([-kh - 1, -kw - 1]), t.i64([2, 3]), t.i64([-1, -1])]);
  const g = geo.group;
  // [O, C/g, kh, kw] → [C, O/g, kh, kw]: within each group, swap the in and out channel axes
  // (nothing to swap for a plain depthwise conv, one channel in and out per group).
  const kernel =
    geo.cout === g && geo.cin === g
      ? flipped
      : t.op('Reshape', [t.op('Transpose', [t.op('Reshape', [flipped, t.i64([g, geo.cout / g, geo.cin / g, kh, kw])])], { perm: [0, 2, 1, 3, 4] }), t.i64([geo.cin, geo.cout / g, kh, kw])]);
  return t.op('Conv', [dy, kernel], { kernel_shape: geo.k, strides: [1, 1], pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr], group: g, dilations: [1, 1] });
}

/** [N, C, H, W] → [C, N·H·W] (the channel becomes the GEMM row). */
function channelsFirst(t: Tape, v: string, c: number): string {
  return t.op('Reshape', [t.op('Transpose', [v], { perm: [1, 0, 2, 3] }), t.i64([c, -1])]);
}

/** Per-sample im2col size (floats) up to which {@link filterGradIm2col} is used: 4 MiB a sample. */
const IM2COL_MAX = 1 << 20;

function useIm2col(geo: ConvGeom): boolean {
  return geo.group === 1 && geo.cin * geo.k[0] * geo.k[1] * geo.ho * geo.wo <= IM2COL_MAX;
}

/**
 * dL/dW as one GEMM, dW[O, C·kh·kw] = dy[O, N·Ho·Wo] · col[C·kh·kw, N·Ho·Wo]ᵀ, where col holds the
 * kh·kw shifted (and strided) windows of the padded input, built channel-major ([C, N, H, W]
 * first) so that stacking the windows needs no second transpose. The Conv form of
 * {@link filterGrad} runs C GEMMs only kh'·kw' columns wide; on ResNet50's 7×7 conv5 maps it
 * took 1.6× the forward conv, and this ~10% less step time at batch 32 (bench:ort-profile).
 * Costs kh·kw copies of x, hence {@link IM2COL_MAX}.
 */
function filterGradIm2col(t: Tape, x: string, dyRows: string, geo: ConvGeom): string {
  const [pt, pl, pb, pr] = geo.pads;
  const xc = t.op('Transpose', [x], { perm: [1, 0, 2, 3] }); // [C, N, H, W]
  const xp = geo.pads.some((p) => p !== 0) ? t.op('Pad', [xc, t.i64([0, 0, pt, pl, 0, 0, pb, pr])], { mode: 'constant' }) : xc;
  const windows: string[] = [];
  for (let i = 0; i < geo.k[0]; i++) {
    for (let j = 0; j < geo.k[1]; j++) {
      const ends = [i + geo.s[0] * (geo.ho - 1) + 1, j + geo.s[1] * (geo.wo - 1) + 1];
      const win = t.op('Slice', [xp, t.i64([i, j]), t.i64(ends), t.i64([2, 3]), t.i64(geo.s)]); // [C, N, Ho, Wo]
      windows.push(t.op('Unsqueeze', [win, t.i64([1])]));
    }
  }
  const cols = t.op('Reshape', [t.op('Concat', windows, { axis: 1 }), t.i64([geo.cin * geo.k[0] * geo.k[1], -1])]); // [C·K, N·Ho·Wo]
  const dw = t.op('Gemm', [dyRows, cols], { transB: 1 });
  return t.op('Reshape', [dw, t.i64([geo.cout, geo.cin, geo.k[0], geo.k[1]])]);
}

/** dL/dW for a grouped strided conv, as one Conv (see {@link conv}). */
export function filterGrad(t: Tape, x: string, dy: string, geo: ConvGeom): string {
  const { group: g, cin, h, w } = geo;
  const cg = cin / g;
  // x [N, C, H, W] → [cg, g·N, H, W]: channel-in-group becomes the batch, (group, n) the channels.
  const xt =
    g === 1
      ? t.op('Transpose', [x], { perm: [1, 0, 2, 3] })
      : t.op('Reshape', [t.op('Transpose', [t.op('Reshape', [x, t.i64([-1, g, cg, h, w])])], { perm: [2, 1, 0, 3, 4] }), t.i64([cg, -1, h, w])]);
  const dyt = t.op('Transpose', [dy], { perm: [1, 0, 2, 3] }); // [O, N, Ho, Wo]: the kernel
  const raw = t.op('Conv', [xt, dyt], { group: g, dilations: geo.s, strides: [1, 1], pads: geo.pads }); // [cg, O, kh', kw']
  const [pt, pl, pb, pr] = geo.pads;
  const kh2 = h + pt + pb - (geo.ho - 1) * geo.s[0];
  const kw2 = w + pl + pr - (geo.wo - 1) * geo.s[1];
  // Rows/cols the strided forward pass never reached give kh' > kh: cut them.
  const cut = kh2 > geo.k[0] || kw2 > geo.k[1] ? t.op('Slice', [raw, t.i64([0, 0]), t.i64([geo.k[0], geo.k[1]]), t.i64([2, 3])]) : raw;
  return t.op('Transpose', [cut], { perm: [1, 0, 2, 3] });
}
