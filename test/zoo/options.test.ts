// Keras-style option validation and the registry's createModel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { isGraftError } from '../../src/errors.js';
import { buildModel, createModel, listModels } from '../../src/zoo/registry.js';

await initTf();

const failsWith = (code: string, ...patterns: RegExp[]) => (e: unknown) => {
  assert.ok(isGraftError(e), `expected GraftError, got ${String(e)}`);
  assert.equal(e.code, code);
  for (const p of patterns) assert.match(e.message + (e.hint ?? ''), p);
  return true;
};

for (const spec of listModels()) {
  const min = spec.minInputSize;
  test(`${spec.name}: inputShape rules (min ${min}, 3 channels, only without top)`, () => {
    assert.throws(
      () => buildModel(spec.name, { includeTop: false, inputShape: [min - 1, 64, 3] }),
      failsWith('E_INPUT_SHAPE', new RegExp(`at least ${min}x${min}`), new RegExp(`Received: input_shape=\\[${min - 1},64,3\\]`)),
    );
    assert.throws(() => buildModel(spec.name, { includeTop: false, inputShape: [96, 96, 1] }), failsWith('E_INPUT_SHAPE', /3 channels/, /\[96,96,1\]/));
    assert.throws(() => buildModel(spec.name, { includeTop: true, inputShape: [96, 96, 3] }), failsWith('E_INPUT_SHAPE', /includeTop/, /\[96,96,3\]/));
  });
}

test('the default input shape is accepted with the top; the minimum without it', () => {
  buildModel('mobilenet_v2', { includeTop: true, inputShape: [224, 224, 3] }).dispose();
  buildModel('inception_v3', { includeTop: false, inputShape: [75, 80, 3] }).dispose();
});

test('pooling and classes are validated', () => {
  assert.throws(
    () => buildModel('resnet50', { includeTop: false, pooling: 'mean' as 'avg' }),
    failsWith('E_BAD_OPTIONS', /'avg', 'max' or null/, /pooling="mean"/),
  );
  assert.throws(() => buildModel('resnet50', { classes: 0 }), failsWith('E_BAD_OPTIONS', /classes=0/));
});

test('createModel without weights returns a random model and no weight info', async () => {
  const r = await createModel('mobilenet_v2', { includeTop: false, inputShape: [32, 32, 3], weights: 'none' });
  try {
    assert.equal(r.spec.name, 'mobilenet_v2');
    assert.equal(r.weights, null);
    assert.equal(r.pretrained, null);
    assert.deepEqual(r.model.outputs[0].shape, [null, 1, 1, 1280]);
  } finally {
    r.model.dispose();
  }
});

test('createModel rejects weight sources an architecture does not have', async () => {
  await assert.rejects(createModel('vgg16', { weights: 'nsfwjs' }), failsWith('E_UNKNOWN_WEIGHTS', /"nsfwjs"/, /imagenet, none/));
  await assert.rejects(createModel('nope', {}), failsWith('E_UNKNOWN_MODEL', /nope/));
});

test('pretrained configs: Keras preprocessing per family, nsfwjs for mobilenet_v2 and inception_v3', () => {
  const expected: Record<string, [string, number]> = {
    vgg16: ['caffe', 224],
    vgg19: ['caffe', 224],
    resnet50: ['caffe', 224],
    resnet101: ['caffe', 224],
    resnet152: ['caffe', 224],
    inception_v3: ['tf', 299],
    mobilenet_v2: ['tf', 224],
    efficientnet_b0: ['none', 224],
  };
  for (const s of listModels()) {
    const c = s.pretrained.imagenet;
    assert.deepEqual([c.preprocess, c.inputSize[0]], expected[s.name], s.name);
    assert.equal(s.defaultPreprocess, c.preprocess);
    assert.deepEqual(c.inputSize, [s.defaultInputShape[0], s.defaultInputShape[1]]);
    assert.equal(c.classifier, 'predictions');
    assert.equal(c.classNames?.length, 1000);
    assert.ok(c.license.length > 0 && Object.isFrozen(c));
  }
  for (const name of ['mobilenet_v2', 'inception_v3']) {
    const c = listModels().find((s) => s.name === name)!.pretrained.nsfwjs;
    assert.equal(c.preprocess, 'raw01');
    assert.deepEqual(c.classNames, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    assert.equal(c.license, 'MIT');
  }
});
