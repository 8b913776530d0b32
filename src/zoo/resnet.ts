/**
 * ResNet v1 50/101/152 (He et al. 2015) as keras/applications/resnet.py builds them: a private
 * family builder taking a stack function, public variants passing block counts, and Keras' names
 * (`conv1_conv`, `conv2_block1_1_conv`, ..., `conv5_block3_out`) so Keras' .h5 weights load by name.
 */
import * as tf from '@tensorflow/tfjs';
import { addTop, ap, blockIndex, defineSpec, INPUT_224, type Resolved, type Sym } from './common.js';
import { imagenet } from './pretrained.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

const BN_EPS = 1.001e-5;
const bn = (name: string) => tf.layers.batchNormalization({ axis: 3, epsilon: BN_EPS, name });
const relu = (name: string) => tf.layers.activation({ activation: 'relu', name });
const conv = (filters: number, kernelSize: number, name: string, strides = 1, padding: 'same' | 'valid' = 'valid') =>
  tf.layers.conv2d({ filters, kernelSize, strides, padding, kernelInitializer: 'glorotUniform', name });

/** Keras `block1`: bottleneck 1x1 → 3x3 → 1x1 (×4), with a projection shortcut when asked. */
function block1(x: Sym, filters: number, name: string, stride = 1, convShortcut = true): Sym {
  const shortcut = convShortcut ? ap(bn(name + '_0_bn'), ap(conv(4 * filters, 1, name + '_0_conv', stride), x)) : x;
  x = ap(conv(filters, 1, name + '_1_conv', stride), x);
  x = ap(relu(name + '_1_relu'), ap(bn(name + '_1_bn'), x));
  x = ap(conv(filters, 3, name + '_2_conv', 1, 'same'), x);
  x = ap(relu(name + '_2_relu'), ap(bn(name + '_2_bn'), x));
  x = ap(conv(4 * filters, 1, name + '_3_conv'), x);
  x = ap(bn(name + '_3_bn'), x);
  x = ap(tf.layers.add({ name: name + '_add' }), [shortcut, x]);
  return ap(relu(name + '_out'), x);
}

/** Keras `stack1`: `blocks` bottlenecks, the first one projecting (and striding). */
function stack1(x: Sym, filters: number, blocks: number, name: string, stride1 = 2): Sym {
  x = block1(x, filters, name + '_block1', stride1);
  for (let i = 2; i <= blocks; i++) x = block1(x, filters, `${name}_block${i}`, 1, false);
  return x;
}

/** The family builder (Keras `ResNet(stack_fn, preact=False, use_bias=True)`). */
function resnet(r: Resolved, blocks: readonly [number, number, number, number], name: string): tf.LayersModel {
  const input = tf.input({ shape: r.inputShape, name: 'input_1' });
  let x = ap(tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }), input);
  x = ap(conv(64, 7, 'conv1_conv', 2), x);
  x = ap(relu('conv1_relu'), ap(bn('conv1_bn'), x));
  x = ap(tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }), x);
  x = ap(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);
  x = stack1(x, 64, blocks[0], 'conv2', 1);
  x = stack1(x, 128, blocks[1], 'conv3');
  x = stack1(x, 256, blocks[2], 'conv4');
  x = stack1(x, 512, blocks[3], 'conv5');
  return tf.model({ inputs: input, outputs: addTop(x, r), name });
}

const BLOCKS = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'] as const;

function resnetSpec(name: string, params: number, blocks: readonly [number, number, number, number]): ArchitectureSpec {
  return defineSpec(
    {
      name,
      ...INPUT_224,
      params,
      blocks: BLOCKS,
      // The stem (conv1_* and the pool1_* max-pool) is block 'conv1', as torchvision's layer0.
      blockOf: (layer) => (layer.startsWith('pool1_') ? 'conv1' : /^(conv[1-5])_/.exec(layer)?.[1]),
      blockOutput(block) {
        const i = blockIndex(name, BLOCKS, block);
        return i === 0 ? 'pool1_pool' : `${block}_block${blocks[i - 1]}_out`;
      },
      featureLayer: 'conv5_block3_out',
      defaultPreprocess: 'caffe',
      pretrained: Object.freeze({ imagenet: imagenet('caffe', 224, 'MIT') }),
    },
    (r) => resnet(r, blocks, name),
  );
}

/** ResNet50: 25,636,712 parameters with the top. */
export const resnet50Spec = resnetSpec('resnet50', 25_636_712, [3, 4, 6, 3]);
/** ResNet101: 44,707,176 parameters with the top. */
export const resnet101Spec = resnetSpec('resnet101', 44_707_176, [3, 4, 23, 3]);
/** ResNet152: 60,419,944 parameters with the top. */
export const resnet152Spec = resnetSpec('resnet152', 60_419_944, [3, 8, 36, 3]);

/**
 * Keras `ResNet50` with random weights.
 *
 * @example
 * const m = ResNet50({ includeTop: false, inputShape: [64, 64, 3], pooling: 'avg' }); // [null, 2048]
 */
export const ResNet50 = (opts: ZooOptions = {}): tf.LayersModel => resnet50Spec.build(opts);
/** Keras `ResNet101` with random weights. @example ResNet101({ includeTop: false, pooling: 'avg' }) */
export const ResNet101 = (opts: ZooOptions = {}): tf.LayersModel => resnet101Spec.build(opts);
/** Keras `ResNet152` with random weights. @example ResNet152({ includeTop: false, pooling: 'avg' }) */
export const ResNet152 = (opts: ZooOptions = {}): tf.LayersModel => resnet152Spec.build(opts);
