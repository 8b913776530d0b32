// Preprocessing modes against hand-computed Keras values; top-k decoding; the Normalization layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { isGraftError } from '../../src/errors.js';
import { decodePredictions } from '../../src/zoo/decode.js';
import { IMAGENET_CLASSES } from '../../src/zoo/imagenet-classes.js';
import { ChannelScale, Normalization } from '../../src/zoo/layers.js';
import { preprocess } from '../../src/zoo/preprocess.js';

await initTf();

// Two RGB pixels: pure red and (10, 128, 250).
const PIX = new Uint8Array([255, 0, 0, 10, 128, 250]);
const close = (a: ArrayLike<number>, b: number[], tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} != ${b[i]}`);
};

test('caffe: RGB→BGR and minus the BGR ImageNet mean, no scaling', () => {
  close(preprocess(PIX, 'caffe'), [0 - 103.939, 0 - 116.779, 255 - 123.68, 250 - 103.939, 128 - 116.779, 10 - 123.68], 1e-4);
});

test('tf: x / 127.5 - 1', () => {
  close(preprocess(PIX, 'tf'), [1, -1, -1, 10 / 127.5 - 1, 128 / 127.5 - 1, 250 / 127.5 - 1]);
});

test('torch: (x / 255 - mean) / std per RGB channel', () => {
  const m = [0.485, 0.456, 0.406];
  const s = [0.229, 0.224, 0.225];
  const exp = [255, 0, 0, 10, 128, 250].map((v, i) => (v / 255 - m[i % 3]) / s[i % 3]);
  close(preprocess(PIX, 'torch'), exp);
});

test('raw01 and none', () => {
  close(preprocess(PIX, 'raw01'), [1, 0, 0, 10 / 255, 128 / 255, 250 / 255]);
  close(preprocess(PIX, 'none'), [255, 0, 0, 10, 128, 250]);
});

test('in place on a Float32Array, caffe channel swap included', () => {
  const f = Float32Array.from(PIX);
  const out = preprocess(f, 'caffe', f);
  assert.equal(out, f);
  close(f, [-103.939, -116.779, 131.32, 146.061, 11.221, -113.68], 1e-4);
});

test('bad input is rejected with the rule and the value', () => {
  assert.throws(() => preprocess(new Uint8Array(4), 'tf'), (e) => isGraftError(e) && /multiple of 3/.test(e.message) && /4 values/.test(e.message));
  assert.throws(() => preprocess(PIX, 'vgg' as 'tf'), (e) => isGraftError(e) && /"vgg"/.test(e.message) && /caffe, tf, torch/.test(e.hint ?? ''));
  assert.throws(() => preprocess(PIX, 'tf', new Float32Array(3)), (e) => isGraftError(e) && /Received: 3/.test(e.message));
});

test('ImageNet class list: 1000 names in model output order', () => {
  assert.equal(IMAGENET_CLASSES.length, 1000);
  assert.equal(IMAGENET_CLASSES[0], 'tench, Tinca tinca');
  assert.equal(IMAGENET_CLASSES[281], 'tabby, tabby cat');
  assert.equal(IMAGENET_CLASSES[999], 'toilet tissue, toilet paper, bathroom tissue');
  // ImageNet names one bird and one machine 'crane' (134, 517); every other name is unique.
  assert.equal(new Set(IMAGENET_CLASSES).size, 999);
  assert.equal(IMAGENET_CLASSES[134], IMAGENET_CLASSES[517]);
});

test('decodePredictions: top-k per image, sorted, with labels', () => {
  const probs = new Float32Array(2000);
  probs[281] = 0.7;
  probs[285] = 0.2;
  probs[1000 + 1] = 0.9;
  probs[1000 + 0] = 0.05;
  const [a, b] = decodePredictions(probs, 1000, 3);
  assert.deepEqual(a.map((p) => p.index), [281, 285, 0]);
  assert.equal(a[0].label, 'tabby, tabby cat');
  assert.ok(Math.abs(a[0].probability - 0.7) < 1e-6);
  assert.deepEqual(b.map((p) => p.index), [1, 0, 2]);
  const five = decodePredictions([0.1, 0.6, 0.3], 3, 5, ['a', 'b', 'c']);
  assert.deepEqual(five[0].map((p) => p.label), ['b', 'c', 'a']);
  assert.equal(decodePredictions([0.2, 0.8], 2)[0][0].label, 'class_1');
  assert.throws(() => decodePredictions(new Float32Array(999)), (e) => isGraftError(e) && /999 values/.test(e.message));
});

test('Normalization: (x - mean) / sqrt(var), 7 weights for 3 channels, serialisable', async () => {
  const input = tf.input({ shape: [2, 2, 3] });
  const norm = new Normalization({ name: 'normalization', mean: [1, 2, 3], variance: [4, 1, 0.25] });
  const model = tf.model({ inputs: input, outputs: norm.apply(input) as tf.SymbolicTensor });
  try {
    assert.equal(model.countParams(), 7);
    assert.deepEqual(model.weights.map((w) => w.originalName), ['normalization/mean', 'normalization/variance', 'normalization/count']);
    assert.equal(model.trainableWeights.length, 0);
    const x = tf.fill([1, 2, 2, 3], 5);
    const y = model.predict(x) as tf.Tensor;
    close(y.dataSync().slice(0, 3), [2, 3, 4]);
    // Round trip through model.json: the class is registered under Keras' name.
    const saved = await new Promise<tf.io.ModelArtifacts>((resolve) => void model.save(tf.io.withSaveHandler(async (a) => (resolve(a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }))));
    assert.match(JSON.stringify(saved.modelTopology), /"class_name":"Normalization"/);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
    const y2 = loaded.predict(x) as tf.Tensor;
    close(y2.dataSync(), Array.from(y.dataSync()));
    tf.dispose([x, y, y2]);
    loaded.dispose();
  } finally {
    model.dispose();
  }
});

test('ChannelScale multiplies per channel', () => {
  const layer = new ChannelScale({ scale: [1, 2, 3] });
  const y = layer.apply(tf.ones([1, 1, 1, 3])) as tf.Tensor;
  close(y.dataSync(), [1, 2, 3]);
  y.dispose();
});
