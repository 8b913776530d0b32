/**
 * InceptionV3 (Szegedy et al. 2015) as keras/applications/inception_v3.py builds it.
 *
 * Keras leaves most layers unnamed, so they get per-class counters in creation order. We name them
 * explicitly with Keras 2.2.4's 1-based counters (conv2d_1, batch_normalization_1, activation_1,
 * max_pooling2d_1, average_pooling2d_1, concatenate_1), the names in nsfwjs' InceptionV3 and in
 * Keras 2.x .h5 files, so those weights load by name. Creation order below is Keras' order: it
 * fixes every counter, so do not reorder branches.
 */
import * as tf from '@tensorflow/tfjs';
import { addTop, ap, blockIndex, defineSpec, type Resolved, type Sym } from './common.js';
import { imagenet, nsfwjs } from './pretrained.js';
import type { ArchitectureSpec, ZooOptions } from './types.js';

/** Per-build counters that reproduce Keras' automatic layer names. */
class Namer {
  private counts = new Map<string, number>();
  next(prefix: string): string {
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}_${n}`;
  }
}

/** Keras `conv2d_bn`: Conv2D (no bias) → BatchNormalization (scale=False) → ReLU. */
function conv2dBn(nm: Namer, x: Sym, filters: number, rows: number, cols: number, padding: 'same' | 'valid' = 'same', strides = 1): Sym {
  x = ap(
    tf.layers.conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, kernelInitializer: 'glorotUniform', name: nm.next('conv2d') }),
    x,
  );
  x = ap(tf.layers.batchNormalization({ axis: 3, scale: false, name: nm.next('batch_normalization') }), x);
  return ap(tf.layers.activation({ activation: 'relu', name: nm.next('activation') }), x);
}

const avgPool3 = (nm: Namer) => tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: nm.next('average_pooling2d') });
const maxPool3s2 = (nm: Namer) => tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: nm.next('max_pooling2d') });
const concat = (xs: Sym[], name: string) => ap(tf.layers.concatenate({ axis: 3, name }), xs);

/** mixed0..2 (35×35): 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | avgpool→1x1. */
function blockA(nm: Namer, x: Sym, poolFilters: number, name: string): Sym {
  const b1 = conv2dBn(nm, x, 64, 1, 1);
  let b5 = conv2dBn(nm, x, 48, 1, 1);
  b5 = conv2dBn(nm, b5, 64, 5, 5);
  let b3 = conv2dBn(nm, x, 64, 1, 1);
  b3 = conv2dBn(nm, b3, 96, 3, 3);
  b3 = conv2dBn(nm, b3, 96, 3, 3);
  let bp = ap(avgPool3(nm), x);
  bp = conv2dBn(nm, bp, poolFilters, 1, 1);
  return concat([b1, b5, b3, bp], name);
}

/** mixed3: grid reduction 35 → 17. */
function reductionA(nm: Namer, x: Sym): Sym {
  const b3 = conv2dBn(nm, x, 384, 3, 3, 'valid', 2);
  let bd = conv2dBn(nm, x, 64, 1, 1);
  bd = conv2dBn(nm, bd, 96, 3, 3);
  bd = conv2dBn(nm, bd, 96, 3, 3, 'valid', 2);
  const bp = ap(maxPool3s2(nm), x);
  return concat([b3, bd, bp], 'mixed3');
}

/** mixed4..7 (17×17): factorised 7x7 convolutions with `c` inner channels. */
function blockB(nm: Namer, x: Sym, c: number, name: string): Sym {
  const b1 = conv2dBn(nm, x, 192, 1, 1);
  let b7 = conv2dBn(nm, x, c, 1, 1);
  b7 = conv2dBn(nm, b7, c, 1, 7);
  b7 = conv2dBn(nm, b7, 192, 7, 1);
  let bd = conv2dBn(nm, x, c, 1, 1);
  bd = conv2dBn(nm, bd, c, 7, 1);
  bd = conv2dBn(nm, bd, c, 1, 7);
  bd = conv2dBn(nm, bd, c, 7, 1);
  bd = conv2dBn(nm, bd, 192, 1, 7);
  let bp = ap(avgPool3(nm), x);
  bp = conv2dBn(nm, bp, 192, 1, 1);
  return concat([b1, b7, bd, bp], name);
}

/** mixed8: grid reduction 17 → 8. */
function reductionB(nm: Namer, x: Sym): Sym {
  let b3 = conv2dBn(nm, x, 192, 1, 1);
  b3 = conv2dBn(nm, b3, 320, 3, 3, 'valid', 2);
  let b7 = conv2dBn(nm, x, 192, 1, 1);
  b7 = conv2dBn(nm, b7, 192, 1, 7);
  b7 = conv2dBn(nm, b7, 192, 7, 1);
  b7 = conv2dBn(nm, b7, 192, 3, 3, 'valid', 2);
  const bp = ap(maxPool3s2(nm), x);
  return concat([b3, b7, bp], 'mixed8');
}

/** mixed9, mixed10 (8×8): expanded filter banks; `i` is 0 or 1. */
function blockC(nm: Namer, x: Sym, i: number): Sym {
  const b1 = conv2dBn(nm, x, 320, 1, 1);
  const b3 = conv2dBn(nm, x, 384, 1, 1);
  const b3a = conv2dBn(nm, b3, 384, 1, 3);
  const b3b = conv2dBn(nm, b3, 384, 3, 1);
  const b3cat = concat([b3a, b3b], `mixed9_${i}`);
  let bd = conv2dBn(nm, x, 448, 1, 1);
  bd = conv2dBn(nm, bd, 384, 3, 3);
  const bda = conv2dBn(nm, bd, 384, 1, 3);
  const bdb = conv2dBn(nm, bd, 384, 3, 1);
  const bdcat = concat([bda, bdb], nm.next('concatenate'));
  let bp = ap(avgPool3(nm), x);
  bp = conv2dBn(nm, bp, 192, 1, 1);
  return concat([b1, b3cat, bdcat, bp], `mixed${9 + i}`);
}

/** The family builder (Keras `InceptionV3`). */
function inceptionV3(r: Resolved): tf.LayersModel {
  const nm = new Namer();
  const input = tf.input({ shape: r.inputShape, name: 'input_1' });
  let x = conv2dBn(nm, input, 32, 3, 3, 'valid', 2);
  x = conv2dBn(nm, x, 32, 3, 3, 'valid');
  x = conv2dBn(nm, x, 64, 3, 3);
  x = ap(maxPool3s2(nm), x);
  x = conv2dBn(nm, x, 80, 1, 1, 'valid');
  x = conv2dBn(nm, x, 192, 3, 3, 'valid');
  x = ap(maxPool3s2(nm), x);
  x = blockA(nm, x, 32, 'mixed0');
  x = blockA(nm, x, 64, 'mixed1');
  x = blockA(nm, x, 64, 'mixed2');
  x = reductionA(nm, x);
  x = blockB(nm, x, 128, 'mixed4');
  x = blockB(nm, x, 160, 'mixed5');
  x = blockB(nm, x, 160, 'mixed6');
  x = blockB(nm, x, 192, 'mixed7');
  x = reductionB(nm, x);
  x = blockC(nm, x, 0);
  x = blockC(nm, x, 1);
  return tf.model({ inputs: input, outputs: addTop(x, r), name: 'inception_v3' });
}

/**
 * The auto-named layers each kind of block adds, as the builders above create them:
 * [conv2d (each with its batch_normalization / activation), average_pooling2d, max_pooling2d, concatenate].
 */
const LAYERS_ADDED = {
  stem: [5, 0, 2, 0],
  blockA: [7, 1, 0, 0],
  reductionA: [4, 0, 1, 0],
  blockB: [10, 1, 0, 0],
  reductionB: [6, 0, 1, 0],
  blockC: [9, 1, 0, 1],
} as const;

/** The blocks in network order, as inceptionV3() chains them: the stem, then mixed0 … mixed10. */
const BLOCK_KINDS = ['stem', 'blockA', 'blockA', 'blockA', 'reductionA', 'blockB', 'blockB', 'blockB', 'blockB', 'reductionB', 'blockC', 'blockC'] as const;

/**
 * Layer-name counters at the end of each block, in network order: how many conv2d_N (each with its
 * batch_normalization_N / activation_N), average_pooling2d_N, max_pooling2d_N and concatenate_N
 * exist once the block is built (the running sum of LAYERS_ADDED). blockOf() reads layer
 * membership from these ranges: ['stem', 5, 0, 2, 0], ['mixed0', 12, 1, 2, 0], … ['mixed10', 94, 9, 4, 2].
 */
const BLOCK_COUNTERS: readonly (readonly [block: string, conv: number, avg: number, max: number, cat: number])[] = (() => {
  let [conv, avg, max, cat] = [0, 0, 0, 0];
  return BLOCK_KINDS.map((kind, i) => {
    const [dConv, dAvg, dMax, dCat] = LAYERS_ADDED[kind];
    conv += dConv;
    avg += dAvg;
    max += dMax;
    cat += dCat;
    return [i === 0 ? 'stem' : `mixed${i - 1}`, conv, avg, max, cat] as const;
  });
})();
const BLOCK_NAMES = BLOCK_COUNTERS.map((b) => b[0]);
const COUNTER_COLUMN: Record<string, number> = {
  conv2d: 1,
  batch_normalization: 1,
  activation: 1,
  average_pooling2d: 2,
  max_pooling2d: 3,
  concatenate: 4,
};

function inceptionBlockOf(layer: string): string | undefined {
  // mixed9_0 / mixed9_1 are inner concatenations of mixed9 / mixed10 (Keras' loop index).
  const inner = /^mixed9_(\d)$/.exec(layer);
  if (inner) return `mixed${9 + Number(inner[1])}`;
  if (/^mixed\d+$/.test(layer)) return layer;
  const m = /^([a-z_0-9]+?)_(\d+)$/.exec(layer);
  const col = m ? COUNTER_COLUMN[m[1]] : undefined;
  if (!m || col === undefined) return undefined;
  const n = Number(m[2]);
  const row = BLOCK_COUNTERS.find((b) => n <= (b[col] as number));
  return row?.[0];
}

/** InceptionV3: 23,851,784 parameters with the top. */
export const inceptionV3Spec: ArchitectureSpec = defineSpec(
  {
    name: 'inception_v3',
    defaultInputShape: [299, 299, 3],
    minInputSize: 75,
    params: 23_851_784,
    blocks: BLOCK_NAMES,
    blockOf: inceptionBlockOf,
    blockOutput(block: string): string {
      blockIndex('inception_v3', BLOCK_NAMES, block); // throws for a name that is not a block
      return block === 'stem' ? 'max_pooling2d_2' : block;
    },
    featureLayer: 'mixed10',
    defaultPreprocess: 'tf',
    pretrained: Object.freeze({ imagenet: imagenet('tf', 299, 'Apache-2.0'), nsfwjs: nsfwjs(299) }),
  },
  inceptionV3,
);

/**
 * Keras `InceptionV3` with random weights (input >= 75×75 without the top).
 *
 * @example
 * const m = InceptionV3({ includeTop: false, inputShape: [75, 75, 3], pooling: 'avg' }); // [null, 2048]
 */
export function InceptionV3(opts: ZooOptions = {}): tf.LayersModel {
  return inceptionV3Spec.build(opts);
}
