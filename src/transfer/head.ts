import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';

/** A new classification head. */
export interface HeadOptions {
  /** Number of classes, >= 2 (a binary task is classes: 2 with softmax). */
  classes: number;
  /** Units of hidden Dense(relu) layers, each followed by Dropout(dropout) when dropout > 0. */
  hidden?: number[];
  /** Dropout rate in [0, 1) before the classifier (and after each hidden layer). Default 0. */
  dropout?: number;
  /** Default 'softmax'. */
  activation?: 'softmax' | 'sigmoid' | 'linear';
  /** How a 4-D feature map becomes a vector. Ignored for a 2-D base output. Default 'avg'. */
  pooling?: 'avg' | 'max' | 'flatten' | 'none';
}

/** Stable head layer names: weights, configs and freezing rules can refer to them. */
export const HEAD_LAYER_NAMES = {
  pool: 'graft_head_pool',
  hidden: (i: number) => `graft_head_dense_${i}`,
  hiddenDropout: (i: number) => `graft_head_dropout_${i}`,
  dropout: 'graft_head_dropout',
  predictions: 'graft_head_predictions',
} as const;

const POOLINGS = ['avg', 'max', 'flatten', 'none'] as const;
const ACTIVATIONS = ['softmax', 'sigmoid', 'linear'] as const;

function validate(opts: HeadOptions): Required<HeadOptions> {
  const { classes, hidden = [], dropout = 0, activation = 'softmax', pooling = 'avg' } = opts;
  if (!Number.isInteger(classes) || classes < 2) {
    throw new GraftError('E_HEAD_CLASSES', `A head needs an integer number of classes >= 2. Received: classes=${classes}.`, 'For a binary task use classes: 2 (softmax).');
  }
  const badHidden = hidden.find((u) => !Number.isInteger(u) || u < 1);
  if (badHidden !== undefined) {
    throw new GraftError('E_HEAD_HIDDEN', `Hidden layer sizes must be positive integers. Received: hidden=[${hidden.join(', ')}].`, 'E.g. hidden: [256].');
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw new GraftError('E_HEAD_DROPOUT', `Dropout must be in [0, 1). Received: dropout=${dropout}.`, 'E.g. dropout: 0.2, or 0 for none.');
  }
  if (!(ACTIVATIONS as readonly string[]).includes(activation)) {
    throw new GraftError('E_HEAD_ACTIVATION', `Unknown head activation. Received: activation=${activation}.`, `Should be one of: ${ACTIVATIONS.join(', ')}.`);
  }
  if (!(POOLINGS as readonly string[]).includes(pooling)) {
    throw new GraftError('E_HEAD_POOLING', `Unknown head pooling. Received: pooling=${pooling}.`, `Should be one of: ${POOLINGS.join(', ')}.`);
  }
  return { classes, hidden, dropout, activation, pooling };
}

function pool(x: tf.SymbolicTensor, pooling: Required<HeadOptions>['pooling']): tf.SymbolicTensor {
  const name = HEAD_LAYER_NAMES.pool;
  if (x.shape.length === 2) return x;
  if (pooling === 'flatten') return tf.layers.flatten({ name }).apply(x) as tf.SymbolicTensor;
  if (x.shape.length !== 4) {
    throw new GraftError('E_HEAD_INPUT', `A head takes a 2-D [batch, features] or 4-D [batch, h, w, c] base output. Received shape [${x.shape.join(', ')}].`, "Use pooling: 'flatten' for other ranks.");
  }
  if (pooling === 'avg') return tf.layers.globalAveragePooling2d({ name }).apply(x) as tf.SymbolicTensor;
  if (pooling === 'max') return tf.layers.globalMaxPooling2d({ name }).apply(x) as tf.SymbolicTensor;
  throw new GraftError('E_HEAD_POOLING', `pooling: 'none' needs a 2-D base output; this base outputs [${x.shape.join(', ')}].`, "Use pooling: 'avg', 'max' or 'flatten'.");
}

/**
 * Puts a new classification head on `base` (usually a model cut with `cutModel`):
 * pool (4-D outputs) → [Dense(h, relu) → Dropout]* → Dropout → Dense(classes, activation).
 * The result shares `base`'s layers. Layer names are stable (`HEAD_LAYER_NAMES`).
 *
 * @example
 * const model = addHead(cutModel(mobilenet, 'out_relu'), { classes: 5, dropout: 0.2 });
 * model.getLayer('graft_head_predictions'); // Dense(5, softmax)
 */
export function addHead(base: tf.LayersModel, opts: HeadOptions): tf.LayersModel {
  const o = validate(opts);
  if (base.outputs.length !== 1) {
    throw new GraftError('E_HEAD_INPUT', `A head goes on a model with one output; "${base.name}" has ${base.outputs.length}.`, 'Cut the base at a single layer first (cutModel).');
  }
  const clash = base.layers.find((l) => l.name.startsWith('graft_head_'));
  if (clash) {
    throw new GraftError('E_HEAD_EXISTS', `Model "${base.name}" already has a Graft head (layer "${clash.name}").`, 'Cut the model below the head first, e.g. cutModel(model, <feature layer>).');
  }
  let x = pool(base.outputs[0], o.pooling);
  o.hidden.forEach((units, i) => {
    x = tf.layers.dense({ units, activation: 'relu', name: HEAD_LAYER_NAMES.hidden(i + 1) }).apply(x) as tf.SymbolicTensor;
    if (o.dropout > 0) x = tf.layers.dropout({ rate: o.dropout, name: HEAD_LAYER_NAMES.hiddenDropout(i + 1) }).apply(x) as tf.SymbolicTensor;
  });
  if (o.dropout > 0) x = tf.layers.dropout({ rate: o.dropout, name: HEAD_LAYER_NAMES.dropout }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: o.classes, activation: o.activation, name: HEAD_LAYER_NAMES.predictions }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: base.inputs, outputs: y, name: `${base.name}_graft` });
}
