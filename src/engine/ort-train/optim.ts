import type { OptimizerConfig } from '../../train/engine.js';
import { ADAMW_DEFAULT_DECAY } from '../tfjs/optimizers.js';
import type { Param, Tape } from './tape.js';

/** A graph input that is optimiser state (zeros at start), fed back from its `next` output. */
export interface StateSlot {
  name: string;
  next: string;
  shape: number[];
}

/** Graph names of one trainable parameter's update. */
export interface ParamUpdate {
  param: Param;
  next: string;
}

/**
 * The optimiser as graph nodes, the same rules as src/train/optimizers.ts (PyTorch's):
 * - sgd:   b ← μ·b + g;  w ← w − lr·b (μ = 0: w ← w − lr·g)
 * - adam:  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·m·c1 / (√(v·c2) + ε)
 * - adamw: adam, and w ← w·(1 − lr·λ) first (decoupled decay)
 * with sgd/adam `weightDecay` added to the gradient as λ·w; decay only on rank ≥ 2 parameters.
 *
 * Written for few full-size passes (this part is memory-bound; see BENCHMARKS.md):
 * - Every parameter, gradient and state is updated as a flat [size] view (Reshape is free).
 *   onnxruntime's scalar broadcast against shapes that end in 1s ([O, C, 1, 1] pointwise kernels)
 *   runs ~10× slower than against the same data flattened.
 * - Adam keeps M = m/(1−β1) and V = v/(1−β2), so M ← β1·M + g and V ← β2·V + g² (5 passes, not 7),
 *   and the step is w ← w − M·a / (√V + e) with the scalars a = lr·c1·(1−β1)/√(c2·(1−β2)) and
 *   e = ε/√(c2·(1−β2)): {@link adamScalars} computes them in JS (inputs `adam_a` and `adam_e`,
 *   without the learning rate, which each parameter group multiplies in).
 * Input `lr` is the schedule's rate; each parameter multiplies it by its group's constant.
 */
export function optimizerNodes(t: Tape, cfg: OptimizerConfig, grads: Map<string, string>): { updates: ParamUpdate[]; state: StateSlot[] } {
  const lr = 'lr';
  const lrOf = new Map<number, string>();
  const scaled = (m: number): string => {
    if (!lrOf.has(m)) lrOf.set(m, m === 1 ? lr : t.op('Mul', [lr, t.f(m)]));
    return lrOf.get(m)!;
  };
  const adam = cfg.type === 'adam' || cfg.type === 'adamw';
  const wd = cfg.weightDecay ?? (cfg.type === 'adamw' ? ADAMW_DEFAULT_DECAY : 0);
  const mu = cfg.momentum ?? 0;
  const [b1, b2] = [cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999];
  const updates: ParamUpdate[] = [];
  const state: StateSlot[] = [];
  const flat = (v: string): string => t.op('Reshape', [v, t.i64([-1])]);
  const slot = (p: Param, kind: string): StateSlot => {
    const s = { name: t.g.unique(`${p.key}#${kind}`), next: `${p.key}#${kind}#next`, shape: [p.shape.reduce((a, b) => a * b, 1)] };
    state.push(s);
    return s;
  };
  const adamA = new Map<number, string>();
  for (const p of t.params.values()) {
    const g0 = grads.get(p.key);
    if (!p.trainable || g0 == null) continue;
    const lrp = scaled(p.multiplier);
    const decay = wd > 0 && p.decays;
    const w0 = flat(p.key);
    const gf = flat(g0);
    const g = decay && cfg.type !== 'adamw' ? t.op('Add', [gf, t.op('Mul', [w0, t.f(wd)])]) : gf;
    const w = decay && cfg.type === 'adamw' ? t.op('Mul', [w0, t.op('Sub', [t.f(1), t.op('Mul', [lrp, t.f(wd)])])]) : w0;
    let delta: string; // what is subtracted from w
    if (adam) {
      const m = slot(p, 'm');
      const v = slot(p, 'v');
      const m2 = t.op('Add', [t.op('Mul', [m.name, t.f(b1)]), g], {}, m.next);
      const v2 = t.op('Add', [t.op('Mul', [v.name, t.f(b2)]), t.op('Mul', [g, g])], {}, v.next);
      [m.next, v.next] = [m2, v2];
      const k = p.multiplier;
      if (!adamA.has(k)) adamA.set(k, t.op('Mul', ['adam_a', lrp]));
      delta = t.op('Mul', [t.op('Div', [m2, t.op('Add', [t.op('Sqrt', [v2]), 'adam_e'])]), adamA.get(k)!]);
    } else if (mu > 0) {
      const b = slot(p, 'buf');
      const step = t.op('Add', [t.op('Mul', [b.name, t.f(mu)]), g], {}, b.next);
      b.next = step;
      delta = t.op('Mul', [step, lrp]);
    } else {
      delta = t.op('Mul', [g, lrp]);
    }
    const next = t.op('Reshape', [t.op('Sub', [w, delta]), t.i64(p.shape)], {}, `${p.key}#next`);
    updates.push({ param: p, next });
  }
  return { updates, state };
}

/**
 * The step-dependent Adam scalars of {@link optimizerNodes} for step `t` (1-based): the graph
 * inputs `adam_a` (times the learning rate in the graph) and `adam_e`.
 *
 * @example
 * adamScalars({ type: 'adam', lr: 1e-3 }, 1); // { a: ≈1, e: ≈1e-7 }: step 1 moves each weight by ≈ lr
 */
export function adamScalars(cfg: OptimizerConfig, t: number): { a: number; e: number } {
  const [b1, b2, eps] = [cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.epsilon ?? 1e-7];
  const c1 = 1 / (1 - b1 ** t);
  const c2 = 1 / (1 - b2 ** t);
  const r = Math.sqrt(c2 * (1 - b2));
  return { a: (c1 * (1 - b1)) / r, e: eps / r };
}
