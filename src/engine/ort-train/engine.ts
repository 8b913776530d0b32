import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { env } from '../../env.js';
import { GraftError } from '../../errors.js';
import { checkState, checkWeights, type EngineFactory, type EngineOptions, type EngineState, type StepBatch, type StepResult, type TrainingEngine } from '../../train/engine.js';
import type { Rng } from '../../data/rng.js';
import { compileInfer, compileTrainStep, type InferGraph, type TrainGraph } from './compile.js';
import { adamScalars } from './optim.js';
import { fromGraphLayout, toGraphLayout } from './layout.js';
import { checkBatch, dropoutStream } from '../../train/batch.js';
import type { Param } from './tape.js';

/** Extra knobs of the ORT engine (tests and benchmarks). */
export interface OrtEngineExtras {
  /** Intra-op threads (default env.threads). */
  threads?: number;
  /** Write onnxruntime's per-op JSON profile (file prefix); read it after dispose(). */
  profilePrefix?: string;
}

/**
 * The ORT training engine: each training step is one ONNX graph (forward in training mode,
 * hand-written backward, optimiser update) run by onnxruntime-node. Parameters, optimiser state
 * and BN statistics live in JS as ort.Tensors; a step's outputs are fed as the next step's inputs.
 * The TF.js model is only written at {@link TrainingEngine.syncToModel} (export, eval unchanged).
 *
 * Throws GraftError 'E_ORT_TRAIN_UNSUPPORTED' naming the layer when the model has a layer the
 * compiler cannot differentiate: catch it and use createTfjsEngine. `microBatch` is ignored (no
 * 4 GB heap here): the whole batch is one step, which is what micro-batching approximates.
 *
 * @example
 * const engine = await createOrtEngine(top, { optimizer: { type: 'adam', lr: 1e-3 } });
 * const { loss, correct } = await engine.trainStep({ x, xShape: [16, 7, 7, 160], y }, 1e-3);
 * await engine.syncToModel(); // top's TF.js weights now hold the trained values
 * engine.dispose();
 */
export const createOrtEngine: EngineFactory = async (model, opts) => createOrtEngineWith(model, opts, {});

/** {@link createOrtEngine} with thread count / profiling options. */
export async function createOrtEngineWith(model: tf.LayersModel, opts: EngineOptions, extras: OrtEngineExtras): Promise<TrainingEngine> {
  validate(opts);
  const train = compileTrainStep(model, opts);
  const infer = compileInfer(model, opts);
  if (opts.classWeights && opts.classWeights.length !== train.classes) {
    throw new GraftError('E_CLASS_WEIGHTS', `classWeights needs ${train.classes} numbers ≥ 0 (one per class); received [${opts.classWeights.join(', ')}].`);
  }
  const so: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: extras.threads ?? env.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(extras.profilePrefix ? { enableProfiling: true, profileFilePrefix: extras.profilePrefix } : {}),
  };
  const [trainSession, inferSession] = await Promise.all([ort.InferenceSession.create(train.bytes, so), ort.InferenceSession.create(infer.bytes, { ...so, enableProfiling: false })]);
  return new OrtEngine(model, opts, train, infer, trainSession, inferSession);
}

