import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { GraphBuilder, IR_VERSION, onnx, OPSET, valueInfo } from '../../src/engine/onnx/graph.js';
import { exportOnnx, onnxExportCount } from '../../src/engine/onnx/export.js';
import { maxAbsDiff } from '../../src/engine/onnx/verify.js';
import { FrozenBackbone } from '../../src/engine/ort.js';
import { isGraftError } from '../../src/errors.js';
import { preprocess } from '../../src/zoo/preprocess.js';
import { permute } from '../../src/engine/onnx/ops.js';
import { randomInput, randomizeWeights } from './onnx-helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-ort-'));
const ap = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;

function smallNet(): tf.LayersModel {
  const input = tf.input({ shape: [9, 9, 3], name: 'image' });
  const a = ap(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', name: 'stem' }), input);
  const b = ap(tf.layers.batchNormalization({ name: 'stem_bn' }), a);
  const r = ap(tf.layers.reLU({ maxValue: 6, name: 'stem_relu' }), b);
  const c = ap(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }), r);
  const s = ap(tf.layers.add({ name: 'skip' }), [r, c]);
  const g = ap(tf.layers.globalAveragePooling2d({ name: 'pool' }), s);
  const m = tf.model({ inputs: input, outputs: ap(tf.layers.dense({ units: 4, name: 'head' }), g), name: 'small' });
  randomizeWeights(m, 4);
  return m;
}

