/**
 * Shared pieces of the zoo builders: Keras-style option validation (`obtain_input_shape`), the
 * classifier/pooling top, `correct_pad`, and a typed `apply` for the functional API.
 */
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

export type Sym = tf.SymbolicTensor;
export type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** Applies a layer to one symbolic tensor (or a list, for merge layers) and returns one. */
export function ap(layer: tf.layers.Layer, x: Sym | Sym[]): Sym {
  return layer.apply(x) as Sym;
}

/** Options after validation, with Keras' defaults filled in. */
export interface Resolved {
  includeTop: boolean;
  inputShape: [number, number, number];
  pooling: 'avg' | 'max' | null;
  classes: number;
  classifierActivation: string | null;
  weights: string | null;
}

interface ShapeRule {
  name: string;
  defaultInputShape: readonly [number, number, number];
  minInputSize: number;
}

const fmt = (v: unknown) => JSON.stringify(v) ?? String(v);

/**
 * The error a spec's `blockOutput` throws for a name that is not one of its blocks.
 *
 * @example
 * if (!BLOCKS.includes(block)) throw unknownBlock('vgg16', block, BLOCKS);
 */
export function unknownBlock(model: string, block: string, blocks: readonly string[]): GraftError {
  return new GraftError(
    'E_UNKNOWN_BLOCK',
    `${model}: \`block\` must be one of the architecture's named blocks. Received: block=${fmt(block)}`,
    `Should be one of: ${blocks.join(', ')}`,
  );
}

/**
 * The index of `block` in a spec's `blocks`, or the {@link unknownBlock} error for a name that is
 * not one of them: the check every `blockOutput` starts with.
 *
 * @example
 * const i = blockIndex('resnet50', BLOCKS, block); // 0 for 'conv1'
 */
export function blockIndex(model: string, blocks: readonly string[], block: string): number {
  const i = blocks.indexOf(block);
  if (i < 0) throw unknownBlock(model, block, blocks);
  return i;
}

/**
 * A spec's `blockOf` for families whose layer names start with their block's name: the first group
 * of `pattern` is the block; the listed `topLayers` form the block 'top'; any other layer is in none.
 *
 * @example
 * blockOfPattern(/^(block[1-7])[a-z]_/, ['top_conv'])('block3b_add'); // 'block3'
 */
export function blockOfPattern(pattern: RegExp, topLayers: readonly string[] = []): (layer: string) => string | undefined {
  const top = new Set(topLayers);
  return (layer) => pattern.exec(layer)?.[1] ?? (top.has(layer) ? 'top' : undefined);
}

/**
 * Keras' `obtain_input_shape(default_size=224, min_size=32)`: the input-shape rule of ResNet, VGG,
 * MobileNetV2 and EfficientNet-B0 (spread it into a spec).
 */
export const INPUT_224: Pick<ArchitectureSpec, 'defaultInputShape' | 'minInputSize'> = Object.freeze({ defaultInputShape: [224, 224, 3] as const, minInputSize: 32 });

/**
 * A zoo spec whose `build` validates the options against the spec's own shape rule
 * ({@link resolveOptions}) and hands the result to the family builder.
 *
 * @example
 * export const vgg16Spec = defineSpec({ name: 'vgg16', ...INPUT_224, params, blocks, ... }, (r) => vgg(r, [2, 2, 3, 3, 3], 'vgg16'));
 */
export function defineSpec(fields: Omit<ArchitectureSpec, 'build'>, builder: (r: Resolved) => tf.LayersModel): ArchitectureSpec {
  const spec: ArchitectureSpec = { ...fields, build: (opts: ZooOptions = {}) => builder(resolveOptions(spec, opts)) };
  return spec;
}

/**
 * Validates Keras Applications options for one architecture, as Keras' `obtain_input_shape` does:
 * a custom `inputShape` only without the top, 3 channels, each side >= the minimum.
 *
 * @example
 * resolveOptions({ name: 'resnet50', defaultInputShape: [224, 224, 3], minInputSize: 32 }, { includeTop: false, inputShape: [64, 64, 3] });
 */
