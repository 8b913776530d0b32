import * as tf from '@tensorflow/tfjs';
import './wasm-grads.js'; // conv gradients on wasm
import { GraftError } from '../../errors.js';
import { checkState, checkWeights, type EngineFactory, type EngineOptions, type EngineState, type StepBatch, type StepResult, type TrainingEngine } from '../../train/engine.js';
import type { Rng } from '../../data/rng.js';
import { countCorrect, softmaxCrossEntropy } from './losses.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { checkBatch, dropoutStream } from '../../train/batch.js';

type Layer = tf.layers.Layer;
type Patch = () => () => void; // applies a change, returns its undo

/**
 * The TF.js training engine: trains the part of a model after the cut on cached activations.
 *
 * It does not use `model.fit`: the step is `tf.variableGrads` over the trainable weights, so
 * - frozen BatchNormalization layers run in inference mode (TF.js's BN, unlike Keras', uses batch
 *   statistics and updates its moving averages in training mode even with `trainable = false`;
 *   the engine forces `training: false` into those layers' `call` while it runs a step),
 * - the loss is computed from logits (a softmax output layer is run as linear during the step),
 * - batches split into micro-batches whose gradients are summed, keeping the 4 GB wasm heap safe.
 * Runs on the current TF.js backend (call `initTf()` first; wasm gets the conv gradient kernels).
 *
 * @example
 * await initTf();
 * const engine = await createTfjsEngine(head, { optimizer: { type: 'adam', lr: 1e-3 }, microBatch: 32 });
 * const { loss, correct } = await engine.trainStep({ x, xShape: [64, 1280], y }, 1e-3);
 * const probs = await engine.predict(x, [64, 1280]);
 * engine.dispose();
 */
export const createTfjsEngine: EngineFactory = async (model, opts) => new TfjsEngine(model, opts);

class TfjsEngine implements TrainingEngine {
  readonly name = 'tfjs';
  private readonly params: tf.Variable[];
  private readonly multipliers: number[];
  private readonly optimizer: Optimizer;
  private readonly classWeights?: tf.Tensor1D;
  private readonly classes: number;
  private readonly trainPatches: Patch[];
  private readonly logitPatch: Patch;
  private readonly rng: Rng;
  /** Unit scales lent to BatchNormalization layers built with scale: false (see unitScalePatch). */
  private readonly unitScales: tf.Tensor[] = [];
  private disposed = false;

  constructor(private readonly model: tf.LayersModel, private readonly opts: EngineOptions) {
    this.classes = outputClasses(model);
    validate(opts, this.classes);
    const flat = flattenLayers(model);
    const { params, multipliers } = paramGroups(model, flat, opts);
    this.params = params;
    this.multipliers = multipliers;
    this.optimizer = createOptimizer(opts.optimizer, params);
    if (opts.classWeights) this.classWeights = tf.keep(tf.tensor1d(opts.classWeights));
    this.rng = dropoutStream(opts.seed);
    this.logitPatch = logitsPatch(model);
    this.trainPatches = [
      ...flat.filter((l) => isBatchNorm(l.layer) && (l.frozen || opts.trainBatchNormStats === false)).map((l) => inferenceModePatch(l.layer)),
      ...flat.filter((l) => l.layer.getClassName() === 'Dropout' || l.layer.getClassName().startsWith('SpatialDropout')).map((l) => dropoutSeedPatch(l.layer, () => this.rng.next())),
      ...flat.filter((l) => isBatchNorm(l.layer) && (l.layer as unknown as { gamma: unknown }).gamma == null).map((l) => unitScalePatch(l.layer, this.unitScales)),
    ];
  }

