// Every registered architecture: Keras' exact parameter count with the top, and well-formed blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/backend.js';
import { buildModel, getModelSpec, listModels } from '../../src/zoo/registry.js';
import { isGraftError } from '../../src/errors.js';

await initTf();

const EXPECTED_PARAMS: Record<string, number> = {
  vgg16: 138_357_544,
  vgg19: 143_667_240,
  resnet50: 25_636_712,
  resnet101: 44_707_176,
  resnet152: 60_419_944,
  inception_v3: 23_851_784,
  mobilenet_v2: 3_538_984,
  efficientnet_b0: 5_330_571,
};

test('the registry lists the eight Keras architectures', () => {
  assert.deepEqual(listModels().map((s) => s.name).sort(), Object.keys(EXPECTED_PARAMS).sort());
});

test('unknown model names fail with E_UNKNOWN_MODEL listing the valid ones', () => {
  assert.throws(
    () => getModelSpec('resnet51'),
    (e: unknown) => isGraftError(e) && e.code === 'E_UNKNOWN_MODEL' && /resnet51/.test(e.message) && /resnet50/.test(e.hint ?? ''),
  );
});

for (const spec of listModels()) {
  test(`${spec.name}: parameter count with top equals Keras' (${EXPECTED_PARAMS[spec.name]})`, () => {
    // Building is cheap next to a forward pass; VGG allocates ~0.6 GB, so dispose at once.
    const model = buildModel(spec.name);
    try {
      assert.equal(model.countParams(), EXPECTED_PARAMS[spec.name]);
      assert.equal(spec.params, EXPECTED_PARAMS[spec.name]);
      assert.deepEqual(model.inputs[0].shape, [null, ...spec.defaultInputShape]);
      assert.deepEqual(model.outputs[0].shape, [null, 1000]);
      assert.equal(model.getLayer('predictions').getConfig().activation, 'softmax');
      assert.ok(model.getLayer(spec.featureLayer));
      assert.ok(spec.pretrained.imagenet, 'every architecture has an imagenet config');
    } finally {
      model.dispose();
    }
  });

  test(`${spec.name}: blocks are non-empty, ordered, and each blockOutput is a clean cut`, () => {
    // Small and headless: block structure does not depend on the input size.
    const size = Math.max(spec.minInputSize, 32);
    const model = buildModel(spec.name, { includeTop: false, inputShape: [size, size, 3] });
    try {
      const names = model.layers.map((l) => l.name);
      const index = new Map(names.map((n, i) => [n, i]));
      let lastBlock = -1;
      for (const name of names) {
        const b = spec.blockOf(name);
        if (b === undefined) continue;
        const bi = spec.blocks.indexOf(b);
        assert.ok(bi >= 0, `${name} maps to unknown block ${b}`);
        assert.ok(bi >= lastBlock, `${name} (${b}) comes after a layer of a later block`);
        lastBlock = bi;
      }
      for (const block of spec.blocks) {
        const members = names.filter((n) => spec.blockOf(n) === block);
        assert.ok(members.length > 0, `block ${block} is empty`);
        const out = spec.blockOutput(block);
        const cut = index.get(out);
        assert.ok(cut !== undefined, `blockOutput(${block}) = ${out} is not a layer`);
        assert.equal(spec.blockOf(out), block, `${out} is not in block ${block}`);
        // Clean cut: nothing after the cut reads a tensor from before it.
        for (const layer of model.layers.slice(cut + 1)) {
          for (const node of layer.inboundNodes) {
            for (const src of node.inboundLayers) {
              assert.ok(index.get(src.name)! >= cut, `${layer.name} reads ${src.name}, skipping the cut at ${out}`);
            }
          }
        }
      }
    } finally {
      model.dispose();
    }
  });
}

test('dispose leaves no tensors behind', () => {
  const before = tf.memory().numTensors;
  buildModel('mobilenet_v2', { includeTop: false, inputShape: [32, 32, 3] }).dispose();
  assert.equal(tf.memory().numTensors, before);
});
