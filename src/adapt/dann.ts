import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import type { FeatureSet } from '../features/feature-set.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { HEAD_LAYER_NAMES } from '../transfer/head.js';
import { pooled } from './coral.js';

/**
 * DANN (Ganin & Lempitsky 2015): a domain classifier tries to tell source from target features;
 * a gradient-reversal layer between it and the feature extractor makes the extractor learn
 * features the domain classifier cannot separate, while the label head keeps them useful for
 * the source labels.
 *
 * The backbone stays frozen (its features are cached), so the trainable feature extractor is a
 * new bottleneck Dense(relu) on the pooled features, as in the paper's own "bottleneck" setups;
 * the head on top of it is trained jointly. Both export as ordinary Dense layers. Unfreezing the
 * backbone's top block inside the adversarial loop is not implemented.
 */
export interface DannOptions {
  /** Units of the trainable bottleneck. Default 256. */
  bottleneck?: number;
  /** Hidden units of the domain classifier MLP. Default 64. */
  domainHidden?: number;
  /** Weight of the reversed domain gradient (scaled by the paper's ramp 2/(1+e^{-10p}) − 1). Default 1. */
  domainWeight?: number;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
}

export interface DannResult {
  steps: number;
  /** Last epoch's mean label loss and the domain classifier's accuracy on its batches. */
  labelLoss: number;
  domainAccuracy: number;
  /** The new layers (the model's head is replaced by bottleneck → predictions). */
  layers: string[];
}

/**
 * Gradient reversal: identity forward, gradient multiplied by −lambda backward.
 *
 * @example
 * const grl = gradientReversal(() => 0.5);
 * tf.grad((x) => grl(x).sum())(tf.ones([2])); // [-0.5, -0.5]
 */
export function gradientReversal(lambda: () => number): (x: tf.Tensor) => tf.Tensor {
  const f = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda()) })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (x: tf.Tensor) => f(x);
}

/** x·W + b of a built Dense layer, skipping its activation. */
function denseLogits(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const [k, b] = layer.trainableWeights.map((w) => (w as unknown as { read(): tf.Tensor }).read());
  return b ? tf.add(tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D), b) : tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D);
}

const varsOf = (layers: tf.layers.Layer[]): tf.Variable[] => layers.flatMap((l) => l.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read()));

/**
 * Train a DANN head on pooled features: returns the new output tensor built on `features` (the
 * model's feature tensor) — wrap it with tf.model({ inputs, outputs }).
 *
 * @example
 * const { output } = await dann(poolTensor, sourceFeatures, targetFeatures, classes.length, { epochs: 20 });
 * const adapted = tf.model({ inputs: model.inputs, outputs: output });
 */