  async trainStep(batch: StepBatch, lr: number): Promise<StepResult> {
    this.assertLive();
    if (!Number.isFinite(lr) || lr < 0) throw new GraftError('E_BAD_LR', `The learning rate must be a finite number ≥ 0; received ${lr}.`);
    const n = checkBatch(batch);
    const lrs = this.multipliers.map((m) => m * lr);
    const active = this.params.filter((_, i) => this.multipliers[i] !== 0);
    const sums: Array<tf.Tensor | null> = this.params.map(() => null);
    const stats: tf.Scalar[] = [];
    for (const [start, end] of this.chunks(n)) {
      let correct: tf.Scalar | undefined;
      const { value, grads } = tf.tidy(() => {
        const x = sliceRows(batch.x, batch.xShape, start, end);
        const y = tf.tensor1d(batch.y.subarray(start, end), 'int32');
        const lossOf = (): tf.Scalar => {
          const logits = this.forward(x, true);
          // Kept: the tape disposes everything of the forward pass but its result.
          correct = tf.keep(countCorrect(logits, y));
          const loss = softmaxCrossEntropy(logits, y, { labelSmoothing: this.opts.labelSmoothing, classWeights: this.classWeights, divisor: n });
          const reg = this.model.calculateLosses();
          // Weight regularisers count once per batch, spread over its micro-batches.
          return reg.length ? (tf.add(loss, tf.mul(tf.addN(reg), (end - start) / n)) as tf.Scalar) : loss;
        };
        // Everything frozen (all multipliers 0): still run the step for its loss and BN statistics.
        return active.length ? tf.variableGrads(lossOf, active) : { value: lossOf(), grads: {} as tf.NamedTensorMap };
      });
      stats.push(value, correct!);
      const used = new Set<string>();
      this.params.forEach((p, i) => {
        const g = grads[p.name];
        if (g == null) return;
        used.add(p.name);
        const prev = sums[i];
        sums[i] = prev ? tf.keep(tf.add(prev, g)) : g;
        if (prev) tf.dispose([prev, g]);
      });
      tf.dispose(Object.keys(grads).filter((k) => !used.has(k)).map((k) => grads[k]));
    }
    this.optimizer.step(sums, lrs);
    tf.dispose(sums.filter((s): s is tf.Tensor => s != null));
    return sumStats(await readAll(stats), n);
  }

  async predict(x: Float32Array, xShape: number[]): Promise<Float32Array> {
    this.assertLive();
    const n = checkBatch({ x, xShape, y: new Int32Array(xShape[0] ?? 0) });
    const out = new Float32Array(n * this.classes);
    for (const [start, end] of this.chunks(n)) {
      const probs = tf.tidy(() => tf.softmax(this.forward(sliceRows(x, xShape, start, end), false)));
      out.set(await probs.data(), start * this.classes);
      probs.dispose();
    }
    return out;
  }

  /** Loss as in training (label smoothing included, Keras-style) but without class weights. */
  async evaluate(batch: StepBatch): Promise<StepResult> {
    this.assertLive();
    const n = checkBatch(batch);
    const stats: tf.Scalar[] = [];
    for (const [start, end] of this.chunks(n)) {
      stats.push(
        ...tf.tidy(() => {
          const logits = this.forward(sliceRows(batch.x, batch.xShape, start, end), false);
          const y = tf.tensor1d(batch.y.subarray(start, end), 'int32');
          return [softmaxCrossEntropy(logits, y, { labelSmoothing: this.opts.labelSmoothing, divisor: n }), countCorrect(logits, y)];
        }),
      );
    }
    return sumStats(await readAll(stats), n);
  }

  getWeights(): Float32Array[] {
    this.assertLive();
    return this.model.weights.map((w) => (w.read().dataSync() as Float32Array).slice());
  }

  setWeights(ws: Float32Array[]): void {
    this.assertLive();
    const vars = this.model.weights;
    checkWeights(vars, ws);
    tf.tidy(() => vars.forEach((v, i) => v.write(tf.tensor(ws[i], v.shape as number[]))));
  }

  getState(): EngineState {
    const o = this.optimizer.getState();
    return { weights: this.getWeights(), optimizer: o.slots, steps: o.steps, rng: this.rng.getState() };
  }

  setState(s: EngineState): void {
    const own = this.optimizer.getState();
    checkState(own.slots.map((a) => a.length), own.steps.length, s);
    this.setWeights(s.weights);
    this.optimizer.setState({ slots: s.optimizer, steps: s.steps });
    this.rng.setState(s.rng);
  }

  async syncToModel(): Promise<void> {
    // The engine trains the model's own variables: nothing to copy.
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.classWeights?.dispose();
    for (const t of this.unitScales) t.dispose();
  }

  /** Logits [n, classes]; `training` runs dropout and trainable BN in training mode. */
  private forward(x: tf.Tensor, training: boolean): tf.Tensor2D {
    const undo = [this.logitPatch(), ...(training ? this.trainPatches.map((p) => p()) : [])];
    try {
      return this.model.apply(x, { training }) as tf.Tensor2D;
    } finally {
      for (const u of undo.reverse()) u();
    }
  }

