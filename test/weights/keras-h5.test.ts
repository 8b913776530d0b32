import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Group as H5Group, Dataset as H5Dataset } from 'h5wasm';
import { initTf, tf } from '../../src/engine/tfjs/backend.js';
import { isGraftError } from '../../src/errors.js';
import { loadKerasWeightsByName, readKerasH5, saveModelAsKerasH5, writeKerasH5 } from '../../src/weights/keras-h5.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-h5-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** A tiny net with every weight kind the zoo uses: conv (kernel, bias), BN (4), depthwise, dense. */
function tiny(opts: { convName?: string; denseUnits?: number; extra?: boolean } = {}): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'input_1' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: opts.convName ?? 'conv1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw1' }).apply(x) as tf.SymbolicTensor;
  if (opts.extra) x = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv_extra' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: opts.denseUnits ?? 2, name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny' });
}

/** Give BN non-trivial statistics so a wrong weight order would show in the output. */
function randomise(m: tf.LayersModel) {
  for (const l of m.layers) if (l.weights.length) l.setWeights(l.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', i + 1)));
}

const x = () => tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 3);

test('h5 round trip in Keras layout: write, read back, load by name, same outputs', async () => {
  await initTf();
  const a = tiny();
  randomise(a);
  const file = path.join(tmp, 'tiny.h5');
  await saveModelAsKerasH5(a, file);

  // Keras 2 layout, checked with h5wasm directly.
  await h5wasm.ready;
  const f = new h5wasm.File(file, 'r');
  assert.deepEqual(f.attrs['layer_names'].value, ['input_1', 'conv1', 'bn1', 'dw1', 'gap', 'predictions']);
  assert.equal(f.attrs['backend'].value, 'tensorflow');
  assert.deepEqual((f.get('bn1') as H5Group).attrs['weight_names'].value, ['bn1/gamma:0', 'bn1/beta:0', 'bn1/moving_mean:0', 'bn1/moving_variance:0']);
  assert.deepEqual((f.get('conv1/conv1/kernel:0') as H5Dataset).shape, [3, 3, 3, 4]);
  assert.equal((f.get('dw1/dw1/depthwise_kernel:0') as H5Dataset).dtype, '<f');
  assert.deepEqual((f.get('gap') as H5Group).attrs['weight_names'].shape, [0]); // Keras' empty list
  f.close();

  const w = await readKerasH5(file);
  assert.deepEqual([...w.keys()], ['input_1', 'conv1', 'bn1', 'dw1', 'gap', 'predictions']);
  assert.deepEqual(w.get('conv1')!.map((e) => e.name), ['conv1/kernel:0', 'conv1/bias:0']);
  assert.deepEqual(w.get('gap'), []);

  const b = tiny();
  const r = loadKerasWeightsByName(b, w);
  assert.deepEqual(r.loaded, ['conv1', 'bn1', 'dw1', 'predictions']);
  assert.deepEqual(r.skipped, []);
  const ya = a.predict(x()) as tf.Tensor;
  const yb = b.predict(x()) as tf.Tensor;
  assert.deepEqual(Array.from(ya.dataSync()), Array.from(yb.dataSync()));

  // Same bytes through the Uint8Array entry point.
  const w2 = await readKerasH5(new Uint8Array(fs.readFileSync(file)));
  assert.deepEqual(w2.get('bn1')!.map((e) => Array.from(e.data)), w.get('bn1')!.map((e) => Array.from(e.data)));
});

test('weights map by name suffix within a layer, not by position', async () => {
  await initTf();
  const a = tiny();
  randomise(a);
  const file = path.join(tmp, 'shuffled.h5');
  const layers = a.layers.map((l) => ({
    name: l.name,
    weights: l.weights.map((v) => ({ name: `${l.name}/${v.originalName.split('/').pop()}:0`, shape: v.shape as number[], data: v.read().dataSync() as Float32Array })).reverse(),
  }));
  await writeKerasH5(file, layers);
  const b = tiny();
  loadKerasWeightsByName(b, await readKerasH5(file));
  assert.deepEqual(Array.from((b.predict(x()) as tf.Tensor).dataSync()), Array.from((a.predict(x()) as tf.Tensor).dataSync()));
});

test('every mismatch kind is reported in one error; nothing is written', async () => {
  await initTf();
  const src = tiny({ convName: 'conv_other', denseUnits: 3, extra: false });
  const file = path.join(tmp, 'mismatch.h5');
  await saveModelAsKerasH5(src, file);
  const w = await readKerasH5(file);
  w.get('bn1')!.pop(); // a weight count problem too
  const target = tiny({ extra: true });
  const before = target.getLayer('dw1').getWeights()[0].dataSync().slice();
  let err: unknown;
  try {
    loadKerasWeightsByName(target, w);
  } catch (e) {
    err = e;
  }
  assert.ok(isGraftError(err) && err.code === 'E_WEIGHTS_MISMATCH', String(err));
  const msg = (err as Error).message;
  assert.match(msg, /layer "conv1" \(Conv2D, 2 weights\) is missing from the file/);
  assert.match(msg, /layer "conv_extra" .* is missing from the file/);
  assert.match(msg, /layer "predictions": shape mismatch — kernel: expected \[4, 2\], got \[4, 3\].*bias: expected \[2\], got \[3\]/);
  assert.match(msg, /layer "bn1": model has 4 weights .* file has 3/);
  assert.match(msg, /no layer of that name in the model: conv_other/);
  assert.match(msg, /5 problem\(s\)/);
  assert.deepEqual(Array.from(target.getLayer('dw1').getWeights()[0].dataSync()), Array.from(before), 'all-or-nothing');
});

