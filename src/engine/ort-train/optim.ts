import type { OptimizerConfig } from '../../train/engine.js';
import { ADAMW_DEFAULT_DECAY } from '../../train/optimizers.js';
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
 * Inputs: `lr` (scalar, the schedule's rate; each parameter multiplies it by its group's
 * constant) and, for Adam, `bc1` = 1/(1−β1^t), `bc2` = 1/(1−β2^t) (the step count's bias
 * corrections, computed in JS so the graph needs no Pow of a step counter).
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
  const [b1, b2, eps] = [cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.epsilon ?? 1e-7];
  const updates: ParamUpdate[] = [];
  const state: StateSlot[] = [];
  const slot = (p: Param, kind: string): StateSlot => {
    const s = { name: t.g.unique(`${p.key}#${kind}`), next: `${p.key}#${kind}#next`, shape: p.shape };
    state.push(s);
    return s;
  };
  for (const p of t.params.values()) {
    const g0 = grads.get(p.key);
    if (!p.trainable || g0 == null) continue;
    const lrp = scaled(p.multiplier);
    const decay = wd > 0 && p.decays;
    const g = decay && cfg.type !== 'adamw' ? t.op('Add', [g0, t.op('Mul', [p.key, t.f(wd)])]) : g0;
    let step: string;
    if (adam) {
      const m = slot(p, 'm');
      const v = slot(p, 'v');
      const m2 = t.op('Add', [t.op('Mul', [m.name, t.f(b1)]), t.op('Mul', [g, t.f(1 - b1)])], {}, m.next);
      const v2 = t.op('Add', [t.op('Mul', [v.name, t.f(b2)]), t.op('Mul', [t.op('Mul', [g, g]), t.f(1 - b2)])], {}, v.next);
      [m.next, v.next] = [m2, v2];
      const denom = t.op('Add', [t.op('Sqrt', [t.op('Mul', [v2, 'bc2'])]), t.f(eps)]);
      step = t.op('Div', [t.op('Mul', [m2, 'bc1']), denom]);
    } else if (mu > 0) {
      const b = slot(p, 'buf');
      step = t.op('Add', [t.op('Mul', [b.name, t.f(mu)]), g], {}, b.next);
      b.next = step;
    } else {
      step = g;
    }
    const w = decay && cfg.type === 'adamw' ? t.op('Mul', [p.key, t.op('Sub', [t.f(1), t.op('Mul', [lrp, t.f(wd)])])]) : p.key;
    const next = t.op('Sub', [w, t.op('Mul', [step, lrp])], {}, `${p.key}#next`);
    updates.push({ param: p, next });
  }
  return { updates, state };
}
