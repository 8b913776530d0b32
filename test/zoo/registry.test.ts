// Every registered architecture: Keras' exact parameter count with the top, and well-formed blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { buildModel, getModelSpec, listModels } from '../../src/zoo/registry.js';
import { isGraftError } from '../../src/errors.js';
import type { ArchitectureSpec } from '../../src/zoo/types.js';

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

/** Keras layer names that must exist (spot checks along each network) and some that must not. */
const NAMES: Record<string, { has: string[]; not?: string[] }> = {
  vgg16: { has: ['block1_conv1', 'block3_conv3', 'block5_conv3', 'block5_pool', 'flatten', 'fc1', 'fc2', 'predictions'], not: ['block3_conv4'] },
  vgg19: { has: ['block3_conv4', 'block5_conv4', 'fc2'] },
  resnet50: {
    has: ['conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool', 'conv2_block1_0_conv', 'conv2_block1_0_bn',
      'conv2_block1_1_conv', 'conv2_block1_2_relu', 'conv2_block1_3_bn', 'conv2_block1_add', 'conv2_block3_out', 'conv4_block6_out', 'conv5_block3_out', 'avg_pool'],
    not: ['conv2_block2_0_conv', 'conv4_block7_out'],
  },
  resnet101: { has: ['conv4_block23_out', 'conv5_block3_out'], not: ['conv4_block24_out'] },
  resnet152: { has: ['conv3_block8_out', 'conv4_block36_out'] },
  inception_v3: {
    has: ['conv2d_1', 'batch_normalization_1', 'activation_1', 'max_pooling2d_2', 'conv2d_94', 'batch_normalization_94', 'activation_94',
      'mixed0', 'mixed3', 'mixed8', 'mixed9_0', 'mixed9', 'mixed9_1', 'concatenate_2', 'mixed10', 'average_pooling2d_9', 'max_pooling2d_4', 'avg_pool'],
    not: ['conv2d_95', 'conv2d', 'conv2d_0'],
  },
  mobilenet_v2: {
    has: ['Conv1', 'bn_Conv1', 'Conv1_relu', 'expanded_conv_depthwise', 'expanded_conv_depthwise_BN', 'expanded_conv_depthwise_relu',
      'expanded_conv_project', 'expanded_conv_project_BN', 'block_1_expand', 'block_1_expand_BN', 'block_1_expand_relu', 'block_1_pad',
      'block_1_depthwise', 'block_2_add', 'block_16_project_BN', 'Conv_1', 'Conv_1_bn', 'out_relu'],
    not: ['block_0_expand', 'expanded_conv_expand', 'block_2_pad', 'block_16_add'],
  },
  efficientnet_b0: {
    has: ['rescaling', 'normalization', 'stem_conv_pad', 'stem_conv', 'stem_bn', 'stem_activation', 'block1a_dwconv', 'block1a_se_squeeze',
      'block1a_se_reduce', 'block1a_se_excite', 'block1a_project_bn', 'block2a_expand_conv', 'block2a_dwconv_pad', 'block2b_drop', 'block2b_add',
      'block6d_add', 'block7a_project_bn', 'top_conv', 'top_bn', 'top_activation', 'avg_pool', 'top_dropout', 'predictions'],
    not: ['block1a_expand_conv', 'block1a_add', 'rescaling_1'],
  },
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

test('unknown block names fail with E_UNKNOWN_BLOCK echoing the name and listing the blocks', () => {
  for (const spec of listModels()) {
    assert.throws(
      () => spec.blockOutput('block_nope'),
      (e: unknown) =>
        isGraftError(e) && e.code === 'E_UNKNOWN_BLOCK' && e.message.includes(spec.name) && /Received: block="block_nope"/.test(e.message) &&
        (e.hint ?? '').includes(spec.blocks.join(', ')),
      spec.name,
    );
  }
});

for (const spec of listModels()) {
  test(`${spec.name}: Keras' parameter count (${EXPECTED_PARAMS[spec.name]}), names, and well-formed blocks`, () => {
    // One build per architecture (VGG allocates ~0.6 GB): dispose at once.
    const model = buildModel(spec.name);
    try {
      assert.equal(model.countParams(), EXPECTED_PARAMS[spec.name]);
      assert.equal(spec.params, EXPECTED_PARAMS[spec.name]);
      assert.deepEqual(model.inputs[0].shape, [null, ...spec.defaultInputShape]);
      assert.deepEqual(model.outputs[0].shape, [null, 1000]);
      assert.equal(model.getLayer('predictions').getConfig().activation, 'softmax');
      assert.ok(model.getLayer(spec.featureLayer));
      assert.ok(spec.pretrained.imagenet, 'every architecture has an imagenet config');
      const names = new Set(model.layers.map((l) => l.name));
      for (const n of NAMES[spec.name].has) assert.ok(names.has(n), `missing layer ${n}`);
      for (const n of NAMES[spec.name].not ?? []) assert.ok(!names.has(n), `unexpected layer ${n}`);
      checkBlocks(spec, model);
    } finally {
      model.dispose();
    }
  });
}

/** Blocks are non-empty and in network order, and each blockOutput is a clean single-tensor cut. */
function checkBlocks(spec: ArchitectureSpec, model: tf.LayersModel): void {
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
    assert.ok(names.some((n) => spec.blockOf(n) === block), `block ${block} is empty`);
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
  assert.throws(() => spec.blockOutput('no_such_block'));
}

test('dispose leaves no tensors behind', () => {
  const before = tf.memory().numTensors;
  buildModel('mobilenet_v2', { includeTop: false, inputShape: [32, 32, 3] }).dispose();
  assert.equal(tf.memory().numTensors, before);
});
