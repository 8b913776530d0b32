import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { cutModel, resolveCut, splitAt, validCutPoints } from '../../src/transfer/index.js';
import { isGraftError } from '../../src/errors.js';
import { maxAbsDiff, perturbBatchNorm, toyInput, toyResidual, toySpec } from './toy.js';

before(async () => {
  await initTf();
});

test('resolveCut: layer name, block name, unknown name lists nearby names', () => {
  const m = toyResidual();
  assert.equal(resolveCut(m, 'b1_relu').layerName, 'b1_relu');
  const byBlock = resolveCut(m, 'b1', toySpec);
  assert.equal(byBlock.layerName, 'b1_add');
  assert.equal(byBlock.block, 'b1');
  assert.deepEqual(byBlock.tensor.shape, [null, 8, 8, 4]);
  assert.throws(
    () => resolveCut(m, 'b1_reluu', toySpec),
    (e: unknown) => isGraftError(e) && e.code === 'E_UNKNOWN_CUT' && e.message.includes('b1_reluu') && e.hint!.includes('b1_relu') && e.hint!.includes('Blocks: stem, b1, b2'),
  );
  // Without a spec, a block name is just an unknown layer.
  assert.throws(() => resolveCut(m, 'b1'), (e: unknown) => isGraftError(e) && e.code === 'E_UNKNOWN_CUT');
});

test('cutModel: drops the head, shares weights', () => {
  const m = toyResidual();
  const cut = cutModel(m, 'b2', toySpec);
  assert.deepEqual(cut.outputs[0].shape, [null, 4, 4, 6]);
  assert.equal(cut.layers.some((l) => l.name === 'predictions'), false);
  assert.equal(cut.getLayer('b1_conv1'), m.getLayer('b1_conv1'));
  assert.throws(() => cutModel(m, 'input'), (e: unknown) => isGraftError(e) && e.code === 'E_CUT_AT_INPUT');
});

test('splitAt: frozen then top equals the whole model, and weights are shared', () => {
  const m = toyResidual();
  perturbBatchNorm(m);
  const x = toyInput();
  for (const at of ['stem', 'b1', 'b2_conv']) {
    const { frozen, top, cut } = splitAt(m, at, toySpec);
    assert.deepEqual(top.inputs[0].shape, cut.tensor.shape);
    const full = m.predict(x) as tf.Tensor;
    const feats = frozen.predict(x) as tf.Tensor;
    const y = top.predict(feats) as tf.Tensor;
    assert.ok(maxAbsDiff(full, y) < 1e-5, `split at ${at}: ${maxAbsDiff(full, y)}`);
    tf.dispose([full, feats, y]);
  }
  // The top's layers are the model's layers: changing a weight through top changes the model.
  const { frozen, top } = splitAt(m, 'b1', toySpec);
  assert.equal(top.getLayer('b2_conv'), m.getLayer('b2_conv'));
  const before = m.predict(x) as tf.Tensor;
  const dense = top.getLayer('predictions');
  dense.setWeights(dense.getWeights().map((w) => tf.mul(w, 3)));
  const after = m.predict(x) as tf.Tensor;
  assert.ok(maxAbsDiff(before, after) > 1e-4, 'model output did not change');
  const viaSplit = top.predict(frozen.predict(x) as tf.Tensor) as tf.Tensor;
  assert.ok(maxAbsDiff(after, viaSplit) < 1e-5);
  // The original model keeps working after its layers were re-used.
  assert.deepEqual(m.outputs[0].shape, [null, 4]);
  assert.ok(validCutPoints(m).includes('b1_add'));
});

test('splitAt: a cut crossed by a skip connection names the edge and the nearest valid cuts', () => {
  const m = toyResidual();
  for (const at of ['b1_relu', 'b1_conv1', 'b1_bn']) {
    assert.throws(
      () => splitAt(m, at, toySpec),
      (e: unknown) =>
        isGraftError(e) && e.code === 'E_CUT_CROSSES_SKIP' && e.message.includes('"b1_add"') && e.message.includes('"stem_relu"') && e.hint!.includes('stem_relu, b1_add'),
    );
  }
  // Without a spec the suggestions are the nearest clean layers.
  assert.throws(() => splitAt(m, 'b1_relu'), (e: unknown) => isGraftError(e) && e.hint!.includes('stem_relu') && e.hint!.includes('b1_add'));
  assert.deepEqual(validCutPoints(m, toySpec), ['stem_relu', 'b1_add', 'b2_relu']);
  assert.throws(() => splitAt(m, 'predictions'), (e: unknown) => isGraftError(e) && e.code === 'E_CUT_AT_OUTPUT');
});
