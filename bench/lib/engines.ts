import type * as tfTypes from '@tensorflow/tfjs';
import type { Engine } from './interleave.js';
import type { TorchPeer } from './torch-peer.js';

/** What the benchmark needs from Graft's ORT backbone (src/engine/ort.ts). */
export interface BatchRunner {
  run(x: Float32Array, n: number): Promise<Float32Array>;
}

/** Engine with the output of its most recent batch kept, to check engines agree. */
export interface CheckedEngine extends Engine {
  lastOutput(): Float32Array | undefined;
}

/**
 * Graft's frozen-backbone path: one NHWC Float32Array batch through onnxruntime-node.
 *
 * @example
 * const e = ortEngine(backbone, x, 16); await e.time(1);
 */
export function ortEngine(backbone: BatchRunner, x: Float32Array, batch: number): CheckedEngine {
  let out: Float32Array | undefined;
  return {
    id: 'ort',
    label: 'Graft ORT',
    lastOutput: () => out,
    async time(batches) {
      const t0 = performance.now();
      for (let i = 0; i < batches; i++) out = await backbone.run(x, batch);
      return (performance.now() - t0) / 1000;
    },
  };
}

/**
 * The same Keras-named layers model run by TF.js (`model.predict`), outputs read back to host
 * memory each batch as ORT's are.
 *
 * @example
 * const e = tfjsEngine(tf, model, x, [16, 224, 224, 3]); await e.time(1);
 */
export function tfjsEngine(
  tf: typeof tfTypes,
  model: tfTypes.LayersModel,
  x: Float32Array,
  shape: [number, number, number, number],
): CheckedEngine & { dispose(): void } {
  const input = tf.tensor4d(x, shape);
  let out: Float32Array | undefined;
  return {
    id: 'tfjs',
    label: `TF.js ${tf.getBackend()}`,
    lastOutput: () => out,
    async time(batches) {
      const t0 = performance.now();
      for (let i = 0; i < batches; i++) {
        const y = model.predict(input) as tfTypes.Tensor;
        out = (await y.data()) as Float32Array;
        y.dispose();
      }
      return (performance.now() - t0) / 1000;
    },
    dispose: () => input.dispose(),
  };
}

/**
 * The PyTorch peer in one memory format. Both formats are reported: which one wins differs by
 * architecture (oneDNN favours channels_last for depthwise convolutions), and ratios are taken
 * against the faster one so Graft is compared with PyTorch at its best.
 *
 * @example
 * const e = torchEngine(peer, 'resnet50', 'channels_last'); await e.time(1);
 */
export function torchEngine(peer: TorchPeer, model: string, layout: 'contiguous' | 'channels_last'): Engine {
  return {
    id: `torch_${layout}`,
    label: `PyTorch ${layout}`,
    time: (batches) => peer.run(model, layout, batches),
  };
}

/** Largest absolute difference between two equally long outputs. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
