// Surgery on real zoo architectures (random weights, 64x64 inputs to stay fast).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { buildModel, getModelSpec } from '../../src/zoo/registry.js';
import { freeze, splitAt, trainableLayerNames, unfreezeTopBlocks, validCutPoints } from '../../src/transfer/index.js';
import { isGraftError } from '../../src/errors.js';
import { maxAbsDiff, toyInput } from './toy.js';

before(async () => {
  await initTf();
});

const CASES = [
  { name: 'mobilenet_v2', block: 'block_13', layer: 'block_13_project_BN', inside: 'block_14_expand_relu', shape: [null, 2, 2, 160] },
  { name: 'resnet50', block: 'conv4', layer: 'conv4_block6_out', inside: 'conv4_block6_2_relu', shape: [null, 4, 4, 1024] },
];

for (const c of CASES) {
  test(`${c.name}: split at ${c.block} (block output) reproduces the full model`, () => {
    const spec = getModelSpec(c.name);
    const m = buildModel(c.name, { includeTop: false, inputShape: [64, 64, 3] });
    const { frozen, top, cut } = splitAt(m, c.block, spec);
    assert.equal(cut.layerName, c.layer);
    assert.deepEqual(frozen.outputs[0].shape, c.shape);
    const x = tf.mul(toyInput(1, [64, 64, 3]), 2);
    const full = m.predict(x) as tf.Tensor;
    const feats = frozen.predict(x) as tf.Tensor;
    const y = top.predict(feats) as tf.Tensor;
    // Random-init activations can be large: compare relative to the output's scale.
    const scale = Math.max(1, tf.tidy(() => tf.max(tf.abs(full)).dataSync()[0]));
    assert.ok(maxAbsDiff(full, y) / scale < 1e-5, `${maxAbsDiff(full, y)} at scale ${scale}`);
    tf.dispose([x, full, feats, y]);

    assert.throws(
      () => splitAt(m, c.inside, spec),
      (e: unknown) => isGraftError(e) && e.code === 'E_CUT_CROSSES_SKIP' && e.hint!.includes(c.layer),
    );
    assert.ok(validCutPoints(m, spec).includes(c.layer));

    freeze(m, { upTo: c.block, spec });
    assert.equal(trainableLayerNames(m).some((n) => spec.blockOf(n) === c.block), false);
    unfreezeTopBlocks(m, spec, 1);
    const last = spec.blocks[spec.blocks.length - 1];
    assert.ok(trainableLayerNames(m).every((n) => spec.blockOf(n) === last));
    m.dispose();
  });
}
