// Every registered architecture exports to ONNX and matches TF.js (registration enrols it here).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { exportOnnx } from '../../src/engine/onnx/export.js';
import { buildModel, listModels } from '../../src/zoo/registry.js';
import { parityStats, randomInput, randomizeWeights, runOnnx } from './onnx-helpers.js';

/** Absolute 1e-4, and relative 1e-4 too: VGG's random-init features are ~1e-3 in size. */
function assertClose({ diff, scale }: { diff: number; scale: number }, what: string): void {
  assert.ok(scale > 0, `${what}: all-zero features prove nothing`);
  assert.ok(diff <= 1e-4 && diff <= 1e-4 * scale, `${what}: max abs diff ${diff}, feature scale ${scale}`);
}

/**
 * The deepest nets' TF.js forward is too slow for the test budget on 2 shared cores: for them the
 * whole network is exported and run in ORT (shape and finiteness), and TF.js parity is checked on
 * a prefix up to their second block. ResNet50 covers every ResNet layer type at full depth.
 */
const PREFIX_ONLY = new Set(['vgg19', 'resnet101', 'resnet152']);

before(async () => {
  await initTf();
});

for (const spec of listModels()) {
  test(`${spec.name}: ONNX features equal TF.js (random weights and BN statistics)`, async () => {
    const size = Math.max(spec.minInputSize, 32);
    const model = buildModel(spec.name, { includeTop: false, inputShape: [size, size, 3], pooling: 'avg' });
    try {
      // Keep the Keras initialisers for kernels; randomise BN so its layout is actually tested.
      randomizeWeights(model, 17, true);
      if (!PREFIX_ONLY.has(spec.name)) {
        assertClose(await parityStats(model, {}, 2), 'pooled features');
        return;
      }
      const shape = [2, size, size, 3];
      // 'basic': the 'all' level's layout rewrite costs ~10 s per deep net here; the prefix below uses 'all'.
      const [out] = await runOnnx(exportOnnx(model), randomInput(shape, 3), shape, 'basic');
      const featDim = model.outputs[0].shape[1] as number;
      assert.deepEqual(out.dims, [2, featDim]);
      assert.ok(out.data.every(Number.isFinite), 'finite features');
      const cut = spec.blockOutput(spec.blocks[1]);
      assertClose(await parityStats(model, { outputs: [cut] }, 2), `prefix ${cut}`);
    } finally {
      model.dispose();
    }
  });
}
