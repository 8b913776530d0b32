import type * as tf from '@tensorflow/tfjs';
import { type Tape, type TVal, unsupported } from './tape.js';

/** Activations the training graph differentiates (softmax only at the output: it is the loss's). */
export const TRAIN_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'swish', 'silu', 'tanh', 'softmax'] as const;

/**
 * Applies a TF.js activation by name with its gradient recorded. `softmax` is only allowed on the
 * model's output, where it returns the logits unchanged (the loss and predict apply it).
 */
export function applyActivation(t: Tape, x: TVal, act: string | undefined | null, layer: tf.layers.Layer, isOutput: boolean): TVal {
  const name = act ?? 'linear';
  const y = (out: string, back: (dy: string) => string): TVal => t.record([x], { ...x, name: out, grad: x.grad }, (dy) => [back(dy)]);
  switch (name) {
    case 'linear':
      return x;
    case 'softmax':
      if (!isOutput) unsupported(layer, 'softmax inside the network (only as the output activation)');
      return x;
    case 'relu': {
      const out = t.op('Relu', [x.name]);
      // d/dx relu = [x > 0]; computed from the output (y > 0 ⇔ x > 0), so x need not be kept.
      return y(out, (dy) => t.op('Mul', [dy, mask(t, t.op('Greater', [out, t.f(0)]))]));
    }
    case 'relu6':
      return clip(t, x, 0, 6);
    case 'sigmoid': {
      const s = t.op('Sigmoid', [x.name]);
      return y(s, (dy) => t.op('Mul', [dy, t.op('Mul', [s, t.op('Sub', [t.f(1), s])])]));
    }
    case 'tanh': {
      const th = t.op('Tanh', [x.name]);
      return y(th, (dy) => t.op('Mul', [dy, t.op('Sub', [t.f(1), t.op('Mul', [th, th])])]));
    }
    case 'swish':
    case 'silu': {
      const s = t.op('Sigmoid', [x.name]);
      const out = t.op('Mul', [x.name, s]);
      // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
      return y(out, (dy) => t.op('Mul', [dy, t.op('Mul', [s, t.op('Add', [t.f(1), t.op('Mul', [x.name, t.op('Sub', [t.f(1), s])])])])]));
    }
    default:
      return unsupported(layer, `activation "${name}" (supported: ${TRAIN_ACTIVATIONS.join(', ')})`);
  }
}

/**
 * min(max(x, lo), hi) with gradient 1 where lo < y < hi, read from the output y so the input can
 * be freed after the forward pass (as PyTorch's in-place ReLU6): MobileNetV2 keeps one activation
 * fewer per conv-BN-ReLU6 for the backward pass. TF's gradient is 1 on (lo, hi]; the two differ
 * only at x = hi exactly.
 */
export function clip(t: Tape, x: TVal, lo: number, hi: number): TVal {
  const out = t.op('Clip', [x.name, t.f(lo), t.f(hi)]);
  return t.record([x], { ...x, name: out }, (dy) => {
    const inside = t.op('And', [t.op('Greater', [out, t.f(lo)]), t.op('Less', [out, t.f(hi)])]);
    return [t.op('Mul', [dy, mask(t, inside)])];
  });
}

/**
 * A boolean mask as 0/1 floats. dy·mask is a same-shape Mul; onnxruntime's Where(mask, dy, 0)
 * broadcasts the scalar 0 and ran ~1.7× slower on the training graphs' activations.
 */
function mask(t: Tape, cond: string): string {
  return t.op('Cast', [cond], { to: 1 });
}

/** LeakyReLU: x for x > 0, αx otherwise. */
export function leakyRelu(t: Tape, x: TVal, alpha: number): TVal {
  const out = t.op('LeakyRelu', [x.name], { alpha });
  return t.record([x], { ...x, name: out }, (dy) => [t.op('Mul', [dy, t.op('Where', [t.op('Greater', [x.name, t.f(0)]), t.f(1), t.f(alpha)])])]);
}
