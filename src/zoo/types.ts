import type * as tf from '@tensorflow/tfjs';

/**
 * How raw RGB pixels in [0, 255] become network input (Keras `imagenet_utils.preprocess_input`):
 * - `caffe`: RGB→BGR, subtract the ImageNet BGR mean [103.939, 116.779, 123.68], no scaling
 * - `tf`:    x / 127.5 - 1 → [-1, 1]
 * - `torch`: x / 255, then (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
 * - `raw01`: x / 255 → [0, 1]
 * - `none`:  unchanged (the model rescales inside, e.g. EfficientNet's Rescaling/Normalization)
 */
export type PreprocessMode = 'caffe' | 'tf' | 'torch' | 'raw01' | 'none';

/** A typed, frozen description of one set of weights; it travels with them into graft.json. */
export interface PretrainedConfig {
  /** Weight source id: 'imagenet', 'nsfwjs', ... */
  readonly source: string;
  /** [height, width] the weights were trained at. */
  readonly inputSize: readonly [number, number];
  readonly preprocess: PreprocessMode;
  readonly interpolation: 'bilinear' | 'bicubic' | 'nearest';
  /** Name of the classifier layer that is dropped when the class count differs. */
  readonly classifier: string;
  readonly numClasses: number;
  /** Class names of the source task where known (ImageNet's 1000; nsfwjs' 5). */
  readonly classNames?: readonly string[];
  /** Where the weights come from and under which licence. */
  readonly origin: string;
  readonly license: string;
}

/** Keras Applications options. */
export interface ZooOptions {
  includeTop?: boolean;
  /** 'imagenet' | 'nsfwjs' | 'none' | null | local .h5 / model.json path | https:// URL */
  weights?: string | null;
  /** [h, w, 3]; only without top; each side >= the architecture's minimum (32 unless stated). */
  inputShape?: [number, number, number];
  pooling?: 'avg' | 'max' | null;
  classes?: number;
  classifierActivation?: string | null;
  /** Keras `by_name=True, skip_mismatch=True` when loading weights. */
  skipMismatch?: boolean;
}

/** One architecture: data plus one builder. Registering it enrols it in the CLI, docs and tests. */
export interface ArchitectureSpec {
  readonly name: string;
  readonly defaultInputShape: readonly [number, number, number];
  readonly minInputSize: number;
  /** Parameter count with top and 1000 classes; equals Keras' exactly. */
  readonly params: number;
  /** Named blocks in network order (e.g. ['conv1','conv2',...,'conv5'] for ResNet). */
  readonly blocks: readonly string[];
  /** The block a layer belongs to, or undefined for layers outside every block (stem/head). */
  blockOf(layerName: string): string | undefined;
  /** Name of the last layer of a block (a clean single-tensor cut point). */
  blockOutput(block: string): string;
  /** Name of the layer whose output is the feature map just before the top (pooling/classifier). */
  readonly featureLayer: string;
  readonly defaultPreprocess: PreprocessMode;
  /** Pretrained configs by weight source. */
  readonly pretrained: Readonly<Record<string, PretrainedConfig>>;
  /** Build the network with random weights (Keras initialisers). */
  build(opts: ZooOptions): tf.LayersModel;
}
