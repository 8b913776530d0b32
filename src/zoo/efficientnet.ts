/**
 * EfficientNet (Tan & Le 2019) as keras/applications/efficientnet.py (Keras 2.x) builds it: the
 * input is rescaled and normalised inside the model (`rescaling`, `normalization`), then a stem,
 * seven stages of MBConv blocks with squeeze-and-excitation (`block1a_` ... `block7a_`) and a top.
 * The family builder takes Keras' width/depth coefficients; B0 passes (1.0, 1.0).
 */
import * as tf from '@tensorflow/tfjs';
import { addTop, ap, blockOfPattern, correctPad, defineSpec, INPUT_224, unknownBlock, type Resolved, type Sym } from './common.js';
import { ChannelScale, Normalization } from './layers.js';
import { imagenet } from './pretrained.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

interface StageArgs {
  kernel: number;
  repeats: number;
  filtersIn: number;
  filtersOut: number;
  expand: number;
  stride: number;
}

/** Keras' DEFAULT_BLOCKS_ARGS (id_skip true and se_ratio 0.25 everywhere). */
const STAGES: readonly StageArgs[] = [
  { kernel: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expand: 1, stride: 1 },
  { kernel: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expand: 6, stride: 2 },
  { kernel: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expand: 6, stride: 2 },
  { kernel: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expand: 6, stride: 2 },
  { kernel: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expand: 6, stride: 1 },
  { kernel: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expand: 6, stride: 2 },
  { kernel: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expand: 6, stride: 1 },
];
const SE_RATIO = 0.25;

// Keras' CONV_KERNEL_INITIALIZER / DENSE_KERNEL_INITIALIZER.
const convInit = () => tf.initializers.varianceScaling({ scale: 2.0, mode: 'fanOut', distribution: 'truncatedNormal' });
const denseInit = () => tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanOut', distribution: 'uniform' });

/** ImageNet RGB statistics the Keras weights were trained with (for the #49930 correction). */
const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

const bn = (name: string) => tf.layers.batchNormalization({ axis: 3, name });
const act = (name: string) => tf.layers.activation({ activation: 'swish', name });
const conv1x1 = (filters: number, name: string, activation?: 'swish' | 'sigmoid', useBias = false) =>
  tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias, activation, kernelInitializer: convInit(), name });

/** Keras `block`: expand 1x1 → depthwise k×k → squeeze-excite → project 1x1 (+ residual). */
function mbConv(inputs: Sym, a: Omit<StageArgs, 'repeats'>, dropRate: number, name: string): Sym {
  const filters = a.filtersIn * a.expand;
  let x = inputs;
  if (a.expand !== 1) {
    x = ap(conv1x1(filters, name + 'expand_conv'), x);
    x = ap(act(name + 'expand_activation'), ap(bn(name + 'expand_bn'), x));
  }
  if (a.stride === 2) x = ap(tf.layers.zeroPadding2d({ padding: correctPad(x, a.kernel), name: name + 'dwconv_pad' }), x);
  x = ap(
    tf.layers.depthwiseConv2d({
      kernelSize: a.kernel,
      strides: a.stride,
      padding: a.stride === 2 ? 'valid' : 'same',
      useBias: false,
      depthwiseInitializer: convInit(),
      name: name + 'dwconv',
    }),
    x,
  );
  x = ap(act(name + 'activation'), ap(bn(name + 'bn'), x));

  const filtersSe = Math.max(1, Math.trunc(a.filtersIn * SE_RATIO));
  let se = ap(tf.layers.globalAveragePooling2d({ name: name + 'se_squeeze' }), x);
  se = ap(tf.layers.reshape({ targetShape: [1, 1, filters], name: name + 'se_reshape' }), se);
  se = ap(conv1x1(filtersSe, name + 'se_reduce', 'swish', true), se);
  se = ap(conv1x1(filters, name + 'se_expand', 'sigmoid', true), se);
  x = ap(tf.layers.multiply({ name: name + 'se_excite' }), [x, se]);

  x = ap(conv1x1(a.filtersOut, name + 'project_conv'), x);
  x = ap(bn(name + 'project_bn'), x);
  if (a.stride === 1 && a.filtersIn === a.filtersOut) {
    // Stochastic depth: drop the whole residual branch per sample (noise_shape (None, 1, 1, 1)).
    if (dropRate > 0) x = ap(tf.layers.dropout({ rate: dropRate, noiseShape: [null, 1, 1, 1] as unknown as number[] /* TF.js types omit null; its Dropout fills null from the input */, name: name + 'drop' }), x);
    x = ap(tf.layers.add({ name: name + 'add' }), [x, inputs]);
  }
  return x;
}