export async function dann(features: tf.SymbolicTensor, source: FeatureSet, target: FeatureSet, numClasses: number, o: DannOptions = {}): Promise<{ output: tf.SymbolicTensor; result: DannResult }> {
  const s = pooled(source);
  const t = pooled(target);
  if (features.shape.length !== 2) throw new GraftError('E_DANN_FEATURES', `DANN works on pooled feature vectors; the feature layer outputs [${features.shape.join(', ')}].`, 'Train the model with a pooling head (the default).');
  if (s.n === 0 || t.n === 0) throw new GraftError('E_DANN_DATA', `DANN needs source and target images. Received: ${s.n} source, ${t.n} target.`);
  const d = s.d;
  const seed = o.seed ?? 42;
  const units = o.bottleneck ?? 256;
  const init = (k: string) => tf.initializers.glorotUniform({ seed: deriveSeed(seed, 'dann', k) % 2 ** 31 });
  const bottleneck = tf.layers.dense({ units, activation: 'relu', name: 'graft_adapt_dann_bottleneck', kernelInitializer: init('g') });
  const head = tf.layers.dense({ units: numClasses, activation: 'softmax', name: HEAD_LAYER_NAMES.predictions, kernelInitializer: init('y') });
  const dHidden = tf.layers.dense({ units: o.domainHidden ?? 64, activation: 'relu', name: 'graft_adapt_dann_domain_hidden', kernelInitializer: init('d1') });
  const dOut = tf.layers.dense({ units: 1, name: 'graft_adapt_dann_domain', kernelInitializer: init('d2') });
  const output = head.apply(bottleneck.apply(features)) as tf.SymbolicTensor;
  dOut.apply(dHidden.apply(tf.input({ shape: [units] })));

  const epochs = o.epochs ?? 20;
  const bs = o.batchSize ?? 32;
  const stepsPerEpoch = Math.ceil(s.n / bs);
  const total = epochs * stepsPerEpoch;
  const weight = o.domainWeight ?? 1;
  let lambda = 0;
  const grl = gradientReversal(() => lambda);
  const optimizer = tf.train.adam(o.lr ?? 1e-3);
  const vars = varsOf([bottleneck, head, dHidden, dOut]);
  const rng = new Rng(deriveSeed(seed, 'dann-batches'));
  const ys = tf.tensor1d(source.labels, 'int32');
  let step = 0;
  let labelLoss = 0;
  let domainCorrect = 0;
  let domainCount = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffle(Array.from({ length: s.n }, (_, i) => i));
      labelLoss = 0;
      domainCorrect = 0;
      domainCount = 0;
      for (let b = 0; b < s.n; b += bs) {
        const si = order.slice(b, b + bs);
        const ti = si.map(() => rng.int(t.n));
        const p = step / Math.max(1, total - 1);
        lambda = weight * (2 / (1 + Math.exp(-10 * p)) - 1);
        const xs = new Float32Array(si.length * d);
        const xt = new Float32Array(ti.length * d);
        si.forEach((r, i) => xs.set(s.data.subarray(r * d, (r + 1) * d), i * d));
        ti.forEach((r, i) => xt.set(t.data.subarray(r * d, (r + 1) * d), i * d));
        const m = si.length;
        const stats = tf.tidy(() => {
          const x = tf.concat([tf.tensor2d(xs, [m, d]), tf.tensor2d(xt, [m, d])]);
          const y = tf.oneHot(tf.gather(ys, tf.tensor1d(si, 'int32')), numClasses);
          const dom = tf.concat([tf.zeros([m, 1]), tf.ones([m, 1])]);
          let dl: tf.Tensor = tf.scalar(0);
          let correct: tf.Tensor = tf.scalar(0);
          const loss = optimizer.minimize(() => {
            const z = bottleneck.apply(x) as tf.Tensor;
            const zs = tf.slice(z, [0, 0], [m, units]);
            // The head's Dense ends in softmax; the loss wants its logits (pre-activation).
            const logits = denseLogits(head, zs);
            const ce = tf.losses.softmaxCrossEntropy(y, logits);
            const dlogit = dOut.apply(dHidden.apply(grl(z))) as tf.Tensor;
            dl = tf.losses.sigmoidCrossEntropy(dom, dlogit);
            // Kept: the optimizer's tape disposes everything of the pass but the loss.
            correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.greater(dlogit, 0), tf.cast(dom, 'bool')), 'float32')));
            tf.keep(dl);
            return tf.add(ce, dl) as tf.Scalar;
          }, true, vars);
          const out = [tf.sub(loss!, dl), correct];
          tf.dispose([dl]);
          return out;
        });
        const [ll, dc] = await Promise.all(stats.map((v) => v.data()));
        tf.dispose(stats);
        labelLoss += ll![0]! * m;
        domainCorrect += dc![0]!;
        domainCount += 2 * m;
        step++;
      }
      labelLoss /= s.n;
    }
  } finally {
    ys.dispose();
    optimizer.dispose();
    dHidden.dispose();
    dOut.dispose();
  }
  return { output, result: { steps: step, labelLoss, domainAccuracy: domainCount ? domainCorrect / domainCount : 0, layers: [bottleneck.name, head.name] } };
}
