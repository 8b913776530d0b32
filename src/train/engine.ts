import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';

/**
 * The training-engine interface: everything that trains the part after the cut goes through it,
 * so a faster engine (ONNX training graphs on onnxruntime) can replace TF.js without touching
 * data, callbacks or the CLI.
 */
export type OptimizerType = 'adam' | 'sgd' | 'adamw';

export interface OptimizerConfig {
  type: OptimizerType;
  /** Base learning rate; schedules override it per step through `trainStep(batch, lr)`. */
  lr: number;
  momentum?: number; // sgd
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay (adamw) or L2 added to the gradient (sgd/adam). */
  weightDecay?: number;
}

/** A parameter group: layers trained at `lrMultiplier` × the step's learning rate. */
export interface ParamGroup {
  name: string;
  /** Layer names in this group. Layers in no group use multiplier 1. */
  layers: string[];
  lrMultiplier: number;
}

export interface EngineOptions {
  optimizer: OptimizerConfig;
  groups?: ParamGroup[];
  labelSmoothing?: number;
  /** Per-class loss weights (length = classes). */
  classWeights?: number[];
  /** Split each batch into micro-batches of at most this size and accumulate gradients. */
  microBatch?: number;
  /** Train BatchNormalization statistics of trainable BN layers (default true; frozen BN never). */
  trainBatchNormStats?: boolean;
  seed?: number;
}

/** One batch: x is NHWC (or [n, features]) float32, y integer class ids. */
export interface StepBatch {
  x: Float32Array;
  xShape: number[];
  y: Int32Array;
}

export interface StepResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Correct top-1 predictions in the batch. */
  correct: number;
  count: number;
}

/**
 * Everything an engine holds that training changes, so a run resumed from it continues bit for
 * bit: the model's weights (as `getWeights`), the optimiser's slots and step counts, and the
 * dropout generator's state.
 */
export interface EngineState {
  weights: Float32Array[];
  /** Optimiser slots (moments, momentum buffers) in the engine's own fixed order. */
  optimizer: Float32Array[];
  /** Optimiser step counts (Adam's bias correction). */
  steps: number[];
  /** The dropout generator's state. */
  rng: number;
}

export interface TrainingEngine {
  readonly name: string;
  /** One optimisation step at base learning rate `lr` (group multipliers applied inside). */
  trainStep(batch: StepBatch, lr: number): Promise<StepResult>;
  /** Class probabilities, row-major [n, classes]. Inference mode (dropout off, BN moving stats). */
  predict(x: Float32Array, xShape: number[]): Promise<Float32Array>;
  /** Loss and accuracy without updating anything. */
  evaluate(batch: StepBatch): Promise<StepResult>;
  /** Snapshot / restore of all weights (early stopping's restore-best). */
  getWeights(): Float32Array[];
  setWeights(w: Float32Array[]): void;
  /** A copy of the whole training state (checkpoints for resume). */
  getState(): EngineState;
  /** Put back a state from `getState` of an engine built the same way (same model, options). */
  setState(s: EngineState): void;
  /** Make sure the TF.js model holds the trained weights (a no-op for the TF.js engine). */
  syncToModel(): Promise<void>;
  dispose(): void;
}

export type EngineFactory = (model: tf.LayersModel, opts: EngineOptions) => Promise<TrainingEngine>;

/** What `setWeights` checks a given array against: one model weight's name and shape. */
export interface WeightSlot {
  readonly name: string;
  readonly shape: readonly (number | null)[];
}

/**
 * The argument check every engine's `setWeights` makes: one array per model weight, each holding
 * exactly as many values as its weight's shape. Throws GraftError 'E_WEIGHTS_MISMATCH' otherwise.
 */
export function checkWeights(expected: readonly WeightSlot[], given: readonly Float32Array[]): void {
  if (given.length !== expected.length) {
    throw new GraftError('E_WEIGHTS_MISMATCH', `setWeights needs one array per model weight (${expected.length}); received ${given.length}.`, 'Pass an array returned by getWeights() of the same model.');
  }
  expected.forEach((w, i) => {
    const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    if (given[i].length !== size) throw new GraftError('E_WEIGHTS_MISMATCH', `Weight "${w.name}" has ${size} values (shape [${w.shape.join(', ')}]); received ${given[i].length}.`);
  });
}

/** The check of `setState`: the optimiser part must match the engine's own slots. */
export function checkState(slots: readonly number[], steps: number, given: EngineState): void {
  const sizes = given.optimizer.map((a) => a.length);
  if (sizes.length !== slots.length || sizes.some((n, i) => n !== slots[i]) || given.steps.length !== steps || !Number.isInteger(given.rng)) {
    throw new GraftError('E_WEIGHTS_MISMATCH', `The training state does not fit this engine: it has ${given.optimizer.length} optimiser slot(s) and ${given.steps.length} step count(s); the engine has ${slots.length} and ${steps}.`, 'Resume with the same options and model that wrote the state.');
  }
}