function tfOut(model: tf.LayersModel, layer: string, x: Float32Array, shape: number[]): Float32Array {
  const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
  return tf.tidy(() => (sub.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

before(async () => {
  await initTf();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('fromLayersModel: NHWC features equal TF.js; second load hits the disk cache', async () => {
  const model = smallNet();
  const cacheDir = path.join(dir, 'cache');
  const n0 = onnxExportCount();
  const bb = await FrozenBackbone.fromLayersModel(model, { cut: 'skip', cacheDir, threads: 1 });
  assert.equal(onnxExportCount(), n0 + 1);
  assert.deepEqual(bb.inputShape, [9, 9, 3]);
  assert.deepEqual(bb.outputShape, [5, 5, 6]);
  const file = path.join(cacheDir, `${bb.hash}.onnx`);
  assert.ok(fs.existsSync(file), 'cache file written');
  assert.equal(bb.file, file);

  // A buffer longer than n images is fine: only the first n are read.
  const x = randomInput([4, 9, 9, 3], 3);
  const y = await bb.run(x, 3);
  const ref = tfOut(model, 'skip', x.subarray(0, 3 * 243), [3, 9, 9, 3]);
  assert.equal(y.length, 3 * 5 * 5 * 6);
  assert.ok(maxAbsDiff(ref, y) <= 1e-4, `diff ${maxAbsDiff(ref, y)}`);
  await assert.rejects(bb.run(x, 5), (e: unknown) => isGraftError(e) && e.code === 'E_BATCH_SHAPE');
  bb.dispose();

  const again = await FrozenBackbone.fromLayersModel(model, { cut: 'skip', cacheDir, threads: 1 });
  assert.equal(onnxExportCount(), n0 + 1, 'no second export');
  assert.equal(again.hash, bb.hash);
  assert.ok(maxAbsDiff(await again.run(x, 3), y) === 0);
  again.dispose();

  // Different weights → different hash → a new export.
  randomizeWeights(model, 99);
  const other = await FrozenBackbone.fromLayersModel(model, { cut: 'skip', cacheDir, threads: 1 });
  assert.notEqual(other.hash, bb.hash);
  assert.equal(onnxExportCount(), n0 + 2);
  other.dispose();
  assert.deepEqual(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
});

test('fromLayersModel: preprocessing inside the graph takes raw RGB 0..255; 2-D output', async () => {
  const model = smallNet();
  const bb = await FrozenBackbone.fromLayersModel(model, { preprocess: 'torch', cacheDir: path.join(dir, 'pre'), threads: 1 });
  assert.deepEqual(bb.outputShape, [4]);
  const raw = randomInput([2, 9, 9, 3], 5, 0, 255);
  const y = await bb.run(raw, 2);
  const ref = tf.tidy(() => (model.predict(tf.tensor(preprocess(raw, 'torch'), [2, 9, 9, 3])) as tf.Tensor).dataSync());
  assert.ok(maxAbsDiff(ref, y) <= 1e-4, `diff ${maxAbsDiff(ref, y)}`);
  bb.dispose();
  await assert.rejects(FrozenBackbone.fromLayersModel(model, { cut: 'stem_rleu', cacheDir: path.join(dir, 'pre') }), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_OUTPUT' && /stem_relu/.test(e.message));
});

test('fromOnnxFile: a Graft-exported file cut at an intermediate node (NCHW inside) returns NHWC', async () => {
  const model = smallNet();
  const file = path.join(dir, 'user.onnx');
  fs.writeFileSync(file, exportOnnx(model));
  const bb = await FrozenBackbone.fromOnnxFile(file, { output: 'stem_relu', threads: 1 });
  assert.deepEqual(bb.inputShape, [9, 9, 3]);
  assert.deepEqual(bb.outputShape, [5, 5, 6]);
  const x = randomInput([2, 9, 9, 3], 8);
  const y = await bb.run(x, 2);
  const ref = tfOut(model, 'stem_relu', x, [2, 9, 9, 3]);
  assert.ok(maxAbsDiff(ref, y) <= 1e-4, `diff ${maxAbsDiff(ref, y)}`);
  bb.dispose();
  await assert.rejects(FrozenBackbone.fromOnnxFile(file, { output: 'nope' }), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_OUTPUT' && /stem_relu/.test(e.message) && /"nope"/.test(e.message));
});

/** A PyTorch-style NCHW graph: images[N,3,6,6] → Conv → Relu (feat) → GlobalAveragePool → Flatten. */
function nchwFile(w: Float32Array): string {
  const g = new GraphBuilder();
  const wn = g.constFloat('w', w, [4, 3, 3, 3]);
  const feat = g.node('Relu', [g.node('Conv', ['images', wn], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv')], {}, 'feat');
  const out = g.node('Flatten', [g.node('GlobalAveragePool', [feat], {}, 'gap')], { axis: 1 }, 'logits');
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: 't', node: g.nodes, initializer: g.initializers, input: [valueInfo('images', ['batch', 3, 6, 6])], output: [valueInfo(out, ['batch', 4])] },
  });
  const file = path.join(dir, 'nchw.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

test('fromOnnxFile: NCHW user model is fed NHWC and its cut feature map comes back NHWC', async () => {
  const w = randomInput([4, 3, 3, 3], 12);
  const file = nchwFile(w);
  const bb = await FrozenBackbone.fromOnnxFile(file, { output: 'feat', threads: 1 });
  assert.deepEqual(bb.inputShape, [6, 6, 3]);
  assert.deepEqual(bb.outputShape, [6, 6, 4]);
  const x = randomInput([2, 6, 6, 3], 13);
  const y = await bb.run(x, 2);
  const kernel = permute(w, [4, 3, 3, 3], [2, 3, 1, 0]); // [out,in,kh,kw] → [kh,kw,in,out]
  assert.throws(() => permute(w, [12, 9], [1, 0]), (e: unknown) => isGraftError(e) && e.code === 'E_PERMUTE_RANK' && /\[12,9\]/.test(e.message));
  const ref = tf.tidy(() => tf.relu(tf.conv2d(tf.tensor4d(x, [2, 6, 6, 3]), tf.tensor4d(kernel, [3, 3, 3, 4]), 1, 'same')).dataSync());
  assert.ok(maxAbsDiff(ref, y) <= 1e-4, `diff ${maxAbsDiff(ref, y)}`);
  // Twice: the staging buffer is reused.
  assert.ok(maxAbsDiff(await bb.run(x, 2), y) === 0);
  bb.dispose();
  const whole = await FrozenBackbone.fromOnnxFile(file, { threads: 1 });
  assert.deepEqual(whole.outputShape, [4]);
  whole.dispose();
});

test('fromOnnxFile: errors for a missing file and an ambiguous layout', async () => {
  await assert.rejects(FrozenBackbone.fromOnnxFile(path.join(dir, 'missing.onnx')), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_READ');
  const g = new GraphBuilder();
  g.node('Relu', ['x'], {}, 'y');
  const proto = onnx.ModelProto.create({ irVersion: IR_VERSION, opsetImport: [{ domain: '', version: OPSET }], graph: { name: 't', node: g.nodes, input: [valueInfo('x', [1, 3, 5, 3])], output: [valueInfo('y', [1, 3, 5, 3])] } });
  const file = path.join(dir, 'amb.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  await assert.rejects(FrozenBackbone.fromOnnxFile(file), (e: unknown) => isGraftError(e) && e.code === 'E_ONNX_LAYOUT');
  const ok = await FrozenBackbone.fromOnnxFile(file, { inputLayout: 'NHWC', threads: 1 });
  assert.deepEqual(ok.inputShape, [3, 5, 3]);
  ok.dispose();
});
