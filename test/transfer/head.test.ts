import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { addHead, cutModel } from '../../src/transfer/index.js';
import { isGraftError } from '../../src/errors.js';
import { toyInput, toyResidual, toySpec } from './toy.js';

before(async () => {
  await initTf();
});

const code = (c: string) => (e: unknown) => isGraftError(e) && e.code === c;

test('addHead: pooling, hidden layers, dropout, stable names, output shape', () => {
  const base = cutModel(toyResidual(), 'b2', toySpec);
  const m = addHead(base, { classes: 3, hidden: [5, 7], dropout: 0.25 });
  const names = m.layers.map((l) => l.name).filter((n) => n.startsWith('graft_head_'));
  assert.deepEqual(names, [
    'graft_head_pool',
    'graft_head_dense_1',
    'graft_head_dropout_1',
    'graft_head_dense_2',
    'graft_head_dropout_2',
    'graft_head_dropout',
    'graft_head_predictions',
  ]);
  assert.equal(m.getLayer('graft_head_pool').getClassName(), 'GlobalAveragePooling2D');
  assert.equal(m.getLayer('graft_head_dense_2').getWeights()[0].shape.join('x'), '5x7');
  assert.deepEqual(m.outputs[0].shape, [null, 3]);
  const y = m.predict(toyInput()) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 3]);
  // softmax rows sum to 1
  for (const s of (tf.sum(y, 1).arraySync() as number[])) assert.ok(Math.abs(s - 1) < 1e-5);
  assert.equal(m.getLayer('b1_conv1'), base.getLayer('b1_conv1'));
});

test('addHead: flatten / max pooling, no dropout layer at rate 0, 2-D base output', () => {
  const base = cutModel(toyResidual(), 'b2', toySpec); // [null, 4, 4, 6]
  const flat = addHead(base, { classes: 2, pooling: 'flatten', activation: 'linear' });
  assert.equal(flat.getLayer('graft_head_predictions').getWeights()[0].shape[0], 4 * 4 * 6);
  assert.equal(flat.layers.some((l) => l.name.includes('dropout')), false);
  const max = addHead(cutModel(toyResidual(), 'b2', toySpec), { classes: 2, pooling: 'max', activation: 'sigmoid' });
  assert.equal(max.getLayer('graft_head_pool').getClassName(), 'GlobalMaxPooling2D');
  const pooled = addHead(cutModel(toyResidual(), 'pool'), { classes: 2, pooling: 'none' });
  assert.equal(pooled.layers.some((l) => l.name === 'graft_head_pool'), false);
  assert.deepEqual(pooled.outputs[0].shape, [null, 2]);
});

test('addHead: invalid options are GraftErrors that echo the value', () => {
  const base = cutModel(toyResidual(), 'b2', toySpec);
  assert.throws(() => addHead(base, { classes: 1 }), (e: unknown) => code('E_HEAD_CLASSES')(e) && (e as Error).message.includes('classes=1'));
  assert.throws(() => addHead(base, { classes: 2.5 }), code('E_HEAD_CLASSES'));
  assert.throws(() => addHead(base, { classes: 3, dropout: 1 }), code('E_HEAD_DROPOUT'));
  assert.throws(() => addHead(base, { classes: 3, hidden: [0] }), code('E_HEAD_HIDDEN'));
  assert.throws(() => addHead(base, { classes: 3, pooling: 'none' }), code('E_HEAD_POOLING'));
  assert.throws(() => addHead(base, { classes: 3, pooling: 'sum' as 'avg' }), code('E_HEAD_POOLING'));
  assert.throws(() => addHead(base, { classes: 3, activation: 'relu' as 'linear' }), code('E_HEAD_ACTIVATION'));
  const headed = addHead(base, { classes: 3 });
  assert.throws(() => addHead(headed, { classes: 3 }), code('E_HEAD_EXISTS'));
});
