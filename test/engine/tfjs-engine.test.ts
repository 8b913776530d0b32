import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { wasmGradFallbackCount } from '../../src/engine/tfjs/wasm-grads.js';
import { createTfjsEngine } from '../../src/engine/tfjs/engine.js';
import type { EngineOptions, StepBatch } from '../../src/train/engine.js';
import { isGraftError } from '../../src/errors.js';
import { rand } from '../helpers/rand.js';

/** Separable problem: label = [x·v > 0] on random features. */
function features(n: number, d: number, seed: number): StepBatch {
  const x = rand(n * d, seed);
  const v = rand(d, 99);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] * v[j];
    y[i] = s > 0 ? 1 : 0;
  }
  return { x, xShape: [n, d], y };
}

/** Image-like batch [n,6,6,c] whose class shows in the mean of channel `class`. */
function images(n: number, c: number, classes: number, seed: number): StepBatch {
  const x = rand(n * 36 * c, seed);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let p = 0; p < 36; p++) x[(i * 36 + p) * c + y[i]] += 1;
  }
  return { x, xShape: [n, 6, 6, c], y };
}

const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });

function denseHead(d: number, opts: { activation?: 'softmax' | 'linear'; dropout?: number; bn?: 'frozen' | 'trainable' } = {}): tf.LayersModel {
  const input = tf.input({ shape: [d] });
  let h = tf.layers.dense({ units: 12, activation: 'relu', name: 'd1', kernelInitializer: glorot(1) }).apply(input) as tf.SymbolicTensor;
  if (opts.bn) {
    const bn = tf.layers.batchNormalization({ name: 'bn' });
    h = bn.apply(h) as tf.SymbolicTensor;
    if (opts.bn === 'frozen') bn.trainable = false;
  }
  if (opts.dropout) h = tf.layers.dropout({ rate: opts.dropout }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: opts.activation ?? 'softmax', name: 'd2', kernelInitializer: glorot(2) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function convTop(c: number, classes: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, c], filters: 8, kernelSize: 1, useBias: false, kernelInitializer: glorot(3) }),
      tf.layers.batchNormalization({}),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, depthwiseInitializer: glorot(4) }),
      tf.layers.batchNormalization({}),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: glorot(5) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: glorot(6) }),
    ],
  });
}

const adam = (lr = 0.01): EngineOptions => ({ optimizer: { type: 'adam', lr } });
const sgd = (lr = 0.1): EngineOptions => ({ optimizer: { type: 'sgd', lr } });
const weightOf = (m: tf.LayersModel, layer: string, i = 0) => m.getLayer(layer).getWeights()[i].dataSync().slice() as Float32Array;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function train(model: tf.LayersModel, opts: EngineOptions, batch: StepBatch, steps: number, lr: number): Promise<number[]> {
  const engine = await createTfjsEngine(model, opts);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await engine.trainStep(batch, lr)).loss);
  engine.dispose();
  return losses;
}

test('setup: wasm backend', async () => {
  assert.equal(await initTf('wasm'), 'wasm');
});

test('a Dense head learns a separable rule', async () => {
  const model = denseHead(8);
  const batch = features(64, 8, 1);
  const engine = await createTfjsEngine(model, adam(0.02));
  const first = await engine.trainStep(batch, 0.02);
  let last = first;
  for (let i = 0; i < 40; i++) last = await engine.trainStep(batch, 0.02);
  assert.ok(last.loss < first.loss * 0.5, `loss ${first.loss} → ${last.loss}`);
  const ev = await engine.evaluate(batch);
  assert.ok(ev.correct / ev.count >= 0.9, `accuracy ${ev.correct}/${ev.count}`);
  const probs = await engine.predict(batch.x, batch.xShape);
  assert.equal(probs.length, 128);
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(probs[2 * i] + probs[2 * i + 1] - 1) < 1e-5);
  engine.dispose();
  model.dispose();
});

test('a conv top (Conv2D+BN+Depthwise+GAP+Dense) trains on wasm with micro-batches', async () => {
  const model = convTop(3, 3);
  const batch = images(12, 3, 3, 2);
  const losses = await train(model, { ...adam(0.02), microBatch: 5 }, batch, 15, 0.02);
  assert.ok(losses[14] < losses[0] * 0.6, `loss ${losses[0]} → ${losses[14]}`);
  assert.equal(wasmGradFallbackCount(), 0);
  model.dispose();
});

