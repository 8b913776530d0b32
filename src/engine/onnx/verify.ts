import * as tf from '@tensorflow/tfjs';
import type * as ortTypes from 'onnxruntime-node';
import { GraftError } from '../../errors.js';
import type { PreprocessMode } from '../../zoo/types.js';

/**
 * Keras' `preprocess_input` in TF.js ops, for raw RGB [0, 255] NHWC batches. The exporter's
 * preprocessing prefix must equal this.
 *
 * @example
 * const x = tfPreprocess(tf.randomUniform([1, 32, 32, 3], 0, 255), 'caffe');
 */
export function tfPreprocess(x: tf.Tensor4D, mode: PreprocessMode): tf.Tensor4D {
  return tf.tidy(() => {
    switch (mode) {
      case 'caffe':
        return tf.sub(tf.reverse(x, -1), tf.tensor1d([103.939, 116.779, 123.68])) as tf.Tensor4D;
      case 'tf':
        return tf.sub(tf.div(x, 127.5), 1) as tf.Tensor4D;
      case 'torch':
        return tf.div(tf.sub(tf.div(x, 255), tf.tensor1d([0.485, 0.456, 0.406])), tf.tensor1d([0.229, 0.224, 0.225])) as tf.Tensor4D;
      case 'raw01':
        return tf.div(x, 255) as tf.Tensor4D;
      default:
        return tf.clone(x);
    }
  });
}

/** Largest |a - b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Runs one random image through TF.js (`model` cut at `outputs`) and through the ORT session,
 * and throws E_ONNX_MISMATCH when they differ by more than 1e-3 of the output's magnitude.
 */
export async function verifyAgainstTf(model: tf.LayersModel, outputs: tf.SymbolicTensor[], preprocess: PreprocessMode, session: ortTypes.InferenceSession, ort: typeof ortTypes): Promise<number> {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const sub = tf.model({ inputs: model.inputs, outputs });
  const x = tf.randomUniform([1, shape[0], shape[1], shape[2]], 0, 255) as tf.Tensor4D;
  try {
    const ref = tf.tidy(() => {
      const y = sub.predict(tfPreprocess(x, preprocess)) as tf.Tensor | tf.Tensor[];
      return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync() as Float32Array);
    });
    const res = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.dataSync() as Float32Array, [1, ...shape]) });
    let worst = 0;
    session.outputNames.forEach((name, i) => {
      const got = res[name].data as Float32Array;
      const diff = maxAbsDiff(ref[i], got);
      let scale = 1;
      for (const v of ref[i]) scale = Math.max(scale, Math.abs(v));
      if (!(diff <= 1e-3 * scale)) {
        throw new GraftError('E_ONNX_MISMATCH', `The ONNX graph of "${model.name}" differs from TF.js at output "${name}" by ${diff} (output magnitude ${scale}).`, 'Report this as a Graft bug; meanwhile pass verify: false to skip the check.');
      }
      worst = Math.max(worst, diff);
    });
    return worst;
  } finally {
    x.dispose();
  }
}