/** Keras' round_filters / round_repeats for a width / depth coefficient. */
function roundFilters(filters: number, width: number, divisor = 8): number {
  const f = filters * width;
  let n = Math.max(divisor, Math.floor(Math.trunc(f + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * f) n += divisor;
  return n;
}
const roundRepeats = (repeats: number, depth: number) => Math.ceil(depth * repeats);

/** The family builder (Keras `EfficientNet(width_coefficient, depth_coefficient, ...)`). */
function efficientNet(r: Resolved, width: number, depth: number, dropout: number, name: string, dropConnect = 0.2): tf.LayersModel {
  const input = tf.input({ shape: r.inputShape, name: 'input_1' });
  let x = ap(tf.layers.rescaling({ scale: 1 / 255, name: 'rescaling' }), input);
  x = ap(new Normalization({ axis: -1, name: 'normalization' }), x);
  if (r.weights === 'imagenet') {
    x = ap(new ChannelScale({ scale: IMAGENET_STDDEV_RGB.map((s) => 1 / Math.sqrt(s)), name: 'rescaling_1' }), x);
  }
  x = ap(tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: 'stem_conv_pad' }), x);
  x = ap(
    tf.layers.conv2d({ filters: roundFilters(32, width), kernelSize: 3, strides: 2, padding: 'valid', useBias: false, kernelInitializer: convInit(), name: 'stem_conv' }),
    x,
  );
  x = ap(act('stem_activation'), ap(bn('stem_bn'), x));

  const total = STAGES.reduce((s, a) => s + roundRepeats(a.repeats, depth), 0);
  let b = 0;
  STAGES.forEach((stage, i) => {
    const filtersOut = roundFilters(stage.filtersOut, width);
    let filtersIn = roundFilters(stage.filtersIn, width);
    for (let j = 0; j < roundRepeats(stage.repeats, depth); j++) {
      const stride = j > 0 ? 1 : stage.stride;
      if (j > 0) filtersIn = filtersOut;
      const prefix = `block${i + 1}${String.fromCharCode(97 + j)}_`;
      x = mbConv(x, { kernel: stage.kernel, filtersIn, filtersOut, expand: stage.expand, stride }, (dropConnect * b) / total, prefix);
      b++;
    }
  });

  x = ap(conv1x1(roundFilters(1280, width), 'top_conv'), x);
  x = ap(act('top_activation'), ap(bn('top_bn'), x));
  return tf.model({ inputs: input, outputs: addTop(x, r, { dropout, denseInit: denseInit() }), name });
}

const BLOCKS = ['block1', 'block2', 'block3', 'block4', 'block5', 'block6', 'block7', 'top'] as const;
const TOP_LAYERS = ['top_conv', 'top_bn', 'top_activation'];

/** Last layer of each stage for B0 (a residual `_add`, or `_project_bn` for single-block stages). */
function b0BlockOutput(block: string): string {
  if (block === 'top') return 'top_activation';
  const i = Number(/^block([1-7])$/.exec(block)?.[1] ?? NaN) - 1;
  if (!(i >= 0)) throw unknownBlock('efficientnet_b0', block, BLOCKS);
  const n = STAGES[i].repeats;
  return `block${i + 1}${String.fromCharCode(96 + n)}_${n > 1 ? 'add' : 'project_bn'}`;
}

/** EfficientNetB0: 5,330,571 parameters with the top (incl. Normalization's 7). */
export const efficientnetB0Spec: ArchitectureSpec = defineSpec(
  {
    name: 'efficientnet_b0',
    ...INPUT_224,
    params: 5_330_571,
    blocks: BLOCKS,
    blockOf: blockOfPattern(/^(block[1-7])[a-z]_/, TOP_LAYERS),
    blockOutput: b0BlockOutput,
    featureLayer: 'top_activation',
    // Keras' efficientnet.preprocess_input is a pass-through: the model rescales inside.
    defaultPreprocess: 'none',
    pretrained: Object.freeze({ imagenet: imagenet('none', 224, 'Apache-2.0') }),
  },
  (r) => efficientNet(r, 1.0, 1.0, 0.2, 'efficientnetb0'),
);

/**
 * Keras `EfficientNetB0` with random weights; it takes raw pixels in [0, 255].
 *
 * @example
 * const m = EfficientNetB0({ includeTop: false, inputShape: [64, 64, 3], pooling: 'avg' }); // [null, 1280]
 */
export function EfficientNetB0(opts: ZooOptions = {}): tf.LayersModel {
  return efficientnetB0Spec.build(opts);
}
