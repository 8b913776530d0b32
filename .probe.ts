import * as tf from '@tensorflow/tfjs';
import { initTf } from './src/engine/backend.js';
import { listModels, buildModel } from './src/zoo/registry.js';
import { exportOnnx } from './src/engine/onnx-export.js';
import { parity, randomizeWeights } from './test/engine/onnx-helpers.js';
console.log(await initTf());
for (const spec of listModels()) {
  const size = Math.max(spec.minInputSize, 32);
  let t = Date.now();
  const m = buildModel(spec.name, { includeTop: false, inputShape: [size, size, 3], pooling: 'avg' });
  const tb = Date.now() - t; t = Date.now();
  randomizeWeights(m, 1, true);
  const tr = Date.now() - t; t = Date.now();
  try {
    const d = await parity(m, {}, 2);
    console.log(spec.name, size, 'build', tb, 'rand', tr, 'parity', Date.now() - t, 'diff', d);
  } catch (e) { console.log(spec.name, 'ERR', (e as Error).message); }
  m.dispose();
}
