/**
 * Typed, frozen descriptions of the pretrained weights each architecture can load. They travel
 * with the weights into graft.json, and preprocessing reads them instead of re-typing numbers.
 */
import { IMAGENET_CLASSES } from './imagenet-classes.js';
import type { PreprocessMode, PretrainedConfig } from './types.js';

const KERAS_ORIGIN = 'Keras Applications (https://github.com/keras-team/keras, keras/applications)';

/**
 * Keras' ImageNet weights. Licences as Keras' applications documentation states them: VGG from
 * Oxford VGG (CC BY 4.0), ResNet v1 from Kaiming He (MIT), InceptionV3 / MobileNetV2 /
 * EfficientNet from TensorFlow models / TPU (Apache-2.0).
 *
 * @example
 * imagenet('caffe', 224, 'MIT');
 */
export function imagenet(preprocess: PreprocessMode, size: number, license: string): PretrainedConfig {
  return Object.freeze({
    source: 'imagenet',
    inputSize: [size, size] as const,
    preprocess,
    interpolation: 'bilinear' as const,
    classifier: 'predictions',
    numClasses: 1000,
    classNames: IMAGENET_CLASSES,
    origin: KERAS_ORIGIN,
    license,
  });
}

/** nsfwjs' five classes, in its output order (node_modules/nsfwjs/dist/esm/nsfw_classes.js). */
export const NSFW_CLASSES = Object.freeze(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const);

/**
 * nsfwjs (MIT, https://github.com/infinitered/nsfwjs): Keras 2.2.4 models, ImageNet-initialised and
 * fine-tuned to 5 classes. nsfwjs feeds `pixels / 255` (its `infer()` divides by 255) after a
 * bilinear resize with aligned corners, hence 'raw01'. Its head is not Keras' `predictions`:
 * average_pooling2d → flatten_1 → dense_1(256) → dense_2(128) → `dense_3`(5, softmax); the
 * backbone layers carry Keras names and load by name.
 */
export function nsfwjs(size: number): PretrainedConfig {
  return Object.freeze({
    source: 'nsfwjs',
    inputSize: [size, size] as const,
    preprocess: 'raw01' as const,
    interpolation: 'bilinear' as const,
    classifier: 'dense_3',
    numClasses: 5,
    classNames: NSFW_CLASSES,
    origin: 'nsfwjs 4.x npm package (https://github.com/infinitered/nsfwjs)',
    license: 'MIT',
  });
}
