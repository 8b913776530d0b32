import type * as tf from '@tensorflow/tfjs';
import type { StepBatch } from '../../src/train/engine.js';

export type TrainArch = 'mobilenet_v2' | 'resnet50';
export type TrainWorkload = 'top' | 'full';

/** Where each architecture's "top" starts: the output of the block below the trained blocks. */
export const TOP_CUT: Record<TrainArch, string> = { mobilenet_v2: 'block_13', resnet50: 'conv4' };

/**
 * The model and one fixed batch of a training benchmark: the whole network at 224 px plus a
 * 5-class head (`full`), or the part after {@link TOP_CUT} fed with activation-like values (`top`).
 * Random weights: the content of weights and inputs does not change the cost of a step.
 */
export async function trainWorkload(arch: TrainArch, workload: TrainWorkload, n: number): Promise<{ net: tf.LayersModel; batch: StepBatch }> {
  const { initTf } = await import('../../src/engine/tfjs/backend.js');
  const { createModel } = await import('../../src/zoo/registry.js');
  const { addHead, splitAt } = await import('../../src/transfer/index.js');
  await initTf('wasm');
  const { model, spec } = await createModel(arch, { includeTop: false, weights: 'none', inputShape: [224, 224, 3] });
  const full = addHead(model, { classes: 5 });
  const net = workload === 'top' ? splitAt(full, TOP_CUT[arch], spec).top : full;
  const shape = net.inputs[0].shape.slice(1) as number[];
  const x = new Float32Array(n * shape.reduce((a, b) => a * b, 1));
  // Post-ReLU-like activations (top) or pixels in [0, 1] (full).
  for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 1000;
  const y = Int32Array.from({ length: n }, (_, i) => i % 5);
  return { net, batch: { x, xShape: [n, ...shape], y } };
}