test('skipMismatch loads what matches and reports the rest (Keras by_name + skip_mismatch)', async () => {
  await initTf();
  const src = tiny({ denseUnits: 3 });
  randomise(src);
  const file = path.join(tmp, 'skip.h5');
  await saveModelAsKerasH5(src, file);
  const target = tiny({ extra: true });
  const r = loadKerasWeightsByName(target, await readKerasH5(file), { skipMismatch: true });
  assert.deepEqual(r.loaded, ['conv1', 'bn1', 'dw1']);
  assert.equal(r.skipped.length, 2);
  assert.match(r.skipped.join('\n'), /conv_extra/);
  assert.match(r.skipped.join('\n'), /predictions.*expected \[4, 2\], got \[4, 3\]/);
  assert.deepEqual(Array.from(target.getLayer('dw1').getWeights()[0].dataSync()), Array.from(src.getLayer('dw1').getWeights()[0].dataSync()));
});

test('Keras 2.0 auto names (conv2d_1, …) load into TF2-numbered layers (conv2d, …) by creation order', async () => {
  await initTf();
  const mk = (names: [string, string]) => {
    const i = tf.input({ shape: [4, 4, 3] });
    const c1 = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: names[0] }).apply(i) as tf.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 5, kernelSize: 1, name: names[1] }).apply(c1) as tf.SymbolicTensor;
    return tf.model({ inputs: i, outputs: c2 });
  };
  const src = mk(['conv2d_1', 'conv2d_2']);
  const file = path.join(tmp, 'auto.h5');
  await saveModelAsKerasH5(src, file);
  const dst = mk(['conv2d', 'conv2d_1']); // conv2d_1 exists on both sides but means different layers
  const r = loadKerasWeightsByName(dst, await readKerasH5(file));
  assert.deepEqual(r.renamed, ['conv2d_1 -> conv2d', 'conv2d_2 -> conv2d_1']);
  const xi = tf.ones([1, 4, 4, 3]);
  assert.deepEqual(Array.from((dst.predict(xi) as tf.Tensor).dataSync()), Array.from((src.predict(xi) as tf.Tensor).dataSync()));
});

test('full-model files (weights under "model_weights") and chunked layer_names are read', async () => {
  await h5wasm.ready;
  const file = path.join(tmp, 'full.h5');
  const f = new h5wasm.File(file, 'w');
  f.create_attribute('model_config', '{"class_name": "Functional"}');
  const mw = f.create_group('model_weights');
  // Long names force Keras' chunked attributes: layer_names0, layer_names1, …
  const names = Array.from({ length: 200 }, (_, i) => `layer_${String(i).padStart(3, '0')}_${'x'.repeat(400)}`);
  mw.create_attribute('layer_names0', names.slice(0, 100), [100], 'A420');
  mw.create_attribute('layer_names1', names.slice(100), [100], 'A420');
  for (const n of names) mw.create_group(n).create_attribute('weight_names', new Float64Array(0), [0]);
  const g = mw.get(names[5]) as H5Group;
  g.delete_attribute('weight_names');
  g.create_attribute('weight_names', [`${names[5]}/bias:0`], [1], 'A420');
  g.create_group(names[5]).create_dataset({ name: 'bias:0', data: new Float64Array([1.5, 2.5]), shape: [2], dtype: '<d' });
  f.close();
  const w = await readKerasH5(file);
  assert.equal(w.size, 200);
  assert.deepEqual([...w.keys()], names);
  assert.deepEqual(Array.from(w.get(names[5])![0].data), [1.5, 2.5]);
  assert.ok(w.get(names[5])![0].data instanceof Float32Array);
});

test('not a Keras file / not HDF5 / missing: clear errors', async () => {
  await h5wasm.ready;
  const file = path.join(tmp, 'plain.h5');
  const f = new h5wasm.File(file, 'w');
  f.create_group('layers');
  f.close();
  await assert.rejects(readKerasH5(file), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_FORMAT' && /layer_names/.test(e.message) && /layers/.test(e.message));
  const junk = path.join(tmp, 'junk.h5');
  fs.writeFileSync(junk, 'not hdf5 at all');
  await assert.rejects(readKerasH5(junk), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_FORMAT');
  await assert.rejects(readKerasH5(path.join(tmp, 'nope.h5')), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_NOT_FOUND');
});

test('in-order loading (Keras\' default for its ImageNet files) ignores names, checks counts and shapes', async () => {
  await initTf();
  const { loadWeightsInOrder } = await import('../../src/weights/by-name.js');
  const src = tiny();
  randomise(src);
  const file = path.join(tmp, 'order.h5');
  await saveModelAsKerasH5(src, file);
  const w = await readKerasH5(file);
  const renamed = new Map([...w].map(([k, v]) => [k === 'predictions' ? 'Logits' : k, v]));
  const dst = tiny();
  assert.throws(() => loadKerasWeightsByName(dst, renamed), /predictions/);
  const r = loadWeightsInOrder(dst, renamed);
  assert.deepEqual(r.renamed, ['Logits -> predictions']);
  assert.deepEqual(Array.from((dst.predict(x()) as tf.Tensor).dataSync()), Array.from((src.predict(x()) as tf.Tensor).dataSync()));
  assert.throws(() => loadWeightsInOrder(tiny({ extra: true }), w), (e: unknown) => isGraftError(e) && /model has 5 layers with weights, the file 4/.test(e.message));
  assert.throws(() => loadWeightsInOrder(tiny({ denseUnits: 3 }), w), (e: unknown) => isGraftError(e) && /expected \[4, 3\], got \[4, 2\]/.test(e.message));
});
