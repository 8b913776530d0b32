import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../errors.js';
import type { OptimizerConfig, OptimizerType } from '../../train/engine.js';

/**
 * Optimizers with a per-parameter learning rate, so parameter groups (discriminative rates) need
 * no optimizer per group and the schedule can change the rate every step. Written over tf ops
 * rather than TF.js' `tf.train.*` because those keep the rate in private fields (SGD even caches
 * it in a kept scalar) and have no decoupled weight decay.
 *
 * Update rules follow PyTorch:
 * - sgd:   b ← μ·b + g;  w ← w − lr·b (μ = 0: plain SGD)
 * - adam:  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·m̂ / (√v̂ + ε)
 * - adamw: adam, plus w ← w − lr·λ·w before the step (decoupled decay, Loshchilov & Hutter)
 * sgd/adam with `weightDecay` add λ·w to the gradient (L2). Decay applies only to parameters of
 * rank ≥ 2 (kernels), never to biases or BatchNormalization γ/β, as in timm.
 */
export interface Optimizer {
  readonly type: OptimizerType;
  /** Applies one update; `lrs[i]` is the learning rate of `params[i]`, `grads[i]` may be null. */
  step(grads: Array<tf.Tensor | null>, lrs: number[]): void;
  /** Copies of the slots (moments, buffers) and the step counts, for checkpoints. */
  getState(): { slots: Float32Array[]; steps: number[] };
  setState(s: { slots: Float32Array[]; steps: number[] }): void;
  dispose(): void;
}

const readVars = (vs: tf.Variable[]): Float32Array[] => vs.map((v) => (v.dataSync() as Float32Array).slice());
function writeVars(vs: tf.Variable[], data: Float32Array[]): void {
  tf.tidy(() => vs.forEach((v, i) => v.assign(tf.tensor(data[i]!, v.shape))));
}

export const OPTIMIZER_TYPES: readonly OptimizerType[] = ['adam', 'sgd', 'adamw'];

/** AdamW's decay when the config gives none (PyTorch's default). */
export const ADAMW_DEFAULT_DECAY = 0.01;

/**
 * Creates the optimizer for `params`. State (moments, momentum buffers) is allocated here, not
 * lazily, so the tensor count stays constant from the first step on.
 *
 * @example
 * const opt = createOptimizer({ type: 'adamw', lr: 1e-3, weightDecay: 0.05 }, [w, b]);
 * opt.step([gw, gb], [1e-3, 1e-3]);
 */
export function createOptimizer(cfg: OptimizerConfig, params: tf.Variable[]): Optimizer {
  if (!OPTIMIZER_TYPES.includes(cfg.type)) {
    throw new GraftError('E_OPTIMIZER', `Unknown optimizer type: received "${String(cfg.type)}".`, `Should be one of: ${OPTIMIZER_TYPES.join(', ')}.`);
  }
  for (const [key, value] of Object.entries({ lr: cfg.lr, weightDecay: cfg.weightDecay ?? 0, momentum: cfg.momentum ?? 0 })) {
    if (!Number.isFinite(value) || value < 0) {
      throw new GraftError('E_OPTIMIZER', `Optimizer ${key} must be a finite number ≥ 0; received ${value}.`);
    }
  }
  return cfg.type === 'sgd' ? new Sgd(cfg, params) : new Adam(cfg, params);
}

const decays = (p: tf.Variable) => p.shape.length >= 2;
function zerosVar(p: tf.Variable): tf.Variable {
  const z = tf.zerosLike(p);
  const v = tf.variable(z, false); // shares z's data; z's handle must still be released
  z.dispose();
  return v;
}

class Sgd implements Optimizer {
  readonly type = 'sgd' as const;
  private readonly momentum: number;
  private readonly wd: number;
  private readonly bufs: tf.Variable[];

  constructor(cfg: OptimizerConfig, private readonly params: tf.Variable[]) {
    this.momentum = cfg.momentum ?? 0;
    this.wd = cfg.weightDecay ?? 0;
    this.bufs = this.momentum > 0 ? params.map(zerosVar) : [];
  }

  step(grads: Array<tf.Tensor | null>, lrs: number[]): void {
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g0 = grads[i];
        if (g0 == null || lrs[i] === 0) return;
        const g = this.wd > 0 && decays(p) ? tf.add(g0, tf.mul(p, this.wd)) : g0;
        let dir = g;
        if (this.momentum > 0) {
          dir = tf.add(tf.mul(this.bufs[i], this.momentum), g);
          this.bufs[i].assign(dir);
        }
        p.assign(tf.sub(p, tf.mul(dir, lrs[i])));
      });
    });
  }

  getState() {
    return { slots: readVars(this.bufs), steps: [] };
  }

  setState(s: { slots: Float32Array[]; steps: number[] }): void {
    writeVars(this.bufs, s.slots);
  }

  dispose(): void {
    tf.dispose(this.bufs);
  }
}

class Adam implements Optimizer {
  readonly type: 'adam' | 'adamw';
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  // Per-parameter step counts: a parameter skipped (null gradient, lr 0) keeps its bias correction.
  private readonly t: number[];

  constructor(cfg: OptimizerConfig, private readonly params: tf.Variable[]) {
    this.type = cfg.type === 'adamw' ? 'adamw' : 'adam';
    this.b1 = cfg.beta1 ?? 0.9;
    this.b2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.epsilon ?? 1e-7; // Keras' default
    this.wd = cfg.weightDecay ?? (this.type === 'adamw' ? ADAMW_DEFAULT_DECAY : 0);
    this.m = params.map(zerosVar);
    this.v = params.map(zerosVar);
    this.t = params.map(() => 0);
  }

  step(grads: Array<tf.Tensor | null>, lrs: number[]): void {
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g0 = grads[i];
        const lr = lrs[i];
        if (g0 == null || lr === 0) return;
        const t = ++this.t[i];
        const decay = this.wd > 0 && decays(p);
        const g = decay && this.type === 'adam' ? tf.add(g0, tf.mul(p, this.wd)) : g0;
        const m = tf.add(tf.mul(this.m[i], this.b1), tf.mul(g, 1 - this.b1));
        const v = tf.add(tf.mul(this.v[i], this.b2), tf.mul(tf.square(g), 1 - this.b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const mHat = tf.div(m, 1 - this.b1 ** t);
        const denom = tf.add(tf.sqrt(tf.div(v, 1 - this.b2 ** t)), this.eps);
        const w = decay && this.type === 'adamw' ? tf.mul(p, 1 - lr * this.wd) : p;
        p.assign(tf.sub(w, tf.mul(tf.div(mHat, denom), lr)));
      });
    });
  }

  getState() {
    return { slots: [...readVars(this.m), ...readVars(this.v)], steps: [...this.t] };
  }

  setState(s: { slots: Float32Array[]; steps: number[] }): void {
    writeVars([...this.m, ...this.v], s.slots);
    s.steps.forEach((t, i) => (this.t[i] = t));
  }

  dispose(): void {
    tf.dispose(this.m);
    tf.dispose(this.v);
  }
}