class OrtEngine implements TrainingEngine {
  readonly name = 'ort';
  /** Current value of every graph input that persists across steps (params, state). */
  private readonly values = new Map<string, ort.Tensor>();
  private readonly byVariable = new Map<tf.LayerVariable, Param>();
  private readonly rng: Rng;
  private steps = 0;
  private disposed = false;
  /** The graph takes Adam's step scalars. */
  private readonly adam: boolean;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly opts: EngineOptions,
    private readonly train: TrainGraph,
    private readonly infer: InferGraph,
    private readonly trainSession: ort.InferenceSession,
    private readonly inferSession: ort.InferenceSession,
  ) {
    for (const p of train.params) {
      this.byVariable.set(p.variable, p);
      this.values.set(p.key, new ort.Tensor('float32', toGraphLayout(p.variable.read().dataSync() as Float32Array, p.tfShape, p.layout), p.shape));
    }
    for (const s of train.state) this.values.set(s.name, new ort.Tensor('float32', new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape));
    this.rng = dropoutStream(opts.seed);
    this.adam = trainSession.inputNames.includes('adam_a');
  }

  async trainStep(batch: StepBatch, lr: number): Promise<StepResult> {
    this.assertLive();
    if (!Number.isFinite(lr) || lr < 0) throw new GraftError('E_BAD_LR', `The learning rate must be a finite number ≥ 0; received ${lr}.`);
    const n = checkBatch(batch);
    const k = this.train.classes;
    const eps = this.opts.labelSmoothing ?? 0;
    const targets = new Float32Array(n * k).fill(eps / k);
    const weights = new Float32Array(n);
    const labels = new BigInt64Array(n);
    const cw = this.opts.classWeights;
    for (let i = 0; i < n; i++) {
      const y = batch.y[i];
      if (!(y >= 0 && y < k)) throw new GraftError('E_LABEL', `Label ${y} at row ${i} is outside [0, ${k}).`);
      targets[i * k + y] += 1 - eps;
      weights[i] = (cw ? cw[y] : 1) / n;
      labels[i] = BigInt(y);
    }
    // Like the TF.js optimisers, a step at lr 0 updates nothing but BN statistics (and keeps t).
    const update = lr > 0;
    const t = this.steps + 1;
    const adam = adamScalars(this.opts.optimizer, t);
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', batch.x, batch.xShape),
      targets: new ort.Tensor('float32', targets, [n, k]),
      weights: new ort.Tensor('float32', weights, [n, 1]),
      labels: new ort.Tensor('int64', labels, [n]),
      lr: scalar(lr),
    };
    if (this.adam) Object.assign(feeds, { adam_a: scalar(adam.a), adam_e: scalar(adam.e) });
    for (const m of this.train.masks) feeds[m.name] = this.mask(m.shape, n, m.rate);
    for (const name of this.trainSession.inputNames) if (!feeds[name]) feeds[name] = this.values.get(name)!;
    const out = await this.trainSession.run(feeds);
    if (update) {
      this.steps = t;
      for (const u of this.train.updates) this.values.set(u.param.key, out[u.next] as ort.Tensor);
      for (const s of this.train.state) this.values.set(s.name, out[s.next] as ort.Tensor);
    }
    for (const s of this.train.stats) this.values.set(s.param.key, out[s.next] as ort.Tensor);
    return { loss: (out.loss.data as Float32Array)[0], correct: (out.correct.data as Float32Array)[0], count: n };
  }

  async predict(x: Float32Array, xShape: number[]): Promise<Float32Array> {
    const logits = await this.logits(x, xShape);
    const k = this.infer.classes;
    for (let i = 0; i < logits.length; i += k) softmaxRow(logits, i, k);
    return logits;
  }

  /** Loss as in training (label smoothing included) but without class weights, like the TF.js engine. */
  async evaluate(batch: StepBatch): Promise<StepResult> {
    const n = checkBatch(batch);
    const z = await this.logits(batch.x, batch.xShape);
    const k = this.infer.classes;
    const eps = this.opts.labelSmoothing ?? 0;
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const row = z.subarray(i * k, (i + 1) * k);
      let max = -Infinity;
      let arg = 0;
      let sumZ = 0;
      for (let j = 0; j < k; j++) {
        sumZ += row[j];
        if (row[j] > max) [max, arg] = [row[j], j];
      }
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(row[j] - max);
      const lse = Math.log(s) + max;
      loss += lse - ((1 - eps) * row[batch.y[i]] + (eps / k) * sumZ);
      if (arg === batch.y[i]) correct++;
    }
    return { loss: loss / n, correct, count: n };
  }

  getWeights(): Float32Array[] {
    this.assertLive();
    return this.model.weights.map((w) => {
      const p = this.byVariable.get(w as tf.LayerVariable);
      return p ? fromGraphLayout(this.values.get(p.key)!.data as Float32Array, p.tfShape, p.layout) : (w.read().dataSync() as Float32Array).slice();
    });
  }

  setWeights(ws: Float32Array[]): void {
    this.assertLive();
    const vars = this.model.weights;
    checkWeights(vars, ws);
    vars.forEach((v, i) => {
      const p = this.byVariable.get(v as tf.LayerVariable);
      if (p) this.values.set(p.key, new ort.Tensor('float32', toGraphLayout(ws[i], p.tfShape, p.layout), p.shape));
      else tf.tidy(() => {
        v.write(tf.tensor(ws[i], v.shape as number[]));
      });
    });
  }

  getState(): EngineState {
    this.assertLive();
    const optimizer = this.train.state.map((st) => (this.values.get(st.name)!.data as Float32Array).slice());
    return { weights: this.getWeights(), optimizer, steps: [this.steps], rng: this.rng.getState() };
  }

  setState(s: EngineState): void {
    this.assertLive();
    checkState(this.train.state.map((st) => st.shape.reduce((a, b) => a * b, 1)), 1, s);
    this.setWeights(s.weights);
    this.train.state.forEach((st, i) => this.values.set(st.name, new ort.Tensor('float32', s.optimizer[i]!.slice(), st.shape)));
    this.steps = s.steps[0]!;
    this.rng.setState(s.rng);
  }

  async syncToModel(): Promise<void> {
    this.assertLive();
    tf.tidy(() => {
      for (const p of this.train.params) p.variable.write(tf.tensor(fromGraphLayout(this.values.get(p.key)!.data as Float32Array, p.tfShape, p.layout), p.tfShape));
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.values.clear();
    void this.trainSession.release();
    void this.inferSession.release();
  }

  /** Ends onnxruntime profiling of the training session; returns the profile file's path. */
  endProfiling(): void {
    this.trainSession.endProfiling();
  }

  private async logits(x: Float32Array, xShape: number[]): Promise<Float32Array> {
    this.assertLive();
    checkBatch({ x, xShape, y: new Int32Array(xShape[0] ?? 0) });
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, xShape) };
    for (const name of this.inferSession.inputNames) if (!feeds[name]) feeds[name] = this.values.get(name)!;
    const out = await this.inferSession.run(feeds);
    return (out.logits.data as Float32Array).slice();
  }

  /** A dropout mask (0 or 1/(1 − rate)) for `n` rows, drawn from the engine's seeded generator. */
  private mask(shape: number[], n: number, rate: number): ort.Tensor {
    const dims = shape.map((d) => (d < 0 ? n : d));
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    const keep = 1 / (1 - rate);
    for (let i = 0; i < data.length; i++) data[i] = this.rng.next() >= rate ? keep : 0;
    return new ort.Tensor('float32', data, dims);
  }

  private assertLive(): void {
    if (this.disposed) throw new GraftError('E_ENGINE_DISPOSED', 'This training engine was disposed.', 'Create a new engine with createOrtEngine().');
  }
}

