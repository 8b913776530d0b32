import * as tf from '@tensorflow/tfjs';

/** Row mean and covariance (n-1 denominator) of n × d row-major data, as float64. */
export function meanCov(data: Float32Array, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  // Covariance through TF.js' matMul: d×n by n×d is the only cubic-ish step.
  const centred = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) centred[i * d + j] = data[i * d + j]! - mean[j]!;
  const cov32 = tf.tidy(() => {
    const x = tf.tensor2d(centred, [n, d]);
    return tf.div(tf.matMul(x, x, true, false), Math.max(1, n - 1)).dataSync() as Float32Array;
  });
  return { mean, cov: Float64Array.from(cov32) };
}

/** C + lambda * (trace(C)/d) * I: shrinkage that keeps a covariance from fewer samples than dims invertible. */
export function regularize(cov: Float64Array, d: number, lambda: number): Float64Array {
  let tr = 0;
  for (let i = 0; i < d; i++) tr += cov[i * d + i]!;
  const out = Float64Array.from(cov);
  const add = lambda * Math.max(tr / d, 1e-12);
  for (let i = 0; i < d; i++) out[i * d + i]! += add;
  return out;
}

/**
 * Square root and inverse square root of a symmetric positive definite matrix by the coupled
 * Newton–Schulz iteration (matrix products only, so it runs on TF.js' wasm matMul; no
 * eigendecomposition exists in TF.js). Converges when A is well conditioned — regularise first.
 *
 * @example
 * const { sqrt, invSqrt } = sqrtm(regularize(cov, d, 1), d);
 */
export function sqrtm(a: Float64Array, d: number, iterations = 30): { sqrt: Float32Array; invSqrt: Float32Array } {
  let norm = 0;
  for (let i = 0; i < a.length; i++) norm += a[i]! * a[i]!;
  norm = Math.sqrt(norm);
  return tf.tidy(() => {
    const I = tf.eye(d);
    let y: tf.Tensor2D = tf.div(tf.tensor2d(Float32Array.from(a), [d, d]), norm);
    let z: tf.Tensor2D = I.clone();
    for (let k = 0; k < iterations; k++) {
      const t = tf.mul(0.5, tf.sub(tf.mul(3, I), tf.matMul(z, y))) as tf.Tensor2D;
      const y2 = tf.matMul(y, t) as tf.Tensor2D;
      const z2 = tf.matMul(t, z) as tf.Tensor2D;
      tf.dispose([y, z, t]);
      y = y2;
      z = z2;
      // Converged when z·y (→ I) stops changing; checked now and then (a sync costs a round trip).
      if (k % 3 === 2 && (tf.norm(tf.sub(tf.matMul(z, y), I)).dataSync()[0]! as number) < 1e-3 * Math.sqrt(d)) break;
    }
    const s = Math.sqrt(norm);
    return {
      sqrt: tf.mul(y, s).dataSync() as Float32Array,
      invSqrt: tf.div(z, s).dataSync() as Float32Array,
    };
  });
}
