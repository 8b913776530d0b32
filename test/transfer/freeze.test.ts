import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { freeze, setBatchNormInference, trainableLayerNames, unfreezeTopBlocks, cutModel } from '../../src/transfer/index.js';
import { isGraftError } from '../../src/errors.js';
import { maxAbsDiff, perturbBatchNorm, toyInput, toyResidual, toySpec } from './toy.js';

before(async () => {
  await initTf();
});

const code = (c: string) => (e: unknown) => isGraftError(e) && e.code === c;
const WEIGHTED = ['stem_conv', 'stem_bn', 'b1_conv1', 'b1_bn', 'b1_conv2', 'b2_conv', 'predictions'];

test('freeze: all / none / upTo / from, with counts and Keras param totals', () => {
  const m = toyResidual();
  const total = m.countParams();
  let s = freeze(m, { all: true });
  assert.deepEqual([s.frozen, s.trainable], [7, 0]);
  assert.equal(m.trainableWeights.length, 0);
  assert.equal(s.trainableParams + s.nonTrainableParams, total);
  s = freeze(m, { all: false });
  assert.deepEqual([s.frozen, s.trainable], [0, 7]);
  assert.deepEqual(trainableLayerNames(m), WEIGHTED);
  s = freeze(m, { upTo: 'b1', spec: toySpec });
  assert.deepEqual(trainableLayerNames(m), ['b2_conv', 'predictions']);
  assert.deepEqual([s.frozen, s.trainable], [5, 2]);
  assert.equal(s.trainableParams, 3 * 3 * 4 * 6 + 6 + 6 * 4 + 4);
  // A cut inside the residual block freezes what it is computed from, not the shortcut's consumer.
  freeze(m, { upTo: 'b1_relu' });
  assert.deepEqual(trainableLayerNames(m), ['b1_conv2', 'b2_conv', 'predictions']);
  s = freeze(m, { from: 'b1', spec: toySpec });
  assert.deepEqual(trainableLayerNames(m), ['b1_conv1', 'b1_bn', 'b1_conv2', 'b2_conv', 'predictions']);
  freeze(m, { from: 'b2_conv' });
  assert.deepEqual(trainableLayerNames(m), ['b2_conv', 'predictions']);
  assert.throws(() => freeze(m, {}), code('E_FREEZE_OPTIONS'));
  assert.throws(() => freeze(m, { all: true, upTo: 'b1' }), code('E_FREEZE_OPTIONS'));
  assert.throws(() => freeze(m, { upTo: 'b9', spec: toySpec }), code('E_UNKNOWN_CUT'));
});

test('unfreezeTopBlocks: last n blocks and the head train, earlier blocks stay frozen', () => {
  const m = toyResidual();
  unfreezeTopBlocks(m, toySpec, 0);
  assert.deepEqual(trainableLayerNames(m), ['predictions']);
  unfreezeTopBlocks(m, toySpec, 1);
  assert.deepEqual(trainableLayerNames(m), ['b2_conv', 'predictions']);
  const s = unfreezeTopBlocks(m, toySpec, 3);
  assert.deepEqual([s.frozen, s.trainable], [0, 7]);
  assert.throws(() => unfreezeTopBlocks(m, toySpec, 4), code('E_FREEZE_BLOCKS'));
});

test('freeze recurses into a nested base model (Keras `x = base(inputs)` style)', () => {
  const base = cutModel(toyResidual(), 'b2', toySpec);
  const input = tf.input({ shape: [8, 8, 3] });
  let x = base.apply(input) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 2, name: 'head' }).apply(x) as tf.SymbolicTensor;
  const outer = tf.model({ inputs: input, outputs: y });
  let s = freeze(outer, { all: true });
  assert.deepEqual([s.frozen, s.trainable, outer.trainableWeights.length], [7, 0, 0]);
  s = freeze(outer, { upTo: 'b1', spec: toySpec });
  assert.deepEqual(trainableLayerNames(outer), ['b2_conv', 'head']);
  assert.equal(outer.trainableWeights.length, 4);
  freeze(outer, { from: 'b1', spec: toySpec });
  assert.deepEqual(trainableLayerNames(outer), ['b1_conv1', 'b1_bn', 'b1_conv2', 'b2_conv', 'head']);
});

