// Forward passes at the smallest legal input, batch 1, headless, for each pooling option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { buildModel } from '../../src/zoo/registry.js';

await initTf();

const CASES: [name: string, size: number, channels: number, grid: number][] = [
  ['mobilenet_v2', 32, 1280, 1],
  ['resnet50', 64, 2048, 2],
  ['inception_v3', 75, 2048, 1],
  ['efficientnet_b0', 32, 1280, 1],
];

for (const [name, size, channels, grid] of CASES) {
  for (const pooling of ['avg', 'max', null] as const) {
    test(`${name} ${size}px pooling=${pooling}: output shape and finite values`, () => {
      const model = buildModel(name, { includeTop: false, inputShape: [size, size, 3], pooling });
      const x = tf.randomUniform([1, size, size, 3], -1, 1);
      try {
        const y = model.predict(x) as tf.Tensor;
        const expected = pooling ? [1, channels] : [1, grid, grid, channels];
        assert.deepEqual(y.shape, expected);
        assert.deepEqual(model.outputs[0].shape, [null, ...expected.slice(1)]);
        const v = y.dataSync();
        assert.ok(v.every(Number.isFinite), 'non-finite activations');
        y.dispose();
      } finally {
        x.dispose();
        model.dispose();
      }
    });
  }
}

test('mobilenet_v2 with top at 224: softmax over 1000 classes sums to 1', () => {
  const model = buildModel('mobilenet_v2');
  const x = tf.randomUniform([1, 224, 224, 3], -1, 1);
  try {
    const y = model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 1000]);
    assert.ok(Math.abs(y.sum().dataSync()[0] - 1) < 1e-4);
    y.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});

test('classifierActivation null gives logits; classes sets the head width', () => {
  const model = buildModel('efficientnet_b0', { classes: 7, classifierActivation: null });
  try {
    assert.deepEqual(model.outputs[0].shape, [null, 7]);
    assert.equal(model.getLayer('predictions').getConfig().activation, 'linear');
    assert.equal(model.getLayer('top_dropout').getConfig().rate, 0.2);
  } finally {
    model.dispose();
  }
});

test("efficientnet_b0 for ImageNet weights adds Keras' rescaling_1 (1/sqrt(std)); stochastic depth runs in training", () => {
  const model = buildModel('efficientnet_b0', { includeTop: false, inputShape: [32, 32, 3], pooling: 'avg', weights: 'imagenet' });
  const x = tf.fill([2, 32, 32, 3], 128);
  try {
    const scale = model.getLayer('rescaling_1').getConfig().scale as number[];
    assert.deepEqual(scale.map((v) => +v.toFixed(4)), [2.0897, 2.1129, 2.1082]);
    assert.equal(model.countParams(), buildParamsHeadless());
    const y = tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).shape);
    assert.deepEqual(y, [2, 1280]);
  } finally {
    x.dispose();
    model.dispose();
  }
});

function buildParamsHeadless(): number {
  const m = buildModel('efficientnet_b0', { includeTop: false, inputShape: [32, 32, 3], pooling: 'avg' });
  const n = m.countParams();
  m.dispose();
  return n;
}
