import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf, tf } from '../../src/engine/tfjs/backend.js';
import { inceptionV3Spec } from '../../src/zoo/inception-v3.js';
import { mobilenetV2Spec } from '../../src/zoo/mobilenet-v2.js';
import type { ArchitectureSpec } from '../../src/zoo/types.js';
import { applyWeights } from '../../src/weights/index.js';
import { NSFWJS_INFO, readNsfwjsArtifacts, type NsfwjsArch } from '../../src/weights/nsfwjs.js';
import { isGraftError } from '../../src/errors.js';

/** nsfwjs' own model (its topology + weights via TF.js' loader), cut at its pooled features. */
async function nsfwjsPooled(arch: NsfwjsArch): Promise<tf.LayersModel> {
  const art = readNsfwjsArtifacts(arch);
  const ref = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: art.modelTopology, weightSpecs: art.weightSpecs, weightData: art.weightData }));
  return tf.model({ inputs: ref.inputs, outputs: ref.getLayer(NSFWJS_INFO.pooledLayer).output as tf.SymbolicTensor });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

async function samePooledFeatures(spec: ArchitectureSpec, arch: NsfwjsArch, size: number, checkRandomDiffers: boolean) {
  await initTf();
  const opts = { includeTop: false, pooling: 'avg' as const, weights: 'nsfwjs' };
  const model = spec.build({ ...opts, weights: null });
  const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 7); // raw01 input, as nsfwjs feeds
  const before = checkRandomDiffers ? (model.predict(x) as tf.Tensor) : undefined;
  const info = await applyWeights(model, spec, opts);
  assert.match(info.source, /^nsfwjs@\d/);
  assert.match(info.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(info.skipped, []);
  assert.deepEqual(info.dropped, ['dense_1', 'dense_2', 'dense_3']); // nsfwjs' 5-class head, reported
  const ref = await nsfwjsPooled(arch);
  const a = model.predict(x) as tf.Tensor;
  const b = ref.predict(x) as tf.Tensor;
  assert.deepEqual(a.shape, b.shape);
  const diff = maxAbsDiff(a, b);
  assert.ok(diff <= 1e-4, `${arch}: pooled features differ from nsfwjs' own model by ${diff}`);
  assert.ok(tf.max(tf.abs(b)).dataSync()[0] > 0.1, 'reference features are not trivially zero');
  if (before) assert.ok(maxAbsDiff(before, b) > 1e-2, 'random init already matched: the comparison would prove nothing');
  tf.dispose([x, a, b, ...(before ? [before] : [])]);
  model.dispose();
  ref.dispose();
}

test('nsfwjs mobilenet_v2 weights in Graft\'s MobileNetV2 give nsfwjs\' pooled features (224)', async () => {
  await samePooledFeatures(mobilenetV2Spec, 'mobilenet_v2', 224, true);
});

test('nsfwjs inception_v3 weights in Graft\'s InceptionV3 give nsfwjs\' pooled features (299)', async () => {
  await samePooledFeatures(inceptionV3Spec, 'inception_v3', 299, false);
});

test('nsfwjs with includeTop keeps Graft\'s own classifier as initialised and says so', async () => {
  await initTf();
  const opts = { includeTop: true, classes: 3, weights: 'nsfwjs' };
  const model = mobilenetV2Spec.build({ ...opts, weights: null });
  const info = await applyWeights(model, mobilenetV2Spec, opts);
  assert.equal(info.skipped.length, 1);
  assert.match(info.skipped[0], /predictions/);
  model.dispose();
});

test('nsfwjs is refused for other architectures, listing the valid ones', async () => {
  const fake = { ...mobilenetV2Spec, name: 'resnet50' } as ArchitectureSpec;
  await assert.rejects(
    applyWeights(tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] }), fake, { weights: 'nsfwjs' }),
    (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_SOURCE' && /mobilenet_v2/.test(e.message) && /inception_v3/.test(e.message) && /resnet50/.test(e.message),
  );
});