const scalar = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);

function softmaxRow(z: Float32Array, at: number, k: number): void {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, z[at + j]);
  let s = 0;
  for (let j = 0; j < k; j++) s += z[at + j] = Math.exp(z[at + j] - max);
  for (let j = 0; j < k; j++) z[at + j] /= s;
}


function validate(opts: EngineOptions): void {
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls < 1)) throw new GraftError('E_LABEL_SMOOTHING', `labelSmoothing must be in [0, 1); received ${ls}.`);
  if (opts.classWeights?.some((w) => !(w >= 0))) throw new GraftError('E_CLASS_WEIGHTS', `classWeights must be numbers ≥ 0; received [${opts.classWeights.join(', ')}].`);
  const types = ['adam', 'sgd', 'adamw'];
  if (!types.includes(opts.optimizer.type)) throw new GraftError('E_OPTIMIZER', `Unknown optimizer type: received "${String(opts.optimizer.type)}".`, `Should be one of: ${types.join(', ')}.`);
  for (const [key, value] of Object.entries({ lr: opts.optimizer.lr, weightDecay: opts.optimizer.weightDecay ?? 0, momentum: opts.optimizer.momentum ?? 0 })) {
    if (!Number.isFinite(value) || value < 0) throw new GraftError('E_OPTIMIZER', `Optimizer ${key} must be a finite number ≥ 0; received ${value}.`);
  }
}

