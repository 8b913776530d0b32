/**
 * VGG16 / VGG19 (Simonyan & Zisserman 2014) as keras/applications/vgg16.py and vgg19.py build them:
 * five blocks of 3×3 convolutions (`blockB_convN`) each ending in `blockB_pool`, then
 * flatten → fc1 → fc2 → predictions.
 */
import * as tf from '@tensorflow/tfjs';
import { addPooling, ap, blockIndex, blockOfPattern, defineSpec, denseClassifier, INPUT_224, type Resolved } from './common.js';
import { imagenet } from './pretrained.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

const FILTERS = [64, 128, 256, 512, 512] as const;
const BLOCKS = ['block1', 'block2', 'block3', 'block4', 'block5'] as const;

/** The family builder: `convsPerBlock` is [2, 2, 3, 3, 3] for VGG16, [2, 2, 4, 4, 4] for VGG19. */
function vgg(r: Resolved, convsPerBlock: readonly number[], name: string): tf.LayersModel {
  const input = tf.input({ shape: r.inputShape, name: 'input_1' });
  let x = input;
  convsPerBlock.forEach((n, b) => {
    for (let i = 1; i <= n; i++) {
      const conv = tf.layers.conv2d({
        filters: FILTERS[b],
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: 'glorotUniform',
        name: `block${b + 1}_conv${i}`,
      });
      x = ap(conv, x);
    }
    x = ap(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }), x);
  });
  if (r.includeTop) {
    x = ap(tf.layers.flatten({ name: 'flatten' }), x);
    x = ap(tf.layers.dense({ units: 4096, activation: 'relu', kernelInitializer: 'glorotUniform', name: 'fc1' }), x);
    x = ap(tf.layers.dense({ units: 4096, activation: 'relu', kernelInitializer: 'glorotUniform', name: 'fc2' }), x);
    x = denseClassifier(x, r);
  } else {
    x = addPooling(x, r.pooling);
  }
  return tf.model({ inputs: input, outputs: x, name });
}

function vggSpec(name: string, params: number, convs: readonly number[]): ArchitectureSpec {
  return defineSpec(
    {
      name,
      ...INPUT_224,
      params,
      blocks: BLOCKS,
      blockOf: blockOfPattern(/^(block[1-5])_/),
      blockOutput(block) {
        blockIndex(name, BLOCKS, block); // throws for a name that is not a block
        return `${block}_pool`;
      },
      featureLayer: 'block5_pool',
      defaultPreprocess: 'caffe',
      pretrained: Object.freeze({ imagenet: imagenet('caffe', 224, 'CC-BY-4.0') }),
    },
    (r) => vgg(r, convs, name),
  );
}

/** VGG16: 138,357,544 parameters with the top. */
export const vgg16Spec = vggSpec('vgg16', 138_357_544, [2, 2, 3, 3, 3]);
/** VGG19: 143,667,240 parameters with the top. */
export const vgg19Spec = vggSpec('vgg19', 143_667_240, [2, 2, 4, 4, 4]);

/**
 * Keras `VGG16` with random weights.
 *
 * @example
 * const m = VGG16({ includeTop: false, inputShape: [64, 64, 3], pooling: 'max' }); // [null, 512]
 */
export const VGG16 = (opts: ZooOptions = {}): tf.LayersModel => vgg16Spec.build(opts);

/**
 * Keras `VGG19` with random weights.
 *
 * @example
 * const m = VGG19({ includeTop: false, inputShape: [64, 64, 3] }); // [null, 2, 2, 512]
 */
export const VGG19 = (opts: ZooOptions = {}): tf.LayersModel => vgg19Spec.build(opts);