test('a frozen BatchNormalization keeps its statistics and normalises with them', async () => {
  const model = denseHead(8, { bn: 'frozen' });
  const bn = model.getLayer('bn');
  // Non-trivial moving statistics, so batch statistics would give a visibly different output.
  const [gamma, beta] = bn.getWeights();
  bn.setWeights([gamma, beta, tf.fill([12], 0.3), tf.fill([12], 2.5)]);
  const before = bn.getWeights().map((w) => w.dataSync().slice());
  const batch = features(16, 8, 3);
  const engine = await createTfjsEngine(model, sgd(0));
  const inference = await engine.evaluate(batch);
  const training = await engine.trainStep(batch, 0); // lr 0: loss of the training-mode forward
  assert.ok(Math.abs(training.loss - inference.loss) < 1e-6, `training ${training.loss} vs inference ${inference.loss}`);
  const d2 = weightOf(model, 'd2');
  for (let i = 0; i < 5; i++) await engine.trainStep(batch, 0.5);
  bn.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i], `BN weight ${i} changed`));
  assert.ok(maxDiff(weightOf(model, 'd2'), d2) > 1e-4, 'the layers around it trained');
  engine.dispose();
  // The same layer, trainable: moving statistics move; with trainBatchNormStats false they do not.
  bn.trainable = true;
  const e2 = await createTfjsEngine(model, sgd(0.1));
  await e2.trainStep(batch, 0.1);
  assert.notDeepEqual(bn.getWeights()[2].dataSync(), before[2]);
  e2.dispose();
  const stats = bn.getWeights().map((w) => w.dataSync().slice());
  const e3 = await createTfjsEngine(model, { ...sgd(0.1), trainBatchNormStats: false });
  await e3.trainStep(batch, 0.1);
  const after = bn.getWeights();
  assert.deepEqual(after[2].dataSync(), stats[2]);
  assert.deepEqual(after[3].dataSync(), stats[3]);
  assert.notDeepEqual(after[0].dataSync(), stats[0]); // γ still trains
  e3.dispose();
  model.dispose();
});

test('a BatchNormalization inside a frozen nested model stays in inference mode', async () => {
  const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 6, kernelInitializer: glorot(7) }), tf.layers.batchNormalization({})] });
  const outer = tf.sequential({ layers: [inner, tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: glorot(8) })] });
  inner.trainable = false;
  const bn = inner.layers[1];
  const [g, b] = bn.getWeights();
  bn.setWeights([g, b, tf.fill([6], -0.2), tf.fill([6], 3)]);
  const before = bn.getWeights().map((w) => w.dataSync().slice());
  const engine = await createTfjsEngine(outer, adam(0.05));
  for (let i = 0; i < 3; i++) await engine.trainStep(features(16, 8, 4), 0.05);
  bn.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
  engine.dispose();
  outer.dispose();
});

test('parameter groups: multiplier 0 freezes, 0.5 halves the SGD step', async () => {
  const batch = features(16, 8, 5);
  const init = denseHead(8);
  const models = [denseHead(8), denseHead(8), denseHead(8)];
  for (const m of models) m.setWeights(init.getWeights());
  const w0 = { d1: weightOf(init, 'd1'), d2: weightOf(init, 'd2') };
  const [frozen, half, whole] = models;
  await train(frozen, { ...sgd(), groups: [{ name: 'body', layers: ['d1'], lrMultiplier: 0 }] }, batch, 3, 0.1);
  assert.deepEqual(weightOf(frozen, 'd1'), w0.d1);
  assert.ok(maxDiff(weightOf(frozen, 'd2'), w0.d2) > 1e-4);
  await train(half, { ...sgd(), groups: [{ name: 'head', layers: ['d2'], lrMultiplier: 0.5 }] }, batch, 1, 0.1);
  await train(whole, sgd(), batch, 1, 0.1);
  const h = weightOf(half, 'd2');
  const w = weightOf(whole, 'd2');
  for (let i = 0; i < h.length; i++) assert.ok(Math.abs(h[i] - w0.d2[i] - 0.5 * (w[i] - w0.d2[i])) < 1e-6);
  assert.ok(maxDiff(weightOf(half, 'd1'), weightOf(whole, 'd1')) < 1e-6);
  await assert.rejects(createTfjsEngine(half, { ...sgd(), groups: [{ name: 'x', layers: ['nope'], lrMultiplier: 1 }] }), (e) => isGraftError(e) && e.code === 'E_PARAM_GROUP');
  init.dispose();
  for (const m of models) m.dispose();
});

test('micro-batches give the same update as the full batch (SGD, no BN)', async () => {
  const batch = features(12, 8, 6);
  const a = denseHead(8);
  const b = denseHead(8);
  b.setWeights(a.getWeights());
  const la = await train(a, sgd(0.3), batch, 1, 0.3);
  const lb = await train(b, { ...sgd(0.3), microBatch: 5 }, batch, 1, 0.3); // chunks 5, 5, 2
  assert.ok(Math.abs(la[0] - lb[0]) < 1e-5);
  const wa = a.getWeights();
  const wb = b.getWeights();
  wa.forEach((w, i) => assert.ok(maxDiff(w.dataSync() as Float32Array, wb[i].dataSync() as Float32Array) < 1e-5, `weight ${i}`));
  a.dispose();
  b.dispose();
});

