import * as tf from '@tensorflow/tfjs';

/** Options of the classification loss. */
export interface CrossEntropyOptions {
  /** ε in [0, 1): targets become (1 − ε)·onehot + ε/K (Keras / PyTorch convention). */
  labelSmoothing?: number;
  /** Per-class weights, length K: sample i counts `classWeights[y_i]` times. */
  classWeights?: tf.Tensor1D;
  /**
   * The sum of per-sample losses is divided by this (default: the number of rows). Gradient
   * accumulation passes the full batch size here so that micro-batch losses add up to the
   * batch mean. Like Keras' `class_weight`, weights do not change the divisor.
   */
  divisor?: number;
}

/**
 * Softmax cross-entropy computed from logits without forming probabilities:
 * loss_i = logsumexp(z_i) − Σ_k t_ik·z_ik, which never takes the log of an underflowed 0.
 * Returns Σ_i w_i·loss_i / divisor.
 *
 * @example
 * const logits = tf.tensor2d([[2, 0], [0, 3]]);
 * const y = tf.tensor1d([0, 1], 'int32');
 * softmaxCrossEntropy(logits, y, { labelSmoothing: 0.1 }).print();
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, opts: CrossEntropyOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [n, k] = logits.shape;
    const eps = opts.labelSmoothing ?? 0;
    let targets: tf.Tensor2D = tf.oneHot(labels, k).toFloat() as tf.Tensor2D;
    if (eps > 0) targets = tf.add(tf.mul(targets, 1 - eps), eps / k);
    const perSample = tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(targets, logits), 1));
    const weighted = opts.classWeights ? tf.mul(perSample, tf.gather(opts.classWeights, labels)) : perSample;
    return tf.div(tf.sum(weighted), opts.divisor ?? n) as tf.Scalar;
  });
}

/**
 * Number of rows whose arg-max equals the label (works on logits or probabilities alike).
 *
 * @example
 * countCorrect(tf.tensor2d([[2, 0], [0, 3]]), tf.tensor1d([0, 0], 'int32')).print(); // 1
 */
export function countCorrect(scores: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.equal(tf.argMax(scores, 1), labels.toInt()).toInt()) as tf.Scalar);
}