  private chunks(n: number): Array<[number, number]> {
    const size = this.opts.microBatch ?? n;
    const out: Array<[number, number]> = [];
    for (let s = 0; s < n; s += size) out.push([s, Math.min(n, s + size)]);
    return out;
  }

  private assertLive(): void {
    if (this.disposed) throw new GraftError('E_ENGINE_DISPOSED', 'This training engine was disposed.', 'Create a new engine with createTfjsEngine().');
  }
}

async function readAll(scalars: tf.Scalar[]): Promise<Float32Array> {
  if (scalars.length === 0) return new Float32Array(0);
  const packed = tf.tidy(() => tf.stack(scalars.map((s) => s.toFloat())));
  tf.dispose(scalars);
  const values = (await packed.data()) as Float32Array;
  packed.dispose();
  return values;
}

function sliceRows(x: Float32Array, shape: number[], start: number, end: number): tf.Tensor {
  const row = x.length / shape[0];
  return tf.tensor(x.subarray(start * row, end * row), [end - start, ...shape.slice(1)]);
}


function validate(opts: EngineOptions, classes: number): void {
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls < 1)) throw new GraftError('E_LABEL_SMOOTHING', `labelSmoothing must be in [0, 1); received ${ls}.`);
  if (opts.classWeights && (opts.classWeights.length !== classes || opts.classWeights.some((w) => !(w >= 0)))) {
    throw new GraftError('E_CLASS_WEIGHTS', `classWeights needs ${classes} numbers ≥ 0 (one per class); received [${opts.classWeights.join(', ')}].`);
  }
  const mb = opts.microBatch;
  if (mb !== undefined && !(Number.isInteger(mb) && mb > 0)) throw new GraftError('E_MICRO_BATCH', `microBatch must be a positive integer; received ${mb}.`);
}

function outputClasses(model: tf.LayersModel): number {
  const shape = model.outputs.length === 1 ? model.outputs[0].shape : undefined;
  if (!shape || shape.length !== 2 || !shape[1]) {
    throw new GraftError('E_HEAD_OUTPUT', `The trainable model must have one output of shape [batch, classes]; received ${JSON.stringify(model.outputs.map((o) => o.shape))}.`);
  }
  return shape[1];
}

interface FlatLayer {
  layer: Layer;
  /** The layer or a model containing it has trainable = false. */
  frozen: boolean;
}

const isContainer = (l: Layer): l is tf.LayersModel => Array.isArray((l as { layers?: unknown }).layers);
const isBatchNorm = (l: Layer) => l.getClassName() === 'BatchNormalization';

function flattenLayers(model: tf.LayersModel): FlatLayer[] {
  const out: FlatLayer[] = [];
  const walk = (layers: Layer[], frozenAbove: boolean) => {
    for (const layer of layers) {
      // A container's `trainable = false` flips its weights' flags, not its layers': check both.
      const ownsFrozenWeights = layer.weights.length > 0 && layer.weights.every((w) => !w.trainable);
      const frozen = frozenAbove || !layer.trainable || (isBatchNorm(layer) && ownsFrozenWeights);
      out.push({ layer, frozen });
      if (isContainer(layer)) walk(layer.layers, frozen);
    }
  };
  walk(model.layers, !model.trainable);
  return out;
}

/** The trainable variables and each one's learning-rate multiplier (layers in no group: 1). */
function paramGroups(model: tf.LayersModel, flat: FlatLayer[], opts: EngineOptions): { params: tf.Variable[]; multipliers: number[] } {
  const owner = new Map<tf.LayerVariable, number>();
  const byName = new Map(flat.map((l) => [l.layer.name, l.layer]));
  for (const group of opts.groups ?? []) {
    if (!(Number.isFinite(group.lrMultiplier) && group.lrMultiplier >= 0)) {
      throw new GraftError('E_PARAM_GROUP', `Group "${group.name}" lrMultiplier must be a finite number ≥ 0; received ${group.lrMultiplier}.`);
    }
    for (const name of group.layers) {
      const layer = byName.get(name);
      if (!layer) {
        throw new GraftError('E_PARAM_GROUP', `Group "${group.name}" names layer "${name}", which the model does not have.`, `Should be one of: ${[...byName.keys()].join(', ')}.`);
      }
      for (const w of layer.trainableWeights) {
        if (owner.has(w)) throw new GraftError('E_PARAM_GROUP', `Weight "${w.name}" (layer "${name}") is in more than one parameter group.`);
        owner.set(w, group.lrMultiplier);
      }
    }
  }
  const seen = new Set<number>();
  const params: tf.Variable[] = [];
  const multipliers: number[] = [];
  for (const w of model.trainableWeights) {
    if (seen.has(w.id)) continue; // shared layers list their weights once per use
    seen.add(w.id);
    params.push(w.read() as tf.Variable);
    multipliers.push(owner.get(w) ?? 1);
  }
  return { params, multipliers };
}

