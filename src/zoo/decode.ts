/** Top-k decoding of classifier outputs (Keras `decode_predictions`). */
import { GraftError } from '../errors.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';

export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/**
 * Splits `probs` (n·numClasses values) per image and returns each image's `top` classes, most
 * probable first. Labels are ImageNet's for 1000 classes, else `classNames` or `class_<i>`.
 *
 * @example
 * decodePredictions(probs)[0][0]; // { index: 281, label: 'tabby, tabby cat', probability: 0.73 }
 */
export function decodePredictions(
  probs: Float32Array | number[],
  numClasses = 1000,
  top = 5,
  classNames: readonly string[] | undefined = numClasses === 1000 ? IMAGENET_CLASSES : undefined,
): Prediction[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1 || probs.length % numClasses !== 0) {
    throw new GraftError(
      'E_DECODE',
      `decodePredictions expects n × numClasses values. Received: ${probs.length} values, numClasses=${numClasses}`,
      'Pass the model output (shape [n, classes]) and its class count.',
    );
  }
  if (classNames && classNames.length !== numClasses) {
    throw new GraftError('E_DECODE', `classNames must have numClasses (${numClasses}) names. Received: ${classNames.length}`);
  }
  const k = Math.max(0, Math.min(top, numClasses));
  const out: Prediction[][] = [];
  for (let off = 0; off < probs.length; off += numClasses) {
    const idx = Array.from({ length: numClasses }, (_, i) => i);
    // Array sort is stable: ties keep the lower class index first, so results are deterministic.
    idx.sort((a, b) => probs[off + b] - probs[off + a]);
    out.push(idx.slice(0, k).map((i) => ({ index: i, label: classNames?.[i] ?? `class_${i}`, probability: probs[off + i] })));
  }
  return out;
}
