import { GraftError } from '../errors.js';
import type { WeightFile } from './cache.js';

/**
 * Keras Applications' published ImageNet weight files, copied from Keras' own source
 * (keras/src/applications/{vgg16,vgg19,resnet,inception_v3,mobilenet_v2,efficientnet}.py):
 * file names, URLs and the hashes Keras passes to `get_file`. Every hash Keras publishes for
 * these is md5 (32 hex). Keras publishes NO hash for MobileNetV2 (`get_file` is called without
 * `file_hash`), so those files are not verified; their sha256 is recorded when loaded.
 */
const TF = 'https://storage.googleapis.com/tensorflow/keras-applications/';
// EfficientNet lives in another bucket: BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/".
const KA = 'https://storage.googleapis.com/keras-applications/';

interface TopNoTop {
  top: WeightFile;
  notop: WeightFile;
}

function pair(base: string, top: string, topHash: string | null, notop: string, notopHash: string | null): TopNoTop {
  return {
    top: { fileName: top, url: base + top, hash: topHash, ...(topHash ? { hashAlgo: 'md5' as const } : {}) },
    notop: { fileName: notop, url: base + notop, hash: notopHash, ...(notopHash ? { hashAlgo: 'md5' as const } : {}) },
  };
}

const resnet = (name: string, top: string, notop: string) =>
  pair(`${TF}resnet/`, `${name}_weights_tf_dim_ordering_tf_kernels.h5`, top, `${name}_weights_tf_dim_ordering_tf_kernels_notop.h5`, notop);

/** Sizes Keras publishes MobileNetV2 weights for; other sizes load the 224 file (Keras' rule). */
export const MOBILENET_V2_ROWS = [96, 128, 160, 192, 224] as const;

function mobilenetV2(rows: number): TopNoTop {
  return pair(
    `${TF}mobilenet_v2/`,
    `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_${rows}.h5`, null,
    `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_${rows}_no_top.h5`, null,
  );
}

/** The table, by Graft architecture name. MobileNetV2 is alpha 1.0 at 224 here; see {@link imagenetWeightFile}. */
export const IMAGENET_WEIGHTS: Readonly<Record<string, TopNoTop>> = Object.freeze({
  vgg16: pair(`${TF}vgg16/`, 'vgg16_weights_tf_dim_ordering_tf_kernels.h5', '64373286793e3c8b2b4e3219cbf3544b', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5', '6d6bbae143d832006294945121d1f1fc'),
  vgg19: pair(`${TF}vgg19/`, 'vgg19_weights_tf_dim_ordering_tf_kernels.h5', 'cbe5617147190e668d6c5d5026f83318', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5', '253f8cb515780f3b799900260a226db6'),
  resnet50: resnet('resnet50', '2cb95161c43110f7111970584f804107', '4d473c1dd8becc155b73f8504c6f6626'),
  resnet101: resnet('resnet101', 'f1aeb4b969a6efcfb50fad2f0c20cfc5', '88cf7a10940856eca736dc7b7e228a21'),
  resnet152: resnet('resnet152', '100835be76be38e30d865e96f2aaae62', 'ee4c566cf9a93f14d82f913c2dc6dd0c'),
  inception_v3: pair(`${TF}inception_v3/`, 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5', '9a0d58056eeedaa3f26cb7ebd46da564', 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5', 'bcbd6486424b2319ff4ef7d526e38f63'),
  mobilenet_v2: mobilenetV2(224),
  efficientnet_b0: pair(KA, 'efficientnetb0.h5', '902e53a9f72be733fc0bcb005b3ebbac', 'efficientnetb0_notop.h5', '50bc09e76180e00e4465e1a485ddc09d'),
});

/** `inception-v3`, `InceptionV3`-ish spellings → the table key. */
export function archKey(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/**
 * The ImageNet weight file Keras would download for an architecture and options.
 * MobileNetV2 follows Keras: a square input of 96/128/160/192/224 picks that size's file, else 224.
 *
 * @example
 * imagenetWeightFile('resnet50', { includeTop: false }).fileName; // 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5'
 */
export function imagenetWeightFile(arch: string, opts: { includeTop?: boolean; inputShape?: readonly number[] } = {}): WeightFile {
  const key = archKey(arch);
  let entry = IMAGENET_WEIGHTS[key];
  if (!entry) {
    throw new GraftError(
      'E_WEIGHTS_SOURCE',
      `No ImageNet weights are published for architecture "${arch}".`,
      `weights: 'imagenet' is available for: ${Object.keys(IMAGENET_WEIGHTS).join(', ')}. Use weights: 'none' or a local .h5 / model.json path.`,
    );
  }
  if (key === 'mobilenet_v2' && opts.inputShape) {
    const [h, w] = opts.inputShape;
    if (h === w && (MOBILENET_V2_ROWS as readonly number[]).includes(h)) entry = mobilenetV2(h);
  }
  return opts.includeTop === false ? entry.notop : entry.top;
}
