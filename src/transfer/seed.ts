import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../data/rng.js';

/**
 * Re-initialise the kernels of `layers` (default: every layer) with Keras' default
 * `glorot_uniform` drawn from Graft's seeded generator, and biases with zeros, so the same seed
 * gives the same starting weights (TF.js' own initialisers draw from an unseeded global stream).
 * Layers are seeded by name, so adding a layer does not change the others' weights.
 *
 * @example
 * seedWeights(model, 42, (l) => l.name.startsWith('graft_head_'));
 */
export function seedWeights(model: tf.LayersModel, seed: number, which: (l: tf.layers.Layer) => boolean = () => true): number {
  let n = 0;
  for (const layer of model.layers) {
    if (!which(layer) || layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const name = w.originalName ?? w.name;
      const shape = w.shape as number[];
      if (!/kernel/.test(name)) return w.read().clone();
      const rng = new Rng(deriveSeed(seed, 'init', name));
      // Keras' fans: receptive field × input channels, receptive field × output channels.
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = shape.length >= 2 ? receptive * shape[shape.length - 2]! : shape[0]!;
      const fanOut = shape.length >= 2 ? receptive * shape[shape.length - 1]! : shape[0]!;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = rng.uniform(-limit, limit);
      return tf.tensor(data, shape);
    });
    const zeroBias = values.map((v, i) => (/bias/.test(layer.weights[i]!.originalName ?? layer.weights[i]!.name) ? tf.zerosLike(v) : v));
    layer.setWeights(zeroBias);
    tf.dispose([...values, ...zeroBias]);
    n++;
  }
  return n;
}
