/**
 * MobileNetV2 (Sandler et al. 2018) with Keras Applications' exact layer names, so Keras and
 * nsfwjs weights load by name. Structure follows keras/applications/mobilenet_v2.py (alpha 1.0).
 */
import * as tf from '@tensorflow/tfjs';
import { addPooling, ap, blockOfPattern, correctPad, defineSpec, denseClassifier, INPUT_224, makeDivisible, unknownBlock, type Resolved, type Sym } from './common.js';
import { imagenet, nsfwjs } from './pretrained.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

/** One inverted-residual block: [expansion, output channels, stride]. */
type BlockDef = readonly [expansion: number, filters: number, stride: number];

/** Keras' block table: 17 blocks, block 0 is `expanded_conv` (no expansion). */
const BLOCKS: readonly BlockDef[] = [
  [1, 16, 1],
  [6, 24, 2], [6, 24, 1],
  [6, 32, 2], [6, 32, 1], [6, 32, 1],
  [6, 64, 2], [6, 64, 1], [6, 64, 1], [6, 64, 1],
  [6, 96, 1], [6, 96, 1], [6, 96, 1],
  [6, 160, 2], [6, 160, 1], [6, 160, 1],
  [6, 320, 1],
];

const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });
const conv1x1 = (filters: number, name: string) =>
  tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: 'glorotUniform', name });

/** Prefix of block `i`'s layer names ('expanded_conv_' for block 0, 'block_i_' otherwise). */
const prefixOf = (i: number) => (i === 0 ? 'expanded_conv_' : `block_${i}_`);

/** Whether block `i` ends in a residual `block_i_add`. */
function hasAdd(i: number): boolean {
  const [, filters, stride] = BLOCKS[i];
  const inChannels = i === 0 ? 32 : BLOCKS[i - 1][1];
  return stride === 1 && inChannels === filters;
}

function invertedResBlock(x: Sym, i: number, alpha: number): Sym {
  const [expansion, filters, stride] = BLOCKS[i];
  const inChannels = x.shape[3] as number;
  const pointwise = makeDivisible(Math.trunc(filters * alpha), 8);
  const p = prefixOf(i);
  const inputs = x;
  if (i > 0) {
    x = ap(conv1x1(expansion * inChannels, p + 'expand'), x);
    x = ap(bn(p + 'expand_BN'), x);
    x = ap(relu6(p + 'expand_relu'), x);
  }
  if (stride === 2) x = ap(tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: p + 'pad' }), x);
  x = ap(
    tf.layers.depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      padding: stride === 1 ? 'same' : 'valid',
      useBias: false,
      depthwiseInitializer: 'glorotUniform',
      name: p + 'depthwise',
    }),
    x,
  );
  x = ap(bn(p + 'depthwise_BN'), x);
  x = ap(relu6(p + 'depthwise_relu'), x);
  // The projection is linear: no activation after project_BN (the "linear bottleneck").
  x = ap(conv1x1(pointwise, p + 'project'), x);
  x = ap(bn(p + 'project_BN'), x);
  if (inChannels === pointwise && stride === 1) x = ap(tf.layers.add({ name: p + 'add' }), [inputs, x]);
  return x;
}

/** The family builder (Keras `MobileNetV2(alpha=...)`). */
function mobileNetV2(r: Resolved, alpha: number, name: string): tf.LayersModel {
  const input = tf.input({ shape: r.inputShape, name: 'input_1' });
  let x = ap(
    tf.layers.conv2d({
      filters: makeDivisible(32 * alpha, 8),
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: 'glorotUniform',
      name: 'Conv1',
    }),
    input,
  );
  x = ap(bn('bn_Conv1'), x);
  x = ap(relu6('Conv1_relu'), x);
  for (let i = 0; i < BLOCKS.length; i++) x = invertedResBlock(x, i, alpha);
  // Keras keeps 1280 channels for alpha <= 1 (the paper's choice).
  const lastFilters = alpha > 1 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = ap(tf.layers.conv2d({ filters: lastFilters, kernelSize: 1, useBias: false, kernelInitializer: 'glorotUniform', name: 'Conv_1' }), x);
  x = ap(bn('Conv_1_bn'), x);
  x = ap(relu6('out_relu'), x);
  if (r.includeTop) {
    x = ap(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }), x);
    x = denseClassifier(x, r);
  } else {
    x = addPooling(x, r.pooling);
  }
  return tf.model({ inputs: input, outputs: x, name });
}

const BLOCK_NAMES = [...BLOCKS.map((_, i) => `block_${i}`), 'top'];
const numberedBlockOf = blockOfPattern(/^(block_\d+)_/, ['Conv_1', 'Conv_1_bn', 'out_relu']);

/** MobileNetV2 (alpha 1.0): 3,538,984 parameters with the top. */
export const mobilenetV2Spec: ArchitectureSpec = defineSpec(
  {
    name: 'mobilenet_v2',
    ...INPUT_224,
    params: 3_538_984,
    blocks: BLOCK_NAMES,
    // Block 0 is Keras' `expanded_conv` (no expansion layers).
    blockOf: (layer) => (layer.startsWith('expanded_conv_') ? 'block_0' : numberedBlockOf(layer)),
    blockOutput(block: string): string {
      if (block === 'top') return 'out_relu';
      const i = Number(/^block_(\d+)$/.exec(block)?.[1] ?? NaN);
      if (!(i >= 0 && i < BLOCKS.length)) throw unknownBlock('mobilenet_v2', block, BLOCK_NAMES);
      return prefixOf(i) + (hasAdd(i) ? 'add' : 'project_BN');
    },
    featureLayer: 'out_relu',
    defaultPreprocess: 'tf',
    pretrained: Object.freeze({ imagenet: imagenet('tf', 224, 'Apache-2.0'), nsfwjs: nsfwjs(224) }),
  },
  (r) => mobileNetV2(r, 1.0, 'mobilenetv2_1.00_224'),
);

/**
 * Keras `MobileNetV2` (alpha 1.0) with random weights.
 *
 * @example
 * const m = MobileNetV2({ includeTop: false, inputShape: [96, 96, 3], pooling: 'avg' }); // [null, 1280]
 */
export function MobileNetV2(opts: ZooOptions = {}): tf.LayersModel {
  return mobilenetV2Spec.build(opts);
}