export function resolveOptions(rule: ShapeRule, opts: ZooOptions = {}): Resolved {
  const includeTop = opts.includeTop ?? true;
  const classes = opts.classes ?? 1000;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new GraftError('E_BAD_OPTIONS', `${rule.name}: \`classes\` must be a positive integer. Received: classes=${fmt(opts.classes)}`);
  }
  const pooling = opts.pooling ?? null;
  if (pooling !== null && pooling !== 'avg' && pooling !== 'max') {
    throw new GraftError('E_BAD_OPTIONS', `${rule.name}: \`pooling\` must be 'avg', 'max' or null. Received: pooling=${fmt(pooling)}`);
  }
  let inputShape: [number, number, number] = [...rule.defaultInputShape];
  if (opts.inputShape !== undefined && opts.inputShape !== null) {
    const s = opts.inputShape;
    const dflt = rule.defaultInputShape;
    if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
      throw new GraftError('E_INPUT_SHAPE', `${rule.name}: \`inputShape\` must be [height, width, 3] with positive integers. Received: input_shape=${fmt(s)}`);
    }
    if (s[2] !== 3) {
      throw new GraftError('E_INPUT_SHAPE', `${rule.name}: the input must have 3 channels (RGB). Received: input_shape=${fmt(s)}`, 'Convert grey or RGBA images to RGB first.');
    }
    if (includeTop && (s[0] !== dflt[0] || s[1] !== dflt[1])) {
      throw new GraftError(
        'E_INPUT_SHAPE',
        `${rule.name}: with \`includeTop: true\`, \`inputShape\` must be ${fmt(dflt)}. Received: input_shape=${fmt(s)}`,
        'Pass includeTop: false to use another input size.',
      );
    }
    if (s[0] < rule.minInputSize || s[1] < rule.minInputSize) {
      throw new GraftError(
        'E_INPUT_SHAPE',
        `${rule.name}: input size must be at least ${rule.minInputSize}x${rule.minInputSize}. Received: input_shape=${fmt(s)}`,
      );
    }
    inputShape = [s[0], s[1], s[2]];
  }
  const classifierActivation = opts.classifierActivation === undefined ? 'softmax' : opts.classifierActivation;
  const weights = opts.weights ?? null;
  return { includeTop, inputShape, pooling, classes, classifierActivation, weights };
}

/**
 * The Keras top: `avg_pool` (GlobalAveragePooling2D) + `predictions` (Dense) with the top, else the
 * optional `avg_pool` / `max_pool`. `dropout` adds EfficientNet's `top_dropout` in between.
 */
export function addTop(x: Sym, r: Resolved, extra: { dropout?: number; denseInit?: Initializer } = {}): Sym {
  if (r.includeTop) {
    x = ap(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    if (extra.dropout) x = ap(tf.layers.dropout({ rate: extra.dropout, name: 'top_dropout' }), x);
    return denseClassifier(x, r, extra.denseInit);
  }
  return addPooling(x, r.pooling);
}

/** Keras' no-top pooling: `avg_pool`, `max_pool` or nothing. */
export function addPooling(x: Sym, pooling: 'avg' | 'max' | null): Sym {
  if (pooling === 'avg') return ap(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  if (pooling === 'max') return ap(tf.layers.globalMaxPooling2d({ name: 'max_pool' }), x);
  return x;
}

/** The `predictions` Dense layer with Keras' classifier activation (null → linear logits). */
export function denseClassifier(x: Sym, r: Resolved, init?: Initializer): Sym {
  const activation = (r.classifierActivation ?? 'linear') as 'softmax';
  return ap(
    tf.layers.dense({
      units: r.classes,
      activation,
      kernelInitializer: init ?? 'glorotUniform',
      biasInitializer: 'zeros',
      name: 'predictions',
    }),
    x,
  );
}

/**
 * Keras `imagenet_utils.correct_pad`: zero padding that makes a stride-2 'valid' convolution
 * line up with TensorFlow's 'same' (extra row/column at the bottom/right for even sizes).
 */
export function correctPad(x: Sym, kernel: number): [[number, number], [number, number]] {
  const [, h, w] = x.shape as (number | null)[];
  const adjust = [h == null ? 1 : 1 - (h % 2), w == null ? 1 : 1 - (w % 2)];
  const c = Math.floor(kernel / 2);
  return [
    [c - adjust[0], c],
    [c - adjust[1], c],
  ];
}

/** Keras' `_make_divisible`: round channel counts to a multiple of `divisor`, never down by >10%. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let n = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}
