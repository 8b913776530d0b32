// The zoo's MobileNetV2 / InceptionV3 carry the exact Keras names nsfwjs' Keras 2.2.4 models use:
// every backbone weight matches by name and shape, and with nsfwjs' weights copied in by name our
// MobileNetV2 computes what nsfwjs' own graph computes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { buildModel, getModelSpec } from '../../src/zoo/registry.js';

await initTf();
const require = createRequire(import.meta.url);
// nsfwjs' "exports" hides its model files; find them next to its CommonJS entry point.
const NSFW_MODELS = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models');

interface Manifest {
  modelTopology: { model_config: { config: { layers: { name: string; class_name: string; config: Record<string, unknown> }[] } } };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}
const nsfwjsModel = (dir: string): Manifest => require(path.join(NSFW_MODELS, dir, 'model.min.js'));
/** nsfwjs' head (after the Keras backbone), which the zoo does not rebuild. */
const NSFW_HEAD = /^(dense|dropout|flatten)_\d+$/;

for (const [name, dir] of [
  ['mobilenet_v2', 'mobilenet_v2'],
  ['inception_v3', 'inception_v3'],
] as const) {
  test(`${name}: every backbone weight of nsfwjs' model matches ours by name and shape`, () => {
    const ref = nsfwjsModel(dir);
    const refShapes = new Map(ref.weightsManifest.flatMap((g) => g.weights).map((w) => [w.name, w.shape]));
    const model = buildModel(name, { includeTop: false });
    try {
      const ours = new Map(model.weights.map((w) => [w.originalName, w.shape]));
      for (const [n, shape] of ours) assert.deepEqual(refShapes.get(n), shape, `weight ${n}`);
      const missing = [...refShapes.keys()].filter((n) => !ours.has(n) && !NSFW_HEAD.test(n.split('/')[0]));
      assert.deepEqual(missing, []);
      assert.equal(ours.size, refShapes.size - 6, 'nsfwjs adds exactly 3 Dense layers');
      // The classifier named in the pretrained config exists in nsfwjs' topology.
      const cfg = getModelSpec(name).pretrained.nsfwjs;
      const layers = ref.modelTopology.model_config.config.layers;
      const clf = layers.find((l) => l.name === cfg.classifier);
      assert.equal(clf?.config.units, cfg.numClasses);
      assert.ok(layers.some((l) => l.name === getModelSpec(name).featureLayer));
    } finally {
      model.dispose();
    }
  });
}

test('mobilenet_v2 with nsfwjs weights reproduces nsfwjs features at out_relu', async () => {
  const ref = nsfwjsModel('mobilenet_v2');
  const b64: string = require(path.join(NSFW_MODELS, 'mobilenet_v2', 'group1-shard1of1.min.js'));
  const bytes = Buffer.from(b64, 'base64');
  const specs = ref.weightsManifest.flatMap((g) => g.weights);
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const refModel = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: ref.modelTopology, weightSpecs: specs, weightData: data }));
  const refFeatures = tf.model({ inputs: refModel.inputs, outputs: refModel.getLayer('out_relu').output });
  const model = buildModel('mobilenet_v2', { includeTop: false });
  const x = tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 7);
  try {
    const byName = new Map(refModel.weights.map((w) => [w.originalName, w]));
    model.setWeights(model.weights.map((w) => byName.get(w.originalName)!.read()));
    const a = refFeatures.predict(x) as tf.Tensor;
    const b = model.predict(x) as tf.Tensor;
    assert.deepEqual(b.shape, [1, 7, 7, 1280]);
    const maxDiff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const scale = tf.max(tf.abs(a)).dataSync()[0];
    assert.ok(scale > 0.1, 'features are not trivially zero');
    assert.ok(maxDiff <= 1e-4 * Math.max(1, scale), `max |diff| ${maxDiff} (scale ${scale})`);
    tf.dispose([a, b]);
  } finally {
    x.dispose();
    model.dispose();
    refModel.dispose();
  }
});