test('class weights and label smoothing change the loss as the formulas say', async () => {
  const batch = features(20, 8, 7);
  const model = denseHead(8);
  const plain = await createTfjsEngine(model, sgd(0));
  const p = await plain.predict(batch.x, batch.xShape);
  plain.dispose();
  const nll = Array.from(batch.y, (y, i) => -Math.log(p[2 * i + y]));
  const classWeights = [2, 0.5];
  const weighted = await createTfjsEngine(model, { ...sgd(0), classWeights });
  const got = (await weighted.trainStep(batch, 0)).loss;
  const want = nll.reduce((s, l, i) => s + classWeights[batch.y[i]] * l, 0) / 20;
  assert.ok(Math.abs(got - want) < 1e-5, `weighted loss ${got} vs ${want}`);
  assert.ok(Math.abs((await weighted.evaluate(batch)).loss - nll.reduce((a, b) => a + b) / 20) < 1e-5, 'evaluate ignores class weights');
  weighted.dispose();
  const eps = 0.2;
  const smooth = await createTfjsEngine(model, { ...sgd(0), labelSmoothing: eps });
  const wantSmooth = Array.from(batch.y, (y, i) => -((1 - eps / 2) * Math.log(p[2 * i + y]) + (eps / 2) * Math.log(p[2 * i + 1 - y]))).reduce((a, b) => a + b) / 20;
  assert.ok(Math.abs((await smooth.trainStep(batch, 0)).loss - wantSmooth) < 1e-5);
  smooth.dispose();
  await assert.rejects(createTfjsEngine(model, { ...sgd(), classWeights: [1] }), (e) => isGraftError(e) && e.code === 'E_CLASS_WEIGHTS');
  model.dispose();
});

test('softmax and linear (logit) heads train identically', async () => {
  const batch = features(16, 8, 8);
  const a = denseHead(8, { activation: 'softmax' });
  const b = denseHead(8, { activation: 'linear' });
  b.setWeights(a.getWeights());
  const la = await train(a, adam(), batch, 3, 0.01);
  const lb = await train(b, adam(), batch, 3, 0.01);
  la.forEach((l, i) => assert.ok(Math.abs(l - lb[i]) < 1e-6));
  // The model itself still outputs probabilities after training.
  const out = a.predict(tf.tensor(batch.x, batch.xShape)) as tf.Tensor;
  assert.ok(Math.abs(out.sum(1).dataSync()[0] - 1) < 1e-5);
  out.dispose();
  a.dispose();
  b.dispose();
});

test('AdamW decays kernels, not biases', async () => {
  const batch = features(16, 8, 9);
  const a = denseHead(8);
  const b = denseHead(8);
  b.setWeights(a.getWeights());
  const k0 = weightOf(a, 'd2');
  await train(a, { optimizer: { type: 'adam', lr: 0.01 } }, batch, 1, 0.01);
  await train(b, { optimizer: { type: 'adamw', lr: 0.01, weightDecay: 0.5 } }, batch, 1, 0.01);
  const ka = weightOf(a, 'd2');
  const kb = weightOf(b, 'd2');
  for (let i = 0; i < ka.length; i++) assert.ok(Math.abs(kb[i] - (ka[i] - 0.01 * 0.5 * k0[i])) < 1e-6);
  assert.deepEqual(weightOf(a, 'd2', 1), weightOf(b, 'd2', 1));
  await assert.rejects(createTfjsEngine(a, { optimizer: { type: 'rmsprop' as 'adam', lr: 0.1 } }), (e) => isGraftError(e) && e.code === 'E_OPTIMIZER');
  a.dispose();
  b.dispose();
});

test('no tensor leaks over 20 steps + predict + evaluate; dispose frees optimizer state', async () => {
  const model = convTop(3, 3);
  const batch = images(9, 3, 3, 10);
  const start = tf.memory().numTensors;
  const engine = await createTfjsEngine(model, { optimizer: { type: 'adamw', lr: 0.01 }, microBatch: 4, labelSmoothing: 0.1, classWeights: [1, 2, 1] });
  const base = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) await engine.trainStep(batch, 0.01);
  await engine.predict(batch.x, batch.xShape);
  await engine.evaluate(batch);
  engine.setWeights(engine.getWeights());
  assert.equal(tf.memory().numTensors, base);
  engine.dispose();
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

test('same seed, same result (dropout); another seed differs', async () => {
  const batch = features(16, 8, 11);
  const run = async (seed: number) => {
    const m = denseHead(8, { dropout: 0.5 });
    await train(m, { ...adam(), seed }, batch, 4, 0.01);
    const w = weightOf(m, 'd2');
    m.dispose();
    return w;
  };
  const a = await run(7);
  assert.deepEqual(await run(7), a);
  assert.ok(maxDiff(await run(8), a) > 0);
});

test('getWeights/setWeights restore a snapshot', async () => {
  const model = denseHead(8, { bn: 'trainable' });
  const batch = features(16, 8, 12);
  const engine = await createTfjsEngine(model, adam());
  const snap = engine.getWeights();
  const evalBefore = await engine.evaluate(batch);
  for (let i = 0; i < 3; i++) await engine.trainStep(batch, 0.05);
  assert.notDeepEqual(engine.getWeights(), snap);
  engine.setWeights(snap);
  assert.deepEqual(engine.getWeights(), snap);
  assert.equal((await engine.evaluate(batch)).loss, evalBefore.loss);
  assert.throws(() => engine.setWeights(snap.slice(1)), (e) => isGraftError(e) && e.code === 'E_WEIGHTS_MISMATCH');
  engine.dispose();
  model.dispose();
});