/** Forces `training: false` into one layer's call (frozen BN: moving statistics, no updates). */
function inferenceModePatch(layer: Layer): Patch {
  return () => {
    const own = Object.prototype.hasOwnProperty.call(layer, 'call');
    const original = layer.call;
    layer.call = (inputs, kwargs) => original.call(layer, inputs, { ...kwargs, training: false });
    return () => {
      if (own) layer.call = original;
      else delete (layer as { call?: unknown }).call;
    };
  };
}

/**
 * TF.js cannot differentiate through a BatchNormalization built with `scale: false` (Keras'
 * InceptionV3 has 94): the training branch calls `gamma.read()` on null, and the inference branch
 * passes no scale to the batchNorm kernel, whose gradient then saves `undefined` and throws. A
 * constant ones vector (not a weight: it gets no gradient) stands in while the engine runs.
 */
function unitScalePatch(layer: Layer, keep: tf.Tensor[]): Patch {
  const bn = layer as unknown as { gamma: { read(): tf.Tensor } | null; movingMean: { shape: number[] } };
  let ones: tf.Tensor | undefined;
  return () => {
    if (!ones) keep.push((ones = tf.keep(tf.ones(bn.movingMean.shape))));
    const unit = ones;
    bn.gamma = { read: () => unit };
    return () => {
      bn.gamma = null;
    };
  };
}

/**
 * TF.js' Dropout reuses one mask forever when it has a seed and draws from Math.random when it
 * has none; a fresh seed from the engine's generator per step gives new, reproducible masks.
 */
function dropoutSeedPatch(layer: Layer, rng: () => number): Patch {
  const d = layer as unknown as { seed?: number };
  return () => {
    const original = d.seed;
    d.seed = Math.floor(rng() * 2 ** 31);
    return () => {
      d.seed = original;
    };
  };
}

/** Makes the output layer emit logits while the engine runs it (softmax → linear). */
function logitsPatch(model: tf.LayersModel): Patch {
  let layer = (model as unknown as { outputLayers?: Layer[] }).outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  // Shape-only layers after the classifier (Keras MobileNet's Reshape) pass logits through.
  while (isContainer(layer) || ['Reshape', 'Flatten'].includes(layer.getClassName())) {
    const inner: Layer | undefined = isContainer(layer) ? layer.layers[layer.layers.length - 1] : layer.inboundNodes[0]?.inboundLayers[0];
    if (!inner) break;
    layer = inner;
  }
  const holder = layer as unknown as { activation?: { getClassName(): string }; softmax?: unknown };
  const identity = tf.layers.activation({ activation: 'linear' }) as unknown as { activation: unknown };
  if (layer.getClassName() === 'Softmax' && holder.softmax) {
    return swap(holder, 'softmax', (x: tf.Tensor) => x);
  }
  const act = holder.activation?.getClassName?.().toLowerCase();
  if (act === 'softmax') return swap(holder, 'activation', identity.activation);
  if (act === 'linear' || act === undefined) return () => () => undefined;
  throw new GraftError(
    'E_HEAD_OUTPUT',
    `The model's output layer "${layer.name}" has activation "${act}"; the engine trains softmax classifiers.`,
    'End the model with activation "softmax" (probabilities) or "linear" (logits).',
  );
}

function swap(obj: object, key: string, value: unknown): Patch {
  const o = obj as Record<string, unknown>;
  return () => {
    const original = o[key];
    o[key] = value;
    return () => {
      o[key] = original;
    };
  };
}


/** Per-chunk [loss sum, correct] pairs → one StepResult. */
function sumStats(values: ArrayLike<number>, n: number): StepResult {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < values.length; i += 2) {
    loss += values[i];
    correct += values[i + 1];
  }
  return { loss, correct, count: n };
}