test('trap: layers unfrozen after compile() stay untouched by fit until the model is re-compiled', async () => {
  const input = tf.input({ shape: [3] });
  const h = tf.layers.dense({ units: 4, name: 'd1' }).apply(input) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1, name: 'out' }).apply(h) as tf.SymbolicTensor });
  const x = tf.ones([4, 3]);
  const yt = tf.zeros([4, 1]);
  const d1 = () => Array.from(m.getLayer('d1').getWeights()[0].dataSync());
  const fitOnce = () => m.fit(x, yt, { epochs: 1, batchSize: 4, verbose: 0 });
  const sgd = () => m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  freeze(m, { upTo: 'd1' });
  sgd();
  let w0 = d1();
  await fitOnce();
  assert.deepEqual(d1(), w0);
  freeze(m, { all: false }); // unfreeze without re-compiling: ignored
  await fitOnce();
  assert.deepEqual(d1(), w0, 'TF.js fixed this trap: update the note in freeze.ts');
  sgd();
  await fitOnce();
  assert.notDeepEqual(d1(), w0);
  // Freezing after compile is honoured (TF.js prunes non-trainable variables at each step).
  freeze(m, { upTo: 'd1' });
  w0 = d1();
  await fitOnce();
  assert.deepEqual(d1(), w0);
});

test('frozen BatchNormalization runs in inference mode under training: true; opt-in keeps TF.js behaviour', () => {
  const m = toyResidual();
  perturbBatchNorm(m);
  const x = toyInput(4);
  const bnStats = () => m.getLayer('b1_bn').getWeights().slice(2).map((w) => Array.from(w.dataSync()));
  const inference = m.predict(x) as tf.Tensor;

  freeze(m, { all: true });
  const stats0 = bnStats();
  const trainingMode = m.apply(x, { training: true }) as tf.Tensor;
  assert.ok(maxAbsDiff(inference, trainingMode) < 1e-6, `frozen BN used batch statistics: ${maxAbsDiff(inference, trainingMode)}`);
  assert.deepEqual(bnStats(), stats0);

  // Opt-in: TF.js' own behaviour (batch statistics, moving averages updated) even when frozen.
  freeze(m, { all: true, keepTrainingFrozenBnStats: true });
  const batchMode = m.apply(x, { training: true }) as tf.Tensor;
  assert.ok(maxAbsDiff(inference, batchMode) > 1e-3);
  assert.notDeepEqual(bnStats(), stats0);

  // Trainable BN layers keep training-mode behaviour with the patch on; { all: true } forces inference.
  freeze(m, { all: false });
  assert.ok(maxAbsDiff(inference, m.apply(x, { training: true }) as tf.Tensor) > 1e-3);
  const after = m.predict(x) as tf.Tensor;
  assert.equal(setBatchNormInference(m, true, { all: true }), 2);
  assert.ok(maxAbsDiff(after, m.apply(x, { training: true }) as tf.Tensor) < 1e-6);
  assert.equal(setBatchNormInference(m, false), 0);
});

test('frozen BatchNormalization keeps its moving statistics through fit()', async () => {
  const input = tf.input({ shape: [3] });
  let h = tf.layers.dense({ units: 4, name: 'd1' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1, name: 'out' }).apply(h) as tf.SymbolicTensor });
  const x = tf.randomNormal([8, 3], 2, 1, 'float32', 1);
  const yt = tf.ones([8, 1]);
  const mean = () => Array.from(m.getLayer('bn').getWeights()[2].dataSync());
  for (const keep of [false, true]) {
    freeze(m, { upTo: 'bn', keepTrainingFrozenBnStats: keep });
    m.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const m0 = mean();
    await m.fit(x, yt, { epochs: 1, batchSize: 8, verbose: 0 });
    if (keep) assert.notDeepEqual(mean(), m0, 'TF.js now freezes BN itself: update the note in freeze.ts');
    else assert.deepEqual(mean(), m0);
  }
});
