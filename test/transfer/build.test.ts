import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { buildTransferModel, trainableLayerNames } from '../../src/transfer/index.js';
import { isGraftError } from '../../src/errors.js';
import { maxAbsDiff, perturbBatchNorm, toyInput, toyResidual, toySpec } from './toy.js';

before(async () => {
  await initTf();
});

const head = { classes: 3, dropout: 0.1 };

function checkSplit(t: ReturnType<typeof buildTransferModel>, x: tf.Tensor): void {
  const full = t.model.predict(x) as tf.Tensor;
  const viaSplit = t.frozen ? (t.top.predict(t.frozen.predict(x) as tf.Tensor) as tf.Tensor) : (t.top.predict(x) as tf.Tensor);
  assert.ok(maxAbsDiff(full, viaSplit) < 1e-5);
}

test("buildTransferModel freeze 'all': frozen = base up to the cut, top = head only", () => {
  const base = toyResidual();
  perturbBatchNorm(base);
  const t = buildTransferModel({ base, spec: toySpec, cut: 'b2', head, freeze: 'all' });
  assert.equal(t.cutLayer, 'b2_relu');
  assert.equal(t.splitLayer, 'b2_relu');
  assert.deepEqual(t.model.outputs[0].shape, [null, 3]);
  assert.deepEqual(t.top.inputs[0].shape, [null, 4, 4, 6]);
  assert.deepEqual(trainableLayerNames(t.top), ['graft_head_predictions']);
  assert.equal(t.top.getLayer('graft_head_predictions'), t.model.getLayer('graft_head_predictions'));
  assert.deepEqual([t.summary.frozen, t.summary.trainable], [6, 1]);
  assert.equal(t.model.layers.some((l) => l.name === 'predictions'), false); // source head dropped
  checkSplit(t, toyInput());
});

test('buildTransferModel fromBlock / upTo / none', () => {
  const x = toyInput();
  const from = buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b2', head, freeze: { fromBlock: 'b2' } });
  assert.equal(from.splitLayer, 'b1_add');
  assert.deepEqual(trainableLayerNames(from.top), ['b2_conv', 'graft_head_predictions']);
  checkSplit(from, x);
  const upTo = buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b2', head, freeze: { upTo: 'stem' } });
  assert.equal(upTo.splitLayer, 'stem_relu');
  checkSplit(upTo, x);
  const none = buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b2', head, freeze: 'none' });
  assert.equal(none.frozen, null);
  assert.equal(none.top, none.model);
  assert.equal(none.summary.frozen, 0);
});

test('buildTransferModel errors: freezing inside a residual block, unknown policy, unknown cut', () => {
  const code = (c: string) => (e: unknown) => isGraftError(e) && e.code === c;
  assert.throws(
    () => buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b2', head, freeze: { upTo: 'b1_relu' } }),
    (e: unknown) => code('E_FREEZE_NOT_SPLITTABLE')(e) && (e as Error).message.includes('stem_relu'),
  );
  assert.throws(() => buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b2', head, freeze: 'some' as 'all' }), code('E_FREEZE_POLICY'));
  assert.throws(() => buildTransferModel({ base: toyResidual(), spec: toySpec, cut: 'b7', head, freeze: 'all' }), code('E_UNKNOWN_CUT'));
});
