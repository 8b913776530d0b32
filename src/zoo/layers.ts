/**
 * Keras layers TF.js lacks, registered for (de)serialisation under Keras' class names.
 * A model.json that uses them loads in stock TF.js once this module has been imported.
 */
import * as tf from '@tensorflow/tfjs';

export interface NormalizationArgs {
  name?: string;
  /** Feature axis (Keras default -1). Only the last axis is supported. */
  axis?: number;
  /** Initial per-channel mean / variance (Keras `mean=`, `variance=`); default 0 / 1 (identity). */
  mean?: number[];
  variance?: number[];
  trainable?: boolean;
}

/**
 * Keras `layers.Normalization`: `(x - mean) / max(sqrt(variance), 1e-7)` per channel, with the
 * non-trainable weights `mean` [C], `variance` [C] and `count` [] (int), so the parameter count and
 * the weight names (`normalization/mean` ...) match Keras' and its .h5 files load by name.
 *
 * @example
 * const norm = new Normalization({ name: 'normalization' });
 * const y = norm.apply(tf.input({ shape: [32, 32, 3] }));
 */
export class Normalization extends tf.layers.Layer {
  static className = 'Normalization';
  private readonly axis: number;
  private readonly initMean?: number[];
  private readonly initVariance?: number[];
  private mean!: tf.LayerVariable;
  private variance!: tf.LayerVariable;
  private count!: tf.LayerVariable;

  constructor(args: NormalizationArgs = {}) {
    super({ name: args.name, trainable: args.trainable ?? false });
    this.axis = args.axis ?? -1;
    this.initMean = args.mean;
    this.initVariance = args.variance;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const axis = this.axis < 0 ? shape.length + this.axis : this.axis;
    if (axis !== shape.length - 1) throw new Error(`Normalization: only the last axis is supported, got axis=${this.axis}`);
    const c = shape[axis] as number;
    this.mean = this.addWeight('mean', [c], 'float32', tf.initializers.zeros(), undefined, false);
    this.variance = this.addWeight('variance', [c], 'float32', tf.initializers.ones(), undefined, false);
    this.count = this.addWeight('count', [], 'int32', tf.initializers.zeros(), undefined, false);
    tf.tidy(() => {
      if (this.initMean) this.mean.write(tf.tensor1d(this.initMean));
      if (this.initVariance) this.variance.write(tf.tensor1d(this.initVariance));
    });
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const std = tf.maximum(tf.sqrt(this.variance.read()), 1e-7);
      return tf.div(tf.sub(x, this.mean.read()), std);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis };
  }
}
tf.serialization.registerClass(Normalization);

export interface ChannelScaleArgs {
  name?: string;
  /** One factor per channel (last axis). */
  scale: number[];
}

/**
 * Keras `layers.Rescaling` with a per-channel `scale` list (TF.js' Rescaling takes one number).
 * EfficientNet uses it after Normalization for ImageNet weights: Keras' fix for
 * tensorflow/tensorflow#49930 divides by sqrt(stddev) once more to match the original models.
 *
 * @example
 * new ChannelScale({ scale: [1, 2, 3], name: 'rescaling_1' }).apply(tf.input({ shape: [8, 8, 3] }));
 */
export class ChannelScale extends tf.layers.Layer {
  static className = 'ChannelScale';
  private readonly scale: number[];
  constructor(args: ChannelScaleArgs) {
    super({ name: args.name });
    this.scale = args.scale;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, tf.tensor1d(this.scale)));
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale };
  }
}
tf.serialization.registerClass(ChannelScale);
